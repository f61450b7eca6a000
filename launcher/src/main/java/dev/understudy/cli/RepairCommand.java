package dev.understudy.cli;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.verify.Repairer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code understudy repair}: re-captures diverged keys from the legacy database through the running
 * pipeline (see {@link Repairer}); a following {@code understudy verify} shows whether they are fixed.
 */
@Command(name = "repair", mixinStandardHelpOptions = true,
        description = "Put diverged keys right through the running pipeline: re-capture them from the legacy database (an incremental"
                + " snapshot of just those rows), delete target-only rows; by default the differences of the newest verify run.")
final class RepairCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Properties file with the pipeline settings (see README, Configuration).")
    Path config;

    @Option(names = "--spec", required = true, description = "The migration spec the pipeline runs.")
    Path spec;

    @Option(names = "--from-verify", description = "A verify run id whose differences to repair (default: the newest finished run).")
    String runId;

    @Option(names = "--table", description = "Target table of the keys given with --key; alone, re-capture every row of the table.")
    String table;

    @Option(names = "--key", description = "A key to re-capture, as JSON in the form verify prints, e.g. {\"id\":42}; repeatable; with --table.")
    List<String> keys;

    @Option(names = "--delete-key", description = "A key only the target has, to delete, as JSON; repeatable; with --table.")
    List<String> deleteKeys;

    @Override
    public Integer call() throws Exception {
        PipelineConfig cfg = PipelineConfig.load(config);
        MigrationSpec loaded = MigrationSpec.load(spec);
        Map<String, Repairer.Keys> work;
        if (table != null || keys != null || deleteKeys != null) {
            if (table == null) {
                throw new IllegalArgumentException("--key and --delete-key need --table, the target table the keys belong to");
            }
            work = new LinkedHashMap<>();
            work.put(table, keys == null && deleteKeys == null ? Repairer.Keys.everyRow()
                    : new Repairer.Keys(keys == null ? List.of() : new ArrayList<>(keys), deleteKeys == null ? List.of() : new ArrayList<>(deleteKeys)));
        } else {
            String run = runId != null ? runId : Repairer.newestVerifyRun(cfg);
            if (run == null) {
                throw new IllegalStateException("Pipeline '" + cfg.get(PipelineConfig.PIPELINE_NAME) + "' has no finished verify run to repair from;"
                        + " run understudy verify first, or name keys with --table and --key");
            }
            work = Repairer.fromVerify(cfg, run);
            System.out.println("Repairing the differences of verify run " + run);
        }
        if (work.values().stream().allMatch(k -> !k.wholeTable() && k.recapture().isEmpty() && k.delete().isEmpty())) {
            System.out.println("Nothing to repair.");
            return 0;
        }
        for (Repairer.Outcome o : new Repairer(cfg, loaded.mappings()).repair(work)) {
            System.out.printf("  %s: %,d key(s) re-captured from the legacy database%s, %,d target-only row(s) deleted%n", o.table(),
                    o.recaptured(), o.signalId() == null ? "" : " (incremental snapshot signal " + o.signalId() + ")", o.deleted());
        }
        System.out.println("The rows flow through the running pipeline; run understudy verify to see them fixed.");
        return 0;
    }
}

package dev.understudy.cli;

import dev.understudy.cutover.CutoverGate;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.TableMapping;
import dev.understudy.transform.spec.MigrationSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/** {@code understudy cutover status}: may reads be cut over now? READY or NOT READY with every reason. */
@Command(name = "cutover", mixinStandardHelpOptions = true, subcommands = CutoverCommand.Status.class,
        description = "The evidence-based cutover gate.")
final class CutoverCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    @Command(name = "status", mixinStandardHelpOptions = true,
            description = "READY only when drift has been zero for the window, end-to-end lag is under the threshold and a verify at or after"
                    + " the given LSN is clean; otherwise every blocking reason. Exit 0 when READY, 1 otherwise; the decision and its"
                    + " evidence go to <name>.cutover.")
    static final class Status implements Callable<Integer> {
        @Option(names = "--config", required = true, description = "Properties file with the pipeline settings (see README, Configuration).")
        Path config;

        @Option(names = "--spec", required = true, description = "The migration spec the pipeline runs (YAML, see docs/spec-format.md).")
        Path spec;

        @Option(names = "--drift-window", description = "Seconds drift must have been zero (default: cutover.drift.window.ms).")
        Long driftWindowSeconds;

        @Option(names = "--max-lag-ms", description = "Most end-to-end lag accepted, ms (default: cutover.max.lag.ms).")
        Long maxLagMs;

        @Option(names = "--verify-since-lsn", defaultValue = "0/0",
                description = "The verify must have read the legacy database at or after this WAL position, e.g. 0/3A2B1C8 (default: any).")
        String verifySinceLsn;

        @Override
        public Integer call() throws Exception {
            PipelineConfig cfg = PipelineConfig.load(config);
            List<? extends TableMapping> mappings = MigrationSpec.load(spec).mappings();
            Duration window = driftWindowSeconds != null ? Duration.ofSeconds(driftWindowSeconds)
                    : Duration.ofMillis(cfg.get(PipelineConfig.CUTOVER_DRIFT_WINDOW_MS));
            Duration lag = Duration.ofMillis(maxLagMs != null ? maxLagMs : cfg.get(PipelineConfig.CUTOVER_MAX_LAG_MS));
            CutoverGate.Decision d = new CutoverGate(cfg, mappings, window, lag, parseLsn(verifySinceLsn)).decide();
            System.out.print(d.describe(Topics.cutover(cfg.get(PipelineConfig.PIPELINE_NAME))));
            return d.ready() ? 0 : 1;
        }
    }

    /** {@code X/Y} hexadecimal, as PostgreSQL writes an LSN. */
    static long parseLsn(String text) {
        String[] parts = text.trim().split("/");
        if (parts.length != 2) {
            throw new IllegalArgumentException("--verify-since-lsn must be an LSN like 0/3A2B1C8, was '" + text + "'");
        }
        return (Long.parseLong(parts[0], 16) << 32) | Long.parseLong(parts[1], 16);
    }
}

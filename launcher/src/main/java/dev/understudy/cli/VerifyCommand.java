package dev.understudy.cli;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.verify.TableReport;
import dev.understudy.verify.Verifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.Callable;

/**
 * {@code understudy verify}: compares the whole target with the legacy database through the spec,
 * consistent at one legacy snapshot, and reports plain counts with sample keys (see {@link Verifier}).
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Compare every target row with the row the spec computes from the legacy database, chunk by chunk of primary key;"
                + " exit 0 when clean, 1 when rows differ.")
final class VerifyCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Properties file with the pipeline settings (see README, Configuration).")
    Path config;

    @Option(names = "--spec", required = true, description = "The migration spec the pipeline runs (YAML, see docs/spec-format.md).")
    Path spec;

    @Option(names = "--chunk-rows", defaultValue = "10000", description = "Target rows per chunk (default: ${DEFAULT-VALUE}).")
    int chunkRows;

    @Option(names = "--samples", defaultValue = "5", description = "Sample keys shown per kind of difference (default: ${DEFAULT-VALUE}).")
    int samples;

    @Option(names = "--no-wait", description = "Compare as is, without waiting for the pipeline to apply the legacy snapshot's changes"
            + " (for a stopped pipeline); differences may then be changes in flight.")
    boolean noWait;

    @Option(names = "--timeout", defaultValue = "300", description = "Seconds to wait for the pipeline to catch up with a snapshot (default: ${DEFAULT-VALUE}).")
    long timeoutSeconds;

    @Option(names = "--resume", description = "Continue the newest unfinished verify of this pipeline after its last finished chunk.")
    boolean resume;

    @Option(names = "--max-chunks", defaultValue = "0", description = "Stop after this many chunks; --resume continues (default: no limit).")
    long maxChunks;

    @Override
    public Integer call() throws Exception {
        if (chunkRows < 1) {
            throw new IllegalArgumentException("--chunk-rows must be at least 1, was " + chunkRows);
        }
        PipelineConfig cfg = PipelineConfig.load(config);
        // A spec with problems throws SpecException, listing every problem with its file and line (Main prints it).
        MigrationSpec loaded = MigrationSpec.load(spec);
        Verifier.Report report = new Verifier(cfg, loaded.migration(), loaded.mappings(),
                new Verifier.Options(chunkRows, samples, !noWait, Duration.ofSeconds(timeoutSeconds), resume, maxChunks), System.out).run();
        System.out.println();
        if (!report.complete()) {
            System.out.println("Verify " + report.runId() + " stopped after " + maxChunks + " chunk(s), unfinished; run it again with --resume to continue.");
            return 1;
        }
        System.out.println("Verify " + report.runId() + " (" + loaded.migration() + "), " + report.millis() / 1000.0 + " s:");
        for (TableReport t : report.tables()) {
            System.out.println("  " + t.summary());
            System.out.printf("    legacy snapshot at LSN %s; %,d chunks, %,d of them differed; %,.0f rows/s%n",
                    lsn(t.snapshotLsn()), t.chunks(), t.chunksDiffering(),
                    t.rowsPerSecond());
            print("mismatched", t.samples().mismatched());
            print("missing in target", t.samples().missing());
            print("extra in target", t.samples().extra());
        }
        System.out.println("Result published to " + Topics.verify(cfg.get(PipelineConfig.PIPELINE_NAME)) + ": "
                + (report.clean() ? "CLEAN" : "DIFFERENT"));
        return report.clean() ? 0 : 1;
    }

    private static void print(String kind, List<String> keys) {
        if (!keys.isEmpty()) {
            System.out.println("    sample " + kind + ": " + String.join(", ", keys));
        }
    }

    private static String lsn(long lsn) {
        return Long.toHexString(lsn >>> 32).toUpperCase() + "/" + Long.toHexString(lsn & 0xFFFFFFFFL).toUpperCase();
    }
}

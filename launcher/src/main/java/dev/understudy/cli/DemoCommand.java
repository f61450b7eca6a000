package dev.understudy.cli;

import dev.understudy.pipeline.LagProbe;
import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.pipeline.UsersChecksum;
import dev.understudy.pipeline.UsersWorkload;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.stack.FileTrees;
import dev.understudy.transform.Migrations;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * The whole path on the embedded stack: a legacy users table of 50,000 rows, the pipeline, a
 * concurrent random workload, then a wait for zero drift and an independent SQL comparison of the
 * expected and actual tables. Exit code 0 only when they match.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Migrate a legacy users table into the new schema on the embedded stack under a live workload, and prove the copy matches.")
final class DemoCommand implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "50000", description = "Rows in the legacy table before the pipeline starts (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--workload-seconds", defaultValue = "20", description = "Seconds of concurrent inserts, updates and deletes (default: ${DEFAULT-VALUE}).")
    int workloadSeconds;

    @Option(names = "--rate", defaultValue = "1000", description = "Workload statements per second (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--timeout", defaultValue = "90", description = "Seconds to wait for zero drift after the workload stops (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--timezone", defaultValue = "America/Sao_Paulo", description = "PostgreSQL server time zone (default: ${DEFAULT-VALUE}).")
    String timeZone;

    @Override
    public Integer call() throws Exception {
        long started = System.nanoTime();
        Path work = Home.dir().resolve("demo");
        System.out.println("Starting the embedded stack in " + work + " ...");
        Path stateDir = work.resolve("streams");
        FileTrees.deleteRecursively(stateDir);
        try {
            return runDemo(started, work, stateDir);
        } finally {
            // Stores are rebuilt from scratch at every demo; nothing of this run is kept.
            FileTrees.deleteRecursively(stateDir);
        }
    }

    private int runDemo(long started, Path work, Path stateDir) throws Exception {
        try (EmbeddedStack stack = EmbeddedStack.start(work, timeZone)) {
            System.out.printf("Stack up in %.1f s: legacy %s, target %s, Kafka %s, registry %s%n", (System.nanoTime() - started) / 1e9,
                    stack.legacy().jdbcUrl(), stack.target().jdbcUrl(), stack.kafka().bootstrapServers(), stack.registry().url());
            try (Connection legacy = stack.legacy().connect()) {
                UsersWorkload.createAndFill(legacy, rows);
            }
            System.out.printf("Legacy table public.users created with %,d rows.%n", rows);

            Map<String, String> settings = new HashMap<>(stack.connectionSettings());
            settings.put(PipelineConfig.STATE_DIR.name(), stateDir.toString());
            PipelineConfig config = PipelineConfig.parse(settings, "the embedded stack");
            Map<String, String> s = stack.connectionSettings();

            long pipelineStart = System.nanoTime();
            try (Pipeline pipeline = new Pipeline(config, Migrations.defaultMappings()).start();
                 LagProbe probe = new LagProbe(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"),
                         s.get("target.jdbc.url"), s.get("target.user"), s.get("target.password"), 250)) {
                StatusLine status = new StatusLine(pipeline, rows);
                System.out.printf("Pipeline started; running the workload for %d s at about %,d statements/s.%n", workloadSeconds, rate);
                UsersWorkload workload = new UsersWorkload(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"), rate).start(2);
                probe.start();
                long workloadEnd = System.nanoTime() + workloadSeconds * 1_000_000_000L;
                while (System.nanoTime() < workloadEnd) {
                    Thread.sleep(2000);
                    failIfStopped(pipeline);
                    System.out.println(status.next(String.format("workload %,d changes | e2e lag %s", workload.changes(), probe.lastLatency())));
                }
                workload.close();
                probe.stopWriting();
                System.out.printf("Workload stopped: %,d inserts, %,d updates, %,d deletes, %,d primary-key changes in %,d transactions.%n",
                        workload.inserts(), workload.updates(), workload.deletes(), workload.keyChanges(), workload.transactions());

                long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
                UsersChecksum.Summary expected;
                UsersChecksum.Summary actual;
                long lastPrint = 0;
                while (true) {
                    failIfStopped(pipeline);
                    try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
                        expected = UsersChecksum.expected(l);
                        actual = UsersChecksum.actual(t);
                    }
                    boolean driftZero = pipeline.drift().totalOpen() == 0 && pipeline.drift().totalPending() == 0
                            && pipeline.drift().oldestReportMs() > 0;
                    if (expected.equals(actual) && driftZero) {
                        break;
                    }
                    if (System.nanoTime() > deadline) {
                        System.out.println(status.next("still converging"));
                        System.out.printf("FAILED: no convergence within %d s: expected %,d rows (%s), target %,d rows (%s), drift %,d open / %,d pending.%n",
                                timeoutSeconds, expected.rows(), expected.checksum(), actual.rows(), actual.checksum(),
                                pipeline.drift().totalOpen(), pipeline.drift().totalPending());
                        return 1;
                    }
                    if (System.nanoTime() - lastPrint > 2_000_000_000L) {
                        System.out.println(status.next("catching up"));
                        lastPrint = System.nanoTime();
                    }
                    Thread.sleep(250);
                }
                double convergedSeconds = (System.nanoTime() - pipelineStart) / 1e9;
                System.out.println(status.next("converged"));
                long applied = pipeline.writer().metrics().rowsApplied();
                System.out.println();
                System.out.println("Summary");
                System.out.printf("  expected (SQL on legacy):  %,d rows, checksum %s%n", expected.rows(), expected.checksum());
                System.out.printf("  actual   (SQL on target):  %,d rows, checksum %s%n", actual.rows(), actual.checksum());
                System.out.printf("  match:                     %s%n", expected.equals(actual) ? "YES" : "NO");
                System.out.printf("  drift:                     %,d open divergences%n", pipeline.drift().totalOpen());
                System.out.printf("  writer:                    %,d rows applied in %.1f s since pipeline start (%,.0f rows/s average)%n",
                        applied, convergedSeconds, applied / convergedSeconds);
                // Changes committed during the initial snapshot are streamed only once it completes, so
                // their lag includes the snapshot's duration; the two phases are reported apart.
                long snapshotDone = pipeline.legacyCapture().metrics().snapshotCompletedAtMs();
                System.out.println("  end-to-end lag, legacy commit -> row visible in target (probe rows every 250 ms):");
                printLag(probe, "while the snapshot ran", Long.MIN_VALUE, snapshotDone);
                printLag(probe, "after the snapshot", snapshotDone, Long.MAX_VALUE);
                System.out.printf("  JVM peak heap %,d MiB, peak resident set %s%n", peakHeapMiB(), peakRss());
                System.out.printf("  total time %.1f s%n", (System.nanoTime() - started) / 1e9);
                return expected.equals(actual) ? 0 : 1;
            }
        }
    }

    private static void printLag(LagProbe probe, String phase, long fromMs, long toMs) {
        int n = probe.samples(fromMs, toMs);
        if (n == 0) {
            System.out.printf("    %-24s no probes%n", phase + ":");
            return;
        }
        System.out.printf("    %-24s %3d probes, p50 %,6.0f ms, p99 %,6.0f ms, max %,6.0f ms%n", phase + ":", n,
                probe.percentileMs(50, fromMs, toMs), probe.percentileMs(99, fromMs, toMs), probe.percentileMs(100, fromMs, toMs));
    }

    private static void failIfStopped(Pipeline pipeline) {
        Throwable failure = pipeline.failure();
        if (failure != null) {
            throw new IllegalStateException("A pipeline stage failed: " + failure.getMessage(), failure);
        }
    }

    static long peakHeapMiB() {
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        return peak / (1024 * 1024);
    }

    /** VmHWM from /proc/self/status: the peak resident set size of this JVM process (Linux). */
    static String peakRss() {
        try {
            for (String line : Files.readAllLines(Path.of("/proc/self/status"))) {
                if (line.startsWith("VmHWM:")) {
                    long kb = Long.parseLong(line.replaceAll("[^0-9]", ""));
                    return String.format("%,d MiB", kb / 1024);
                }
            }
        } catch (Exception e) {
            // not Linux
        }
        return "n/a";
    }
}

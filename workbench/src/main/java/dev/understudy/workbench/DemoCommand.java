package dev.understudy.workbench;

import dev.understudy.cli.StatusLine;
import dev.understudy.cutover.CutoverGate;
import dev.understudy.pipeline.BackfillProgress;
import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.stack.FileTrees;
import dev.understudy.testkit.LagProbe;
import dev.understudy.testkit.ProjectionCheck;
import dev.understudy.testkit.PurchaseOrdersWorkload;
import dev.understudy.testkit.RegressionReader;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.verify.TableReport;
import dev.understudy.verify.Verifier;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.URL;
import java.nio.file.FileSystem;
import java.nio.file.FileSystemAlreadyExistsException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.stream.Stream;

/**
 * The reference case end to end on the embedded stack (examples/purchase-orders): legacy customers
 * and purchase orders, the read model purchase_order_view built by spec v1 under a live workload
 * until drift is zero and the target equals a SQL join on the legacy database; then spec v2 applied
 * while the workload keeps writing (the pipeline restarts on the new spec, the new generation
 * backfills customer_country), and again zero drift and equality with the join, country included.
 * Exit code 0 only when both checks pass.
 */
@Command(name = "demo", mixinStandardHelpOptions = true,
        description = "Build the purchase-order read model (examples/purchase-orders) on the embedded stack under a live workload, "
                + "apply its v2 with a backfill while the workload keeps writing, and prove both versions match a SQL join.")
final class DemoCommand implements Callable<Integer> {
    /** Where the example is packaged in the workbench jar (see workbench/pom.xml). */
    static final String EXAMPLE_RESOURCE = "examples/purchase-orders";
    private static final long TWO_SECONDS = 2_000_000_000L;

    @Option(names = "--customers", defaultValue = "5000", description = "Legacy customers before the pipeline starts (default: ${DEFAULT-VALUE}).")
    int customers;

    @Option(names = "--orders", defaultValue = "50000", description = "Legacy purchase orders before the pipeline starts (default: ${DEFAULT-VALUE}).")
    int orders;

    @Option(names = "--workload-seconds", defaultValue = "20",
            description = "Seconds of concurrent writes under v1; under v2 the workload runs until the backfill is complete (default: ${DEFAULT-VALUE}).")
    int workloadSeconds;

    @Option(names = "--rate", defaultValue = "500", description = "Workload statements per second (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--timeout", defaultValue = "180",
            description = "Seconds to wait for each of: zero drift after a workload stops, and the v2 backfill (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--timezone", defaultValue = "America/Sao_Paulo", description = "PostgreSQL server time zone (default: ${DEFAULT-VALUE}).")
    String timeZone;

    /** The demo's drift window for the cutover gate: long enough to mean something, short enough to wait for. */
    static final Duration CUTOVER_WINDOW = Duration.ofSeconds(10);

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
            Path example = extractExample(work.resolve("example"));
            // Both specs are loaded (and validated) before anything runs: a broken v2 fails here, not midway.
            MigrationSpec v1 = MigrationSpec.load(example.resolve("v1_purchase_order_view.yaml"));
            MigrationSpec v2 = MigrationSpec.load(example.resolve("v2_add_customer_country.yaml"));
            try (Connection legacy = stack.legacy().connect()) {
                PurchaseOrdersWorkload.createAndFill(legacy, Files.readString(example.resolve("legacy.sql")), customers, orders);
            }
            System.out.printf("Legacy tables public.customers (%,d rows) and public.purchase_orders (%,d rows) created from %s.%n",
                    customers, orders, example.resolve("legacy.sql"));

            Map<String, String> s = new HashMap<>(stack.connectionSettings());
            s.put(TransformConfig.STATE_DIR.name(), stateDir.toString());
            s.put(PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + example.resolve("flyway"));
            PipelineConfig config = PipelineConfig.parse(s, "the embedded stack");
            Workloads workloads = new Workloads(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"), rate);

            try (LagProbe probe = new LagProbe(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"),
                    s.get("target.jdbc.url"), s.get("target.user"), s.get("target.password"), 250)) {
                Phase1 first = runV1(stack, config, v1, workloads, probe);
                if (first == null) {
                    return 1;
                }
                Phase2 second = runV2(stack, config, first.pipeline, v2, workloads, probe);
                if (second == null) {
                    return 1;
                }
                printSummary(started, first, second, probe);
                return first.check.matches() && second.check.matches() ? 0 : 1;
            }
        }
    }

    /** What the v1 phase measured; its pipeline is still running and is closed by the v2 phase. */
    private record Phase1(Pipeline pipeline, ProjectionCheck.Result check, double convergedSeconds, double zeroDriftSeconds,
                          long rowsApplied, String workload, long snapshotDoneMs, long probesFromMs, long probesToMs) {
    }

    private record Phase2(ProjectionCheck.Result check, long generation, double closeSeconds, double startSeconds, double backfillSeconds,
                          long backfillChanges, String backfillLine, double zeroDriftSeconds, double convergedSeconds,
                          long rowsApplied, String workload, long probesFromMs, long probesToMs, String readerSummary,
                          long maxOpen, long maxPending) {
    }

    private Phase1 runV1(EmbeddedStack stack, PipelineConfig config, MigrationSpec v1, Workloads workloads, LagProbe probe) throws Exception {
        System.out.println();
        System.out.printf("== v1 (%s): initial load under a live workload ==%n", v1.migration());
        long pipelineStart = System.nanoTime();
        Pipeline pipeline = new Pipeline(config, v1).start();
        boolean handedOver = false;
        PurchaseOrdersWorkload workload = null;
        try {
            StatusLine status = new StatusLine(pipeline, customers + (long) orders);
            System.out.printf("Pipeline started as generation %d (target at Flyway version %s); running the workload for %d s at about %,d statements/s.%n",
                    pipeline.generation().number(), v1.flyway(), workloadSeconds, rate);
            long probesFrom = System.currentTimeMillis();
            probe.startWriting();
            workload = workloads.start();
            long workloadEnd = System.nanoTime() + workloadSeconds * 1_000_000_000L;
            while (System.nanoTime() < workloadEnd) {
                Thread.sleep(2000);
                failIfStopped(pipeline, workload);
                System.out.println(status.next(String.format("workload %,d changes | e2e lag %s", workload.changes(), probe.lastLatency())));
            }
            workload.close();
            probe.stopWriting();
            long probesTo = System.currentTimeMillis();
            System.out.println("Workload stopped: " + workload.describe() + ".");

            long stopped = System.nanoTime();
            ProjectionCheck.Result check = awaitConvergence(stack, pipeline, false, status, null);
            if (check == null) {
                return null;
            }
            double zeroDrift = (System.nanoTime() - stopped) / 1e9;
            double converged = (System.nanoTime() - pipelineStart) / 1e9;
            System.out.println(status.next("converged"));
            System.out.printf("v1 converged %.1f s after the pipeline started (%.1f s after the workload stopped): drift 0.%n", converged, zeroDrift);
            System.out.println("  check v1 (SQL join on legacy vs purchase_order_view): " + check.counts() + " -> MATCH");
            handedOver = true;
            return new Phase1(pipeline, check, converged, zeroDrift, pipeline.writer().metrics().rowsApplied(), workload.describe(),
                    pipeline.legacyCapture().metrics().snapshotCompletedAtMs(), probesFrom, probesTo);
        } finally {
            probe.stopWriting();
            if (workload != null) {
                workload.close();
            }
            if (!handedOver) {
                pipeline.close();
            }
        }
    }

    private Phase2 runV2(EmbeddedStack stack, PipelineConfig config, Pipeline v1Pipeline, MigrationSpec v2, Workloads workloads,
                         LagProbe probe) throws Exception {
        System.out.println();
        System.out.printf("== applying v2 (%s) while the workload keeps running ==%n", v2.migration());
        long probesFrom = System.currentTimeMillis();
        probe.startWriting();
        PurchaseOrdersWorkload workload = workloads.start();
        RegressionReader reader = null;
        try {
            System.out.printf("Workload restarted at about %,d statements/s; v1 keeps serving for 2 s ...%n", rate);
            Thread.sleep(2000);
            failIfStopped(v1Pipeline, workload);
            // From the rows v1 serves until v2's backfill is complete: the workload only raises totals and
            // never reuses an order number, so a lower total or a returning order is a row shown older.
            reader = new RegressionReader(stack.target().jdbcUrl(), stack.target().user(), stack.target().password(),
                    "public.purchase_order_view", "order_number", "total_cents").start(250);
            long closing = System.nanoTime();
            v1Pipeline.close();
            double closeSeconds = (System.nanoTime() - closing) / 1e9;
            long starting = System.nanoTime();
            try (Pipeline pipeline = new Pipeline(config, v2).start()) {
                double startSeconds = (System.nanoTime() - starting) / 1e9;
                long generation = pipeline.generation().number();
                System.out.printf("v1 pipeline closed in %.1f s; v2 started in %.1f s as generation %d: target migrated to Flyway version %s "
                        + "(customer_country added), the migration re-reads the legacy topics and its rows replace generation %d's.%n",
                        closeSeconds, startSeconds, generation, v2.flyway(), generation - 1);
                StatusLine status = new StatusLine(pipeline, 0);
                BackfillProgress backfill = pipeline.backfill();
                long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
                long lastPrint = System.nanoTime();
                long stopped;
                long probesTo = 0;
                String stopNote = "after the backfill completed";
                long maxOpen = 0;
                long maxPending = 0;
                while (!backfill.complete()) {
                    failIfStopped(pipeline, workload);
                    maxOpen = Math.max(maxOpen, pipeline.drift().totalOpen());
                    maxPending = Math.max(maxPending, pipeline.drift().totalPending());
                    if (System.nanoTime() > deadline) {
                        System.out.printf("FAILED: the backfill did not complete within %d s: %s%n", timeoutSeconds, backfill.describe());
                        return null;
                    }
                    if (System.nanoTime() - lastPrint >= TWO_SECONDS) {
                        lastPrint = System.nanoTime();
                        System.out.printf("[%5.1fs] %s | workload %,d changes | e2e lag %s%n", (lastPrint - starting) / 1e9,
                                backfill.describe(), workload.changes(), probe.lastLatency());
                    }
                    Thread.sleep(250);
                }
                double backfillSeconds = (System.nanoTime() - starting) / 1e9;
                String backfillLine = backfill.describe();
                System.out.printf("[%5.1fs] %s%n", backfillSeconds, backfillLine);
                reader.close();
                System.out.printf("During the backfill: readers of the target saw %s; drift at most %,d open, %,d pending.%n",
                        reader.summary(), maxOpen, maxPending);
                workload.close();
                probe.stopWriting();
                probesTo = System.currentTimeMillis();
                stopped = System.nanoTime();
                System.out.println("Backfill complete; workload stopped: " + workload.describe() + ".");

                ProjectionCheck.Result check = awaitConvergence(stack, pipeline, true, status, "v2");
                if (check == null) {
                    return null;
                }
                double zeroDrift = (System.nanoTime() - stopped) / 1e9;
                double converged = (System.nanoTime() - starting) / 1e9;
                System.out.println(status.next("converged"));
                System.out.printf("v2 converged %.1f s after it was applied (%.1f s after the workload stopped): drift 0.%n", converged, zeroDrift);
                System.out.println("  check v2 (SQL join on legacy incl. country vs purchase_order_view): " + check.counts() + " -> MATCH");
                if (!cutover(stack, config, pipeline, v2)) {
                    return null;
                }
                return new Phase2(check, generation, closeSeconds, startSeconds, backfillSeconds, backfill.total(), backfillLine, zeroDrift,
                        converged, pipeline.writer().metrics().rowsApplied(), workload.describe() + ", stopped " + stopNote, probesFrom, probesTo,
                        reader.summary(), maxOpen, maxPending);
            }
        } finally {
            workload.close();
            probe.stopWriting();
            if (reader != null) {
                reader.close();
            }
        }
    }

    /**
     * The cutover gate on the converged v2 pipeline: NOT READY before any verify; READY once a verify is
     * clean and drift has been zero for the window; NOT READY again after a rogue change to the target.
     */
    private boolean cutover(EmbeddedStack stack, PipelineConfig config, Pipeline pipeline, MigrationSpec v2) throws Exception {
        System.out.println();
        System.out.println("== cutover gate (drift zero for 10 s, end-to-end lag under 5 s, a clean verify) ==");
        CutoverGate gate = new CutoverGate(config, v2.mappings(), CUTOVER_WINDOW, Duration.ofSeconds(5), 0);
        CutoverGate.Decision before = gate.decide();
        System.out.print(before.describe(Topics.cutover(pipeline.prefix())));
        if (before.ready()) {
            System.out.println("FAILED: the gate said READY before any verify");
            return false;
        }
        Verifier.Report report = new Verifier(config, v2.migration(), v2.mappings(), Verifier.Options.defaults(), System.out).run();
        for (TableReport t : report.tables()) {
            System.out.println("verify: " + t.summary());
        }
        if (!report.clean()) {
            System.out.println("FAILED: verify found differences after convergence");
            return false;
        }
        CutoverGate.Decision ready = awaitDecision(gate, true, pipeline);
        if (ready == null) {
            return false;
        }
        String rogueKey;
        try (Connection t = stack.target().connect(); Statement st = t.createStatement();
             ResultSet rs = st.executeQuery("UPDATE public.purchase_order_view SET customer_name = 'Rogue write' WHERE order_number = "
                     + "(SELECT min(order_number) FROM public.purchase_order_view) RETURNING order_number")) {
            rs.next();
            rogueKey = rs.getString(1);
        }
        System.out.println("A rogue write to the target: purchase_order_view order " + rogueKey + " renamed behind the pipeline's back.");
        return awaitDecision(gate, false, pipeline) != null;
    }

    /** Asks the gate every 2 s until it decides {@code ready}; prints that decision, or fails after the timeout. */
    private CutoverGate.Decision awaitDecision(CutoverGate gate, boolean ready, Pipeline pipeline) throws Exception {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        while (true) {
            failIfStopped(pipeline, null);
            CutoverGate.Decision d = gate.decide();
            if (d.ready() == ready) {
                System.out.print(d.describe(Topics.cutover(pipeline.prefix())));
                return d;
            }
            if (System.nanoTime() > deadline) {
                System.out.printf("FAILED: the cutover gate did not become %s within %d s; its last decision:%n", ready ? "READY" : "NOT READY",
                        timeoutSeconds);
                System.out.print(d.describe(Topics.cutover(pipeline.prefix())));
                return null;
            }
            Thread.sleep(2_000);
        }
    }

    /**
     * Polls until drift is zero and the check matches, and returns that check; or, when the timeout
     * passes first, prints the counts and sample keys and returns null. The caller must not ask for
     * drift again: a comparison heartbeat may report a key pending a moment later, which says nothing
     * about the convergence already seen.
     */
    private ProjectionCheck.Result awaitConvergence(EmbeddedStack stack, Pipeline pipeline, boolean withCountry, StatusLine status,
                                                    String label) throws Exception {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        long lastCheck = 0;
        long lastPrint = System.nanoTime();
        ProjectionCheck.Result check = null;
        while (true) {
            failIfStopped(pipeline, null);
            boolean driftZero = driftIsZero(pipeline);
            // The SQL comparison reads both tables whole; while drift says they still differ it runs only every 2 s.
            if (driftZero || check == null || System.nanoTime() - lastCheck >= TWO_SECONDS) {
                try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
                    check = ProjectionCheck.run(l, t, withCountry);
                }
                lastCheck = System.nanoTime();
                if (check.matches() && driftZero) {
                    return check;
                }
            }
            if (System.nanoTime() > deadline) {
                System.out.println(status.next("still converging"));
                System.out.printf("FAILED: %s no convergence within %d s: drift %,d open / %,d pending; %s%n", label == null ? "v1" : label,
                        timeoutSeconds, pipeline.drift().totalOpen(), pipeline.drift().totalPending(), check.counts());
                check.samples().forEach(line -> System.out.println("  sample keys " + line));
                return null;
            }
            if (System.nanoTime() - lastPrint >= TWO_SECONDS) {
                lastPrint = System.nanoTime();
                System.out.println(status.next("catching up | check: " + check.counts()));
            }
            Thread.sleep(250);
        }
    }

    private static boolean driftIsZero(Pipeline pipeline) {
        return pipeline.drift().totalOpen() == 0 && pipeline.drift().totalPending() == 0 && pipeline.drift().oldestReportMs() > 0;
    }

    private void printSummary(long started, Phase1 first, Phase2 second, LagProbe probe) {
        System.out.println();
        System.out.println("Summary");
        System.out.printf("  legacy seed:               %,d customers, %,d purchase orders%n", customers, orders);
        System.out.printf("  v1 workload:               %s%n", first.workload);
        System.out.printf("  v1 converged:              %.1f s after pipeline start, %.1f s after the workload stopped; %,d rows applied%n",
                first.convergedSeconds, first.zeroDriftSeconds, first.rowsApplied);
        System.out.printf("  v1 check:                  %s -> %s%n", first.check.counts(), first.check.matches() ? "MATCH" : "NO MATCH");
        System.out.printf("  v2 workload:               %s%n", second.workload);
        System.out.printf("  v2 switch:                 v1 closed in %.1f s, v2 started in %.1f s as generation %d%n",
                second.closeSeconds, second.startSeconds, second.generation);
        System.out.printf("  v2 backfill:               %,d legacy changes re-read, complete %.1f s after v2 was applied%n",
                second.backfillChanges, second.backfillSeconds);
        System.out.printf("  v2 backfill, as read:      %s; drift at most %,d open, %,d pending%n", second.readerSummary,
                second.maxOpen, second.maxPending);
        System.out.printf("  v2 converged:              %.1f s after v2 was applied, %.1f s after the workload stopped; %,d rows applied%n",
                second.convergedSeconds, second.zeroDriftSeconds, second.rowsApplied);
        System.out.printf("  v2 check:                  %s -> %s%n", second.check.counts(), second.check.matches() ? "MATCH" : "NO MATCH");
        System.out.printf("  match:                     %s%n", first.check.matches() && second.check.matches() ? "YES (v1 and v2)" : "NO");
        System.out.printf("  drift:                     0 open, 0 pending at both checks%n");
        // Changes committed during the initial snapshot are streamed only once it completes, and
        // changes committed while v2 backfills wait behind the re-read history: each phase apart.
        System.out.println("  end-to-end lag, legacy commit -> order visible in target (probe orders every 250 ms):");
        printLag(probe, "v1, during the snapshot", first.probesFromMs, Math.min(first.snapshotDoneMs, first.probesToMs));
        printLag(probe, "v1, after the snapshot", Math.max(first.snapshotDoneMs, first.probesFromMs), first.probesToMs);
        printLag(probe, "v2 switch and backfill", second.probesFromMs, second.probesToMs);
        System.out.printf("  JVM peak heap %,d MiB, peak resident set %s%n", peakHeapMiB(), peakRss());
        System.out.printf("  total time %.1f s%n", (System.nanoTime() - started) / 1e9);
    }

    private static void printLag(LagProbe probe, String phase, long fromMs, long toMs) {
        int n = probe.samples(fromMs, toMs);
        if (n == 0) {
            System.out.printf("    %-26s no probes%n", phase + ":");
            return;
        }
        System.out.printf("    %-26s %3d probes, p50 %,6.0f ms, p99 %,6.0f ms, max %,6.0f ms%n", phase + ":", n,
                probe.percentileMs(50, fromMs, toMs), probe.percentileMs(99, fromMs, toMs), probe.percentileMs(100, fromMs, toMs));
    }

    private static void failIfStopped(Pipeline pipeline, PurchaseOrdersWorkload workload) {
        Throwable failure = pipeline.failure();
        if (failure != null) {
            throw new IllegalStateException("A pipeline stage failed: " + failure.getMessage(), failure);
        }
        if (workload != null && workload.failure() != null) {
            throw new IllegalStateException("The workload failed: " + workload.failure().getMessage(), workload.failure());
        }
    }

    /** A fresh workload per phase, so each phase's counts are its own. */
    private record Workloads(String url, String user, String password, int rate) {
        PurchaseOrdersWorkload start() {
            return new PurchaseOrdersWorkload(url, user, password, rate).start(2);
        }
    }

    /**
     * Copies the packaged example (specs, contracts, Flyway migrations, legacy DDL) into {@code into}:
     * specs resolve their contracts next to the spec file and Flyway reads a folder. From target/classes
     * (tests) the resource is a directory, from the jar an entry tree.
     */
    static Path extractExample(Path into) throws IOException {
        return extractExample(EXAMPLE_RESOURCE, into);
    }

    /** {@link #extractExample(Path)} for another packaged example, {@code resource} being its folder (with a legacy.sql). */
    static Path extractExample(String resource, Path into) throws IOException {
        URL url = DemoCommand.class.getClassLoader().getResource(resource + "/legacy.sql");
        if (url == null) {
            throw new IllegalStateException("The workbench was built without " + resource + "; rebuild it with mvn -pl workbench -am package");
        }
        FileTrees.deleteRecursively(into);
        URI uri;
        try {
            uri = url.toURI();
        } catch (URISyntaxException e) {
            throw new IOException("Cannot read " + url, e);
        }
        if ("jar".equals(uri.getScheme())) {
            FileSystem fs;
            boolean opened = false;
            try {
                fs = FileSystems.newFileSystem(uri, Map.of());
                opened = true;
            } catch (FileSystemAlreadyExistsException e) {
                fs = FileSystems.getFileSystem(uri);
            }
            try {
                copyTree(fs.getPath("/" + resource), into);
            } finally {
                if (opened) {
                    fs.close();
                }
            }
        } else {
            copyTree(Path.of(uri).getParent(), into);
        }
        return into;
    }

    private static void copyTree(Path from, Path into) throws IOException {
        try (Stream<Path> paths = Files.walk(from)) {
            for (Path p : paths.toList()) {
                Path to = into.resolve(from.relativize(p).toString());
                if (Files.isDirectory(p)) {
                    Files.createDirectories(to);
                } else {
                    Files.copy(p, to);
                }
            }
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

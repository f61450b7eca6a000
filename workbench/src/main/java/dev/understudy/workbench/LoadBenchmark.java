package dev.understudy.workbench;

import dev.understudy.capture.ExportedSnapshot;
import dev.understudy.load.BulkCopy;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.stack.FileTrees;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.SqlNames;
import dev.understudy.transform.spec.MigrationSpec;
import org.flywaydb.core.Flyway;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOut;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;

/**
 * Loading a table, next to the physical limit measured in the same run on the same rows: the legacy
 * rows of a case ({@link LoadCase}: {@code users}, one table mapped with a rename; {@code purchase-orders},
 * orders joined with their customers) go to the target as the case's spec maps them, by
 * <ol>
 *   <li>a {@code COPY} pipe: binary {@code COPY ... TO STDOUT} from the legacy database straight into
 *   {@code COPY ... FROM STDIN} of a target table with the same definition and index (the baseline);</li>
 *   <li>Understudy's bulk copy stage alone ({@link BulkCopy}: COPY through the spec's SQL projection, in
 *   parallel page-range chunks at a replication slot's exported snapshot), into another new database;</li>
 *   <li>Understudy's initial load: {@code understudy run} started as its own process on a new pipeline,
 *   timed from the process start until the target holds every row;</li>
 *   <li>Understudy's streaming path: the same pipeline while N more rows are inserted into the legacy
 *   table, in transactions of {@code --stream-batch} rows, timed from the first insert until the
 *   target holds them all;</li>
 *   <li>both again with {@code initial.load=bulk} ({@code BulkLoad}: the rows read at the slot's exported
 *   snapshot, mapped by the migration's code, COPYed into the target, the migration's state seeded), a
 *   pipeline of its own on the same legacy rows; the users case only (a join's state is not seeded);</li>
 * </ol>
 * Each result is checked by a count and a checksum over the mapped columns against the legacy table.
 * CPU seconds are charged to three parts, read from /proc ({@link ProcessUsage}): the pipeline process,
 * this JVM (the Kafka broker and the schema registry, and the COPY pipe's client side), and the
 * PostgreSQL servers (both, including exited backends). Nothing is asserted; the figures are printed.
 * <li>the peer pipeline ({@link PeerProcess}: Kafka Connect with Debezium's PostgreSQL source and JDBC
 * sink), once per sink configuration of {@code --peer}, its own process on the same legacy rows: the
 * initial load, then as many streamed inserts. Only for the users case: the peer has no foreign-key
 * join (a team would add a stream processor for it).</li>
 */
@Command(name = "load", mixinStandardHelpOptions = true,
        description = "Rows/s of an initial load and of streamed inserts through `understudy run`, against a COPY pipe of the same rows "
                + "(same run), with CPU seconds and peak resident set of each part.")
final class LoadBenchmark implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "1000000", description = "Legacy rows to load, and rows to stream afterwards (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--case", defaultValue = LoadCase.USERS,
            description = "users (one table, a rename) or purchase-orders (orders joined with their customers, one customer per ten orders; "
                    + "--rows counts orders) (default: ${DEFAULT-VALUE}).")
    String caseName;

    @Option(names = "--stream-batch", defaultValue = "10000",
            description = "Rows per legacy transaction in the streaming phase (default: ${DEFAULT-VALUE}).")
    int streamBatch;

    @Option(names = "--timeout", defaultValue = "1800",
            description = "Seconds to wait for each of: the initial load, and the streamed rows (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--workers", defaultValue = "2", description = "Chunks copied at once in the bulk copy stage and in run's bulk initial load (default: ${DEFAULT-VALUE}).")
    int workers;

    @Option(names = "--chunk-rows", defaultValue = "100000", description = "Rows per chunk of the bulk copy stage and of run's bulk initial load, about (default: ${DEFAULT-VALUE}).")
    long chunkRows;

    @Mixin
    RunOptions options = new RunOptions();

    @Option(names = "--initial-load", split = ",", defaultValue = "snapshot,bulk",
            description = "Initial loads of `understudy run` to measure, in order: snapshot (initial.load=snapshot, through the stream),"
                    + " bulk (initial.load=bulk; the users case only) (default: ${DEFAULT-VALUE}).")
    List<String> initialLoads = List.of();

    @Option(names = "--load-only", description = "Measure the initial loads alone, without the streamed inserts after each.")
    boolean loadOnly;

    @Option(names = "--jfr", description = "Record the pipeline process with Java Flight Recorder (profile settings) into the work directory.")
    boolean jfr;

    @Mixin
    PeerOptions peer = new PeerOptions();

    static final String PIPELINE = "bench_load";
    static final String PEER = "bench_load_peer";
    static final String COPY_DATABASE = "bench_load_copy";
    static final String BULK_DATABASE = "bench_load_bulk";

    private LoadCase load;

    @Override
    public Integer call() throws Exception {
        if (rows < 1 || streamBatch < 1 || timeoutSeconds < 1) {
            System.err.println("--rows, --stream-batch and --timeout must be positive");
            return 2;
        }
        List<PeerProcess.Sink> sinks;
        try {
            // The peer has no foreign-key join: it maps the users case only.
            sinks = caseName.equals(LoadCase.USERS) ? peer.sinks() : List.of();
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("--peer: " + e.getMessage());
            return 2;
        }
        String loadAtStart = WriterBenchmark.loadAverage();
        Path work = Home.dir().resolve("bench-load");
        FileTrees.deleteRecursively(work.resolve("streams"));
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), options.timeZone)) {
            load = LoadCase.of(caseName, work);
            long t0 = System.nanoTime();
            try (Connection c = stack.legacy().connect()) {
                load.filler().fill(c, rows);
            }
            System.out.printf("Load benchmark, case %s: %,d rows of %s (legacy filled in %.1f s), %d cores, PostgreSQL time zone %s, "
                            + "pipeline settings %s%n", load.name(), rows, load.targetTable(), (System.nanoTime() - t0) / 1e9,
                    Runtime.getRuntime().availableProcessors(), options.timeZone, options.describeOverrides());
            Checksum legacy = checksum(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), load.legacyChecksum());

            Usage before = Usage.now(stack, -1);
            Phase copy = copyPipe(stack, legacy);
            Usage afterCopy = Usage.now(stack, -1);
            Path spec = load.spec();
            Phase bulk = bulkCopy(stack, spec, legacy);
            Usage afterBulk = Usage.now(stack, -1);
            Phase[] run = initialLoads.contains("snapshot") ? runPipeline(stack, work, spec, legacy) : null;
            // A bulk initial load cannot seed a foreign-key join's state: the users case only.
            Phase[] runBulk = initialLoads.contains("bulk") && load.name().equals(LoadCase.USERS)
                    ? runBulkPipeline(stack, work, spec, legacy) : null;
            Map<PeerProcess.Sink, Phase[]> peers = new LinkedHashMap<>();
            for (PeerProcess.Sink sink : sinks) {
                peers.put(sink, peerPipeline(stack, work, sink, legacy));
            }

            System.out.println("== results (the COPY pipe is the baseline) ==");
            System.out.printf("  %-40s %12s %10s %8s %14s %14s %14s %10s %10s%n", "", "rows/s", "seconds", "ratio", "CPU s pipeline",
                    "CPU s broker", "CPU s postgres", "peak RSS", "checksum");
            print("COPY pipe legacy -> target (baseline)", copy.with(afterCopy.minus(before)), copy);
            print("bulk copy stage alone (" + workers + " workers)", bulk.with(afterBulk.minus(afterCopy)), copy);
            if (run != null) {
                print("understudy run: initial load", run[0], copy);
                printStream("understudy run: streamed inserts", run[1], copy);
            }
            if (runBulk != null) {
                print("understudy run, bulk: initial load", runBulk[0], copy);
                printStream("understudy run, bulk: streamed inserts", runBulk[1], copy);
            }
            for (Map.Entry<PeerProcess.Sink, Phase[]> p : peers.entrySet()) {
                print("peer (" + p.getKey().option() + "): initial load", p.getValue()[0], copy);
                printStream("peer (" + p.getKey().option() + "): streamed inserts", p.getValue()[1], copy);
            }
            System.out.print("  first row in the target after the process started:");
            if (run != null) {
                System.out.printf(" understudy run %.1f s", run[0].firstRowSeconds);
            }
            if (runBulk != null) {
                System.out.printf("%s understudy run with initial.load=bulk %.1f s", run != null ? "," : "", runBulk[0].firstRowSeconds);
            }
            peers.forEach((sink, p) -> System.out.printf(", peer (%s) %.1f s", sink.option(), p[0].firstRowSeconds));
            System.out.println();
            System.out.printf("  this JVM (broker, registry) peak resident set %s%n", DemoCommand.peakRss());
            if (!peers.isEmpty()) {
                Phase[] best = peers.values().stream().min((a, b) -> Double.compare(a[0].seconds, b[0].seconds)).orElseThrow();
                Phase[] bestStream = loadOnly ? null : peers.values().stream().min((a, b) -> Double.compare(a[1].seconds, b[1].seconds)).orElseThrow();
                System.out.printf("  against the faster peer (above 1: faster than the peer): bulk copy stage %.2fx", best[0].seconds / bulk.seconds);
                if (run != null) {
                    System.out.printf(", understudy run initial load (initial.load=snapshot) %.2fx", best[0].seconds / run[0].seconds);
                    if (!loadOnly) {
                        System.out.printf(", streamed inserts %.2fx", bestStream[1].seconds / run[1].seconds);
                    }
                }
                if (runBulk != null) {
                    System.out.printf(", initial load with initial.load=bulk %.2fx", best[0].seconds / runBulk[0].seconds);
                    if (!loadOnly) {
                        System.out.printf(", streamed inserts after it %.2fx", bestStream[1].seconds / runBulk[1].seconds);
                    }
                }
                System.out.println();
            } else if (!load.name().equals(LoadCase.USERS)) {
                System.out.println("  peer pipeline: not run for this case (it has no foreign-key join)");
            }
            System.out.printf("  load average (1 min): %s at start, %s at end%n", loadAtStart, WriterBenchmark.loadAverage());
            boolean exact = copy.exact && bulk.exact && (run == null || exact(run)) && (runBulk == null || exact(runBulk))
                    && peers.values().stream().allMatch(LoadBenchmark::exact);
            System.out.println("  every result equal to the legacy rows (count and checksum): " + (exact ? "yes" : "NO"));
            return exact ? 0 : 1;
        }
    }

    private static boolean exact(Phase[] phases) {
        return phases[0].exact && (phases[1] == null || phases[1].exact);
    }

    /** A streaming phase's line, when it ran ({@code --load-only} leaves it out). */
    private static void printStream(String what, Phase p, Phase baseline) {
        if (p != null) {
            print(what, p, baseline);
        }
    }

    private static void print(String what, Phase p, Phase baseline) {
        Usage u = p.usage;
        System.out.printf("  %-40s %,12.0f %10.2f %8.3f %14s %14.1f %14.1f %10s %10s%n", what, p.rows / p.seconds, p.seconds,
                (baseline.seconds / baseline.rows) / (p.seconds / p.rows), u.pipeline < 0 ? "-" : String.format("%.1f", u.pipeline),
                u.jvm, u.postgres, p.peakRssMiB < 0 ? "-" : String.format("%,d MiB", p.peakRssMiB), p.exact ? "equal" : "DIFFERS");
    }

    /** The baseline: a binary COPY pipe into a new target database migrated by the same Flyway scripts. */
    private Phase copyPipe(EmbeddedStack stack, Checksum legacy) throws Exception {
        System.out.println("== COPY pipe (baseline) ==");
        String url = migratedDatabase(stack, COPY_DATABASE);
        long start = System.nanoTime();
        long copied;
        try (Connection l = stack.legacy().connect(); Connection t = DriverManager.getConnection(url, stack.target().user(), stack.target().password())) {
            CopyOut out = l.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (" + load.copyOut() + ") TO STDOUT (FORMAT binary)");
            CopyIn in = t.unwrap(PGConnection.class).getCopyAPI().copyIn("COPY " + SqlNames.qualified(load.targetTable()) + " ("
                    + load.targetColumns() + ") FROM STDIN (FORMAT binary)");
            byte[] buffer;
            while ((buffer = out.readFromCopy()) != null) {
                in.writeToCopy(buffer, 0, buffer.length);
            }
            copied = in.endCopy();
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Checksum target = checksum(url, stack.target().user(), stack.target().password(), load.targetChecksum());
        System.out.printf("  %,d rows in %.2f s; %s%n", copied, seconds, target.against(legacy));
        return new Phase(rows, seconds, target.equals(legacy), 0, null, -1);
    }

    /** A new target database migrated to the version the case's spec needs; returns its URL. */
    private String migratedDatabase(EmbeddedStack stack, String name) throws Exception {
        String url = TransactionBenchmark.createTargetDatabase(stack, name);
        Flyway.configure().dataSource(url, stack.target().user(), stack.target().password()).locations(load.flyway())
                .target(load.flywayVersion()).load().migrate();
        return url;
    }

    /** Understudy's bulk copy stage on its own: the spec's projection, COPY to COPY, at an exported snapshot. */
    private Phase bulkCopy(EmbeddedStack stack, Path spec, Checksum legacy) throws Exception {
        System.out.printf("== bulk copy stage (%d workers, chunks of about %,d rows) ==%n", workers, chunkRows);
        String url = migratedDatabase(stack, BULK_DATABASE);
        String slot = BULK_DATABASE + "_slot";
        long start = System.nanoTime();
        BulkCopy.Result result;
        try (ExportedSnapshot snapshot = ExportedSnapshot.create(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(),
                slot, "pgoutput")) {
            result = new BulkCopy(snapshot, url, stack.target().user(), stack.target().password(), workers, chunkRows)
                    .copy(MigrationSpec.load(spec).mappings().get(0), n -> { });
        } finally {
            ExportedSnapshot.dropSlot(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), slot);
        }
        double seconds = (System.nanoTime() - start) / 1e9;
        Checksum target = checksum(url, stack.target().user(), stack.target().password(), load.targetChecksum());
        System.out.printf("  %,d rows in %d chunks in %.2f s (slot and snapshot included); %s%n", result.rows(), result.chunks(), seconds,
                target.against(legacy));
        return new Phase(result.rows(), seconds, target.equals(legacy), 0, null, -1);
    }

    /** The initial load and the streamed inserts, through one `understudy run` process. */
    private Phase[] runPipeline(EmbeddedStack stack, Path work, Path spec, Checksum legacyBefore) throws Exception {
        System.out.println("== understudy run ==");
        Usage before = Usage.now(stack, -1).withPipeline(0);
        Map<String, String> settings = new TreeMap<>(Map.of(PipelineConfig.FLYWAY_LOCATIONS.name(), load.flyway()));
        settings.putAll(options.overrides);
        try (RunProcess run = RunProcess.start(stack, work, PIPELINE, spec, settings, options.jvmOptions(), jfr)) {
            return loadAndStream(stack, run, legacyBefore, before);
        }
    }

    /**
     * The same as {@link #runPipeline}, with the initial load outside the stream ({@code initial.load=bulk},
     * {@code --workers} and {@code --chunk-rows}), as a pipeline of its own on the same legacy rows: the
     * rows the streaming phase before inserted are deleted first.
     */
    private Phase[] runBulkPipeline(EmbeddedStack stack, Path work, Path spec, Checksum legacyBefore) throws Exception {
        System.out.printf("== understudy run, initial.load=bulk (%d workers, chunks of about %,d rows) ==%n", workers, chunkRows);
        restoreLoadedRows(stack, legacyBefore);
        Usage before = Usage.now(stack, -1).withPipeline(0);
        Map<String, String> settings = new TreeMap<>(Map.of(PipelineConfig.FLYWAY_LOCATIONS.name(), load.flyway(),
                PipelineConfig.INITIAL_LOAD.name(), "bulk", PipelineConfig.INITIAL_LOAD_WORKERS.name(), String.valueOf(workers),
                PipelineConfig.INITIAL_LOAD_CHUNK_ROWS.name(), String.valueOf(chunkRows)));
        settings.putAll(options.overrides);
        try (RunProcess run = RunProcess.start(stack, work, PIPELINE + "_bulk", spec, settings, options.jvmOptions(), jfr)) {
            return loadAndStream(stack, run, legacyBefore, before);
        }
    }

    /** Deletes the rows a streaming phase inserted (and vacuums), so that the next pipeline loads the same rows. */
    private void restoreLoadedRows(EmbeddedStack stack, Checksum legacyBefore) throws SQLException {
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            c.setAutoCommit(true);
            s.execute(load.removeStreamed());
            s.execute("VACUUM " + load.sourceTable());
        }
        Checksum legacy = checksum(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), load.legacyChecksum());
        if (!legacy.equals(legacyBefore)) {
            throw new IllegalStateException("The legacy table did not return to its loaded rows: " + legacy.against(legacyBefore));
        }
    }

    /**
     * The peer pipeline with one sink configuration, on the same legacy rows as the others: the rows
     * Understudy's streaming phase inserted are deleted first (and the table vacuumed), so that it
     * loads the same rows and streams as many.
     */
    private Phase[] peerPipeline(EmbeddedStack stack, Path work, PeerProcess.Sink sink, Checksum legacyBefore) throws Exception {
        System.out.printf("== peer pipeline, sink configuration %s ==%n", sink.option());
        restoreLoadedRows(stack, legacyBefore);
        Usage before = Usage.now(stack, -1).withPipeline(0);
        try (PeerProcess peer = PeerProcess.start(stack, work, PEER + "_" + sink.option(), sink, load.flyway(), load.flywayVersion(), options.heap)) {
            return loadAndStream(stack, peer, legacyBefore, before);
        }
    }

    /** A pipeline process's initial load of the legacy rows, then {@code --rows} streamed inserts. */
    private Phase[] loadAndStream(EmbeddedStack stack, BenchProcess pipeline, Checksum legacyBefore, Usage before) throws Exception {
        String user = stack.target().user();
        String password = stack.target().password();
        long start = pipeline.startedNanos();
        long firstRow = pipeline.awaitRows(load.targetTable(), 1, start, timeoutSeconds);
        long loaded = pipeline.awaitRows(load.targetTable(), legacyBefore.rows(), start, timeoutSeconds);
        Usage afterLoad = Usage.now(stack, pipeline.pid());
        Checksum target = checksum(pipeline.targetUrl(), user, password, load.targetChecksum());
        double loadSeconds = (loaded - start) / 1e9;
        System.out.printf("  initial load: every row in the target %.1f s after the process started (first row after %.1f s); %s%n",
                loadSeconds, (firstRow - start) / 1e9, target.against(legacyBefore));
        Phase initial = new Phase(rows, loadSeconds, target.equals(legacyBefore), (firstRow - start) / 1e9, afterLoad.minus(before),
                loadOnly ? pipeline.peakRssMiB() : -1);
        if (loadOnly) {
            return new Phase[] {initial, null};
        }

        System.out.printf("  %,d rows inserted into the legacy table in transactions of %,d%n", rows, streamBatch);
        long streamStart = System.nanoTime();
        double insertSeconds = insert(stack, rows, streamBatch);
        Checksum legacyAfter = checksum(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), load.legacyChecksum());
        long streamed = pipeline.awaitRows(load.targetTable(), legacyAfter.rows(), streamStart, timeoutSeconds);
        Usage afterStream = Usage.now(stack, pipeline.pid());
        long peakRss = pipeline.peakRssMiB();
        Checksum targetAfter = checksum(pipeline.targetUrl(), user, password, load.targetChecksum());
        double streamSeconds = (streamed - streamStart) / 1e9;
        System.out.printf("  inserted in %.1f s; every row in the target %.1f s after the first insert; %s%n", insertSeconds, streamSeconds,
                targetAfter.against(legacyAfter));
        Phase stream = new Phase(rows, streamSeconds, targetAfter.equals(legacyAfter), 0, afterStream.minus(afterLoad), peakRss);
        return new Phase[] {initial, stream};
    }

    /** Inserts {@code n} rows into the legacy table, {@code batch} per transaction; returns the seconds it took. */
    private double insert(EmbeddedStack stack, int n, int batch) throws SQLException {
        long start = System.nanoTime();
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            c.setAutoCommit(true);
            for (int from = 1; from <= n; from += batch) {
                s.execute(load.inserter().insert(rows, from, Math.min(n, from + batch - 1)));
            }
        }
        return (System.nanoTime() - start) / 1e9;
    }

    static Checksum checksum(String url, String user, String password, String sql) throws SQLException {
        try (Connection c = DriverManager.getConnection(url, user, password); Statement s = c.createStatement()) {
            s.execute("SET TimeZone = 'UTC'");
            try (ResultSet rs = s.executeQuery(sql)) {
                rs.next();
                return new Checksum(rs.getLong(1), rs.getBigDecimal(2).toPlainString());
            }
        }
    }

    record Checksum(long rows, String sum) {
        String against(Checksum legacy) {
            return equals(legacy) ? "count and checksum equal to the legacy table's"
                    : "DIFFERS from the legacy table: " + rows + " rows, checksum " + sum + " against " + legacy.rows + " rows, checksum " + legacy.sum;
        }
    }

    /**
     * @param firstRowSeconds for a load, when the first row was in the target
     * @param usage           CPU seconds charged to the phase
     * @param peakRssMiB      the pipeline process's peak resident set, when known (-1 otherwise)
     */
    private record Phase(long rows, double seconds, boolean exact, double firstRowSeconds, Usage usage, long peakRssMiB) {
        /** The same phase, charged {@code u}: what this JVM and the servers used while it ran (no pipeline process). */
        Phase with(Usage u) {
            return new Phase(rows, seconds, exact, firstRowSeconds, u, peakRssMiB);
        }
    }

    /** CPU seconds so far: the pipeline process (-1 when there is none), this JVM, the two PostgreSQL servers. */
    private record Usage(double pipeline, double jvm, double postgres) {
        static Usage now(EmbeddedStack stack, long pipelinePid) {
            double pipeline = pipelinePid < 0 ? -1 : ProcessUsage.cpuSeconds(pipelinePid).orElse(Double.NaN);
            double jvm = ProcessUsage.cpuSeconds(ProcessHandle.current().pid()).orElse(Double.NaN);
            double postgres = ProcessUsage.treeCpuSeconds(stack.legacy().postmasterPid()).orElse(Double.NaN)
                    + ProcessUsage.treeCpuSeconds(stack.target().postmasterPid()).orElse(Double.NaN);
            return new Usage(pipeline, jvm, postgres);
        }

        Usage withPipeline(double seconds) {
            return new Usage(seconds, jvm, postgres);
        }

        Usage minus(Usage earlier) {
            return new Usage(pipeline < 0 ? -1 : pipeline - Math.max(0, earlier.pipeline), jvm - earlier.jvm, postgres - earlier.postgres);
        }
    }
}

package dev.understudy.workbench;

import dev.understudy.testkit.AccountsInvariant;
import dev.understudy.testkit.AccountsWorkload;
import dev.understudy.testkit.LagProbe;
import dev.understudy.testkit.RateLimitedWorkload;
import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.stack.FileTrees;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.writer.ShadowWriterConfig;
import dev.understudy.writer.WriterMetrics;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;

/**
 * What applying whole legacy transactions costs and buys, next to applying rows as they arrive, in
 * the same run: the accounts workload ({@link AccountsWorkload}, examples/accounts) runs twice for
 * the same time at the same rate, first through a pipeline with {@code writer.transaction.boundaries=false}
 * (the baseline), then through one with {@code true}. Each run reports end-to-end lag (probe
 * transfers committed every {@value #PROBE_INTERVAL_MS} ms, timed until their row is visible in the
 * target), what a reader of the target saw of the invariants ({@link AccountsInvariant}: reads, and
 * reads that saw money created or lost), and the writer's records/s; then the ratios on/off.
 * <p>
 * The runs share nothing but the servers: each has its own pipeline name (topics, replication slots,
 * Streams applications and writer group), its own target database (so the writer's bookkeeping,
 * Flyway history and generations start empty), and freshly created and filled legacy tables.
 * Nothing is asserted; the figures are printed.
 */
@Command(name = "transactions", mixinStandardHelpOptions = true,
        description = "Lag, writer records/s and invariant violations seen in the target, with whole legacy transactions applied at once "
                + "(writer.transaction.boundaries=true) against rows applied as they arrive (false, the baseline).")
final class TransactionBenchmark implements Callable<Integer> {
    @Option(names = "--seconds", defaultValue = "30", description = "Seconds the workload runs in each of the two runs (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--rate", defaultValue = "500",
            description = "Workload row-changing statements per second, three per transfer (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--accounts", defaultValue = "2000", description = "Legacy accounts (default: ${DEFAULT-VALUE}).")
    int accounts;

    @Option(names = "--threads", defaultValue = "2", description = "Workload threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--timeout", defaultValue = "180",
            description = "Seconds to wait for each of: the initial snapshot in the target, and the target catching up after the workload (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Option(names = "--timezone", defaultValue = "UTC", description = "PostgreSQL server time zone (default: ${DEFAULT-VALUE}).")
    String timeZone;

    static final String EXAMPLE_RESOURCE = "examples/accounts";
    static final long OPENING_BALANCE = 1_000;
    static final long PROBE_INTERVAL_MS = 200;
    /** Between invariant reads: frequent enough to catch a half-applied transaction, without taking a core. */
    static final long READER_PAUSE_MS = 20;
    static final long PROGRESS_EVERY_MS = 5_000;
    static final long HELD_SAMPLE_MS = 100;

    @Override
    public Integer call() throws Exception {
        if (seconds < 1 || rate < 1 || accounts < 2 || threads < 1 || timeoutSeconds < 1) {
            System.err.println("--seconds, --rate, --threads and --timeout must be positive, and --accounts at least 2");
            return 2;
        }
        String loadAtStart = WriterBenchmark.loadAverage();
        Path work = Home.dir().resolve("bench-transactions");
        Path streams = work.resolve("streams");
        FileTrees.deleteRecursively(streams);
        try (EmbeddedStack stack = EmbeddedStack.start(work, timeZone)) {
            Path example = DemoCommand.extractExample(EXAMPLE_RESOURCE, work.resolve("example"));
            MigrationSpec spec = MigrationSpec.load(example.resolve("v1_accounts.yaml"));
            System.out.printf("Transaction benchmark: %,d accounts of %,d, workload %,d statements/s for %d s on %d threads "
                            + "(1 to 4 transfers per transaction, 1 in %d with %d to %d), %d cores, PostgreSQL time zone %s%n",
                    accounts, OPENING_BALANCE, rate, seconds, threads, AccountsWorkload.LARGE_EVERY, AccountsWorkload.LARGE_MIN,
                    AccountsWorkload.LARGE_MAX, Runtime.getRuntime().availableProcessors(), timeZone);

            Run off = run(stack, example, spec, streams, "bench_tx_off", false);
            Run on = run(stack, example, spec, streams, "bench_tx_on", true);

            System.out.println("== results (writer.transaction.boundaries: off is the baseline) ==");
            System.out.printf("  %-44s %16s %16s%n", "", "off (baseline)", "on");
            row("end-to-end lag p50", ms(off.lag.p50), ms(on.lag.p50));
            row("end-to-end lag p95", ms(off.lag.p95), ms(on.lag.p95));
            row("end-to-end lag p99", ms(off.lag.p99), ms(on.lag.p99));
            row("end-to-end lag max", ms(off.lag.max), ms(on.lag.max));
            row("probes seen / committed during the workload", off.lag.seen + " / " + off.lag.committed, on.lag.seen + " / " + on.lag.committed);
            row("target reads", String.format("%,d", off.reads), String.format("%,d", on.reads));
            row("reads violating an invariant", String.format("%,d", off.violations), String.format("%,d", on.violations));
            row("legacy transactions committed", String.format("%,d", off.transactions), String.format("%,d", on.transactions));
            row("writer records (workload and catch-up)", String.format("%,d", off.records), String.format("%,d", on.records));
            row("writer records/s while the workload ran", String.format("%,.0f", off.recordsPerSecondDuringWorkload()),
                    String.format("%,.0f", on.recordsPerSecondDuringWorkload()));
            row("writer records/s incl. catch-up", String.format("%,.0f", off.recordsPerSecond()), String.format("%,.0f", on.recordsPerSecond()));
            row("catch-up after the workload stopped", catchUp(off), catchUp(on));
            row("writer batches", String.format("%,d", off.batches), String.format("%,d", on.batches));
            row("source transactions applied whole", String.format("%,d", off.transactionsApplied), String.format("%,d", on.transactionsApplied));
            row("holding spills (newest held transactions read again)", String.format("%,d", off.heldSpills), String.format("%,d", on.heldSpills));
            row("peak records held for their transaction", String.format("%,d", off.peakHeld), String.format("%,d", on.peakHeld));
            System.out.printf("  ratios on / off: lag p50 %s, lag p95 %s, lag p99 %s, writer records/s %s (incl. catch-up), %s (while the workload ran)%n",
                    ratio(on.lag.p50, off.lag.p50), ratio(on.lag.p95, off.lag.p95), ratio(on.lag.p99, off.lag.p99),
                    ratio(on.recordsPerSecond(), off.recordsPerSecond()),
                    ratio(on.recordsPerSecondDuringWorkload(), off.recordsPerSecondDuringWorkload()));
            for (Run r : List.of(off, on)) {
                if (!r.samples.isEmpty()) {
                    System.out.printf("  first violating reads, %s: %s%n", r.name, r.samples);
                }
            }
            // The broker and the schema registry run in this JVM too, so the heap includes theirs.
            System.out.printf("  JVM peak heap %,d MiB, peak resident set %s (Kafka broker and registry included)%n",
                    DemoCommand.peakHeapMiB(), DemoCommand.peakRss());
            // Other processes on the machine slow both runs, not necessarily alike; the load says how much to trust one run.
            System.out.printf("  load average (1 min): %s at start, %s at end%n", loadAtStart, WriterBenchmark.loadAverage());
            return 0;
        } finally {
            FileTrees.deleteRecursively(streams);
        }
    }

    private static void row(String what, String off, String on) {
        System.out.printf("  %-44s %16s %16s%n", what, off, on);
    }

    private static String ms(double millis) {
        return Double.isNaN(millis) ? "n/a" : String.format("%,.0f ms", millis);
    }

    private static String ratio(double on, double off) {
        return Double.isNaN(on) || Double.isNaN(off) || off == 0 ? "n/a" : String.format("%.2f", on / off);
    }

    private static String catchUp(Run r) {
        return r.caughtUp ? String.format("%.1f s", r.catchUpSeconds) : String.format("not in %.0f s", r.catchUpSeconds);
    }

    /** End-to-end lag of the probes committed while the workload ran, in milliseconds. */
    private record Lag(double p50, double p95, double p99, double max, int seen, int committed) {
    }

    private record Run(String name, Lag lag, long reads, long violations, List<AccountsInvariant.Read> samples, long transactions,
                       long records, long recordsDuringWorkload, double workloadSeconds, double catchUpSeconds, boolean caughtUp,
                       long batches, long transactionsApplied, long heldSpills, long peakHeld) {
        double recordsPerSecond() {
            return records / (workloadSeconds + catchUpSeconds);
        }

        double recordsPerSecondDuringWorkload() {
            return recordsDuringWorkload / workloadSeconds;
        }
    }

    /**
     * One run: fresh legacy tables and target database, a pipeline named {@code name}, the snapshot
     * awaited, then the workload, the probes and the invariant reader together for {@code --seconds},
     * then the wait until the target equals the legacy tables.
     */
    private Run run(EmbeddedStack stack, Path example, MigrationSpec spec, Path streams, String name, boolean boundaries) throws Exception {
        System.out.printf("== %s: writer.transaction.boundaries=%s%s ==%n", name, boundaries, boundaries ? "" : " (baseline)");
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            // The previous run's changes are history of its own pipeline; each run starts from the same filled tables.
            s.execute("DROP TABLE IF EXISTS public.transfers, public.accounts");
            AccountsWorkload.createAndFill(c, accounts, OPENING_BALANCE);
        }
        String targetUrl = createTargetDatabase(stack, name);
        Map<String, String> settings = new HashMap<>(stack.connectionSettings());
        settings.put(PipelineConfig.TARGET_JDBC_URL.name(), targetUrl);
        settings.put(PipelineConfig.PIPELINE_NAME.name(), name);
        settings.put(TransformConfig.STATE_DIR.name(), streams.resolve(name).toString());
        settings.put(PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + example.resolve("flyway"));
        settings.put(ShadowWriterConfig.TRANSACTION_BOUNDARIES.name(), Boolean.toString(boundaries));
        PipelineConfig config = PipelineConfig.parse(settings, "the embedded stack");
        String user = stack.target().user();
        String password = stack.target().password();
        long started = System.nanoTime();
        try (Pipeline pipeline = new Pipeline(config, spec).start()) {
            double startSeconds = (System.nanoTime() - started) / 1e9;
            awaitSnapshot(pipeline, targetUrl, user, password);
            System.out.printf("  pipeline started in %.1f s; initial snapshot of %,d accounts in the target %.1f s after the start%n",
                    startSeconds, accounts, (System.nanoTime() - started) / 1e9);
            WriterMetrics m = pipeline.writer().metrics();
            try (AccountsInvariant reader = new AccountsInvariant(targetUrl, user, password, accounts, OPENING_BALANCE, READER_PAUSE_MS);
                 LagProbe probe = new LagProbe(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(),
                         targetUrl, user, password, PROBE_INTERVAL_MS, new TransferProbe(accounts))) {
                reader.start();
                long recordsAtStart = m.recordsCommitted();
                long batchesAtStart = m.batches();
                long transactionsAtStart = m.transactionsApplied();
                long spillsAtStart = m.heldSpills();
                long peakHeld = 0;
                long workloadStart = System.nanoTime();
                long probesFromMs = System.currentTimeMillis();
                probe.startWriting();
                AccountsWorkload workload = new AccountsWorkload(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(),
                        rate).start(threads);
                try {
                    long end = workloadStart + seconds * 1_000_000_000L;
                    long nextProgress = workloadStart + PROGRESS_EVERY_MS * 1_000_000L;
                    while (System.nanoTime() < end) {
                        failIfFailed(pipeline, workload, reader);
                        // Held records are a level, not a count: sampled often enough to see a large transaction's.
                        peakHeld = Math.max(peakHeld, m.heldRecords());
                        Thread.sleep(Math.min(HELD_SAMPLE_MS, Math.max(1, Math.min(end, nextProgress) - System.nanoTime()) / 1_000_000L + 1));
                        if (System.nanoTime() >= nextProgress) {
                            System.out.printf("  [%5.1fs] workload %,d transactions | writer %,d records, lag %,d, held %,d | reads %,d, "
                                            + "violating %,d | probe %s%n",
                                    (System.nanoTime() - workloadStart) / 1e9, workload.transactions(), m.recordsCommitted() - recordsAtStart,
                                    m.lag(), m.heldRecords(), reader.reads(), reader.violations(), probe.lastLatency());
                            nextProgress += PROGRESS_EVERY_MS * 1_000_000L;
                        }
                    }
                } finally {
                    workload.close();
                    probe.stopWriting();
                }
                long workloadEnd = System.nanoTime();
                long probesToMs = System.currentTimeMillis();
                long recordsDuringWorkload = m.recordsCommitted() - recordsAtStart;
                System.out.printf("  workload stopped: %s%n", workload.describe());

                CatchUp catchUp = awaitCaughtUp(stack, pipeline, targetUrl, user, password, m);
                boolean caughtUp = catchUp.caughtUp();
                peakHeld = Math.max(peakHeld, catchUp.peakHeld());
                long caughtUpAt = System.nanoTime();
                reader.close();
                probe.close();
                double catchUpSeconds = (caughtUpAt - workloadEnd) / 1e9;
                System.out.printf("  target %s %.1f s after the workload stopped; %s%n",
                        caughtUp ? "equal to the legacy tables" : "still behind the legacy tables", catchUpSeconds, reader.describe());
                return new Run(name, lag(probe, probesFromMs, probesToMs), reader.reads(), reader.violations(), reader.samples(),
                        workload.transactions(), m.recordsCommitted() - recordsAtStart, recordsDuringWorkload, (workloadEnd - workloadStart) / 1e9,
                        catchUpSeconds, caughtUp, m.batches() - batchesAtStart, m.transactionsApplied() - transactionsAtStart,
                        m.heldSpills() - spillsAtStart, peakHeld);
            }
        } finally {
            dropSlots(stack, name, targetUrl);
        }
    }

    private static void failIfFailed(Pipeline pipeline, AccountsWorkload workload, AccountsInvariant reader) {
        Throwable t = pipeline.failure();
        if (t == null) {
            t = workload.failure();
        }
        if (t == null) {
            t = reader.failure();
        }
        if (t != null) {
            throw new IllegalStateException("The benchmark run failed: " + t.getMessage(), t);
        }
    }

    /** A new database on the target server for this run; returns its JDBC URL. */
    static String createTargetDatabase(EmbeddedStack stack, String name) throws SQLException {
        try (Connection c = stack.target().connect(); Statement s = c.createStatement()) {
            s.execute("DROP DATABASE IF EXISTS " + name + " WITH (FORCE)");
            s.execute("CREATE DATABASE " + name);
        }
        return "jdbc:postgresql://" + stack.target().host() + ":" + stack.target().port() + "/" + name;
    }

    /**
     * Drops the run's replication slots once its pipeline is closed: an abandoned slot keeps its
     * server's WAL from being recycled, which would weigh on the next run. A slot still active (a
     * capture that did not stop) is left alone and reported.
     */
    static void dropSlots(EmbeddedStack stack, String name, String targetUrl) {
        dropSlot(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), name + "_legacy");
        dropSlot(targetUrl, stack.target().user(), stack.target().password(), name + "_target");
    }

    static void dropSlot(String url, String user, String password, String slot) {
        try (Connection c = DriverManager.getConnection(url, user, password);
             PreparedStatement ps = c.prepareStatement("SELECT active, CASE WHEN NOT active THEN pg_drop_replication_slot(slot_name) IS NULL END "
                     + "FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next() && rs.getBoolean(1)) {
                    System.out.printf("  (replication slot %s is still active after the pipeline closed; left in place)%n", slot);
                }
            }
        } catch (SQLException e) {
            System.out.printf("  (replication slot %s not dropped: %s)%n", slot, e.getMessage());
        }
    }

    /** Waits until the target holds every account with the opening total: from then on the invariants apply to it. */
    private void awaitSnapshot(Pipeline pipeline, String targetUrl, String user, String password) throws Exception {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        AccountsInvariant.Read last = null;
        while (System.nanoTime() < deadline) {
            if (pipeline.failure() != null) {
                throw new IllegalStateException("The pipeline failed before the snapshot was applied: " + pipeline.failure().getMessage(),
                        pipeline.failure());
            }
            try (Connection t = DriverManager.getConnection(targetUrl, user, password)) {
                last = AccountsInvariant.read(t, accounts, OPENING_BALANCE);
                if (last.accounts() == accounts && !last.violates()) {
                    return;
                }
            } catch (SQLException e) {
                // The tables appear when Flyway has run; until then there is nothing to read.
            }
            Thread.sleep(200);
        }
        throw new IllegalStateException("The target did not hold the " + accounts + " snapshotted accounts within " + timeoutSeconds
                + " s (last read: " + last + ", writer " + pipeline.writer().metrics() + "); raise --timeout or look at the log");
    }

    /** Count and row hashes of both tables; the target's column names are the spec's renames. */
    private static final String LEGACY_SUMMARY = """
            SELECT (SELECT count(*) FROM public.transfers),
                   (SELECT coalesce(sum(hashtextextended(id || ':' || from_id || ':' || to_id || ':' || amount, 0)), 0) FROM public.transfers),
                   (SELECT coalesce(sum(hashtextextended(id || ':' || balance, 0)), 0) FROM public.accounts)""";
    private static final String TARGET_SUMMARY = """
            SELECT (SELECT count(*) FROM public.transfers),
                   (SELECT coalesce(sum(hashtextextended(id || ':' || from_account || ':' || to_account || ':' || amount, 0)), 0) FROM public.transfers),
                   (SELECT coalesce(sum(hashtextextended(id || ':' || balance, 0)), 0) FROM public.accounts)""";

    /** Whether the target caught up within --timeout, and the most records the writer held meanwhile. */
    private record CatchUp(boolean caughtUp, long peakHeld) {
    }

    /** Waits until the target's accounts and transfers equal the legacy ones, or --timeout passes. */
    private CatchUp awaitCaughtUp(EmbeddedStack stack, Pipeline pipeline, String targetUrl, String user, String password, WriterMetrics m)
            throws Exception {
        long peakHeld = 0;
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        String expected;
        try (Connection l = stack.legacy().connect()) {
            expected = summary(l, LEGACY_SUMMARY);
        }
        while (System.nanoTime() < deadline) {
            if (pipeline.failure() != null) {
                throw new IllegalStateException("The pipeline failed while catching up: " + pipeline.failure().getMessage(), pipeline.failure());
            }
            peakHeld = Math.max(peakHeld, m.heldRecords());
            try (Connection t = DriverManager.getConnection(targetUrl, user, password)) {
                if (expected.equals(summary(t, TARGET_SUMMARY))) {
                    return new CatchUp(true, peakHeld);
                }
            }
            Thread.sleep(50);
        }
        return new CatchUp(false, peakHeld);
    }

    private static String summary(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getString(1) + "/" + rs.getString(2) + "/" + rs.getString(3);
        }
    }

    /**
     * End-to-end lag of transfers: every {@value #PROBE_INTERVAL_MS} ms a transaction like the
     * workload's (lock both accounts, debit, credit, insert) moves amount 0, which the workload never
     * uses and which leaves balances as they are, between two random accounts; the time from its
     * commit until its transfers row is visible in the target is one sample. With transaction
     * boundaries, the row is visible only with its whole transaction.
     */
    record TransferProbe(int accounts) implements LagProbe.Probe {
        @Override
        public LagProbe.Commit prepare(Connection c) throws SQLException {
            PreparedStatement lock = c.prepareStatement("SELECT id FROM public.accounts WHERE id IN (?, ?) ORDER BY id FOR UPDATE");
            PreparedStatement debit = c.prepareStatement("UPDATE public.accounts SET balance = balance - 0 WHERE id = ?");
            PreparedStatement credit = c.prepareStatement("UPDATE public.accounts SET balance = balance + 0 WHERE id = ?");
            PreparedStatement insert = c.prepareStatement("INSERT INTO public.transfers (from_id, to_id, amount) VALUES (?, ?, 0) RETURNING id");
            return n -> {
                ThreadLocalRandom random = ThreadLocalRandom.current();
                int from = 1 + random.nextInt(accounts);
                int to = 1 + random.nextInt(accounts - 1);
                if (to >= from) {
                    to++;
                }
                try {
                    lock.setInt(1, from);
                    lock.setInt(2, to);
                    lock.executeQuery().close();
                    debit.setInt(1, from);
                    debit.executeUpdate();
                    credit.setInt(1, to);
                    credit.executeUpdate();
                    insert.setInt(1, from);
                    insert.setInt(2, to);
                    long id;
                    try (ResultSet rs = insert.executeQuery()) {
                        rs.next();
                        id = rs.getLong(1);
                    }
                    c.commit();
                    return id;
                } catch (SQLException e) {
                    // A workload transaction got there first; this probe is dropped and the next one committed at once.
                    c.rollback();
                    if (!RateLimitedWorkload.isConflict(e)) {
                        throw e;
                    }
                    return null;
                }
            };
        }

        @Override
        public String watchSql() {
            return "SELECT id FROM public.transfers WHERE id = ANY(?)";
        }

        @Override
        public String keyType() {
            return "int8";
        }
    }

    /** Percentiles of the probes committed in [fromMs, toMs); a probe never seen counts as committed, not seen. */
    private static Lag lag(LagProbe probe, long fromMs, long toMs) {
        return new Lag(probe.percentileMs(50, fromMs, toMs), probe.percentileMs(95, fromMs, toMs), probe.percentileMs(99, fromMs, toMs),
                probe.percentileMs(100, fromMs, toMs), probe.samples(fromMs, toMs), probe.committed(fromMs, toMs));
    }
}

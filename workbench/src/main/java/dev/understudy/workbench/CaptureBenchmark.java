package dev.understudy.workbench;

import dev.understudy.testkit.UsersWorkload;
import dev.understudy.capture.CaptureConfig;
import dev.understudy.capture.CaptureSettings;
import dev.understudy.capture.CdcCapture;

import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.postgresql.PGConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.OutputStream;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.function.LongSupplier;

/**
 * Capture throughput, snapshot and streaming, each next to what PostgreSQL alone does with the same
 * rows in the same run: a binary COPY out of the table (snapshot baseline) and decoding the same
 * WAL with pgoutput through a second slot (streaming baseline). The ratio says how much of the
 * database's own speed the capture keeps.
 */
@Command(name = "capture", mixinStandardHelpOptions = true,
        description = "Capture rows/s (snapshot and streaming) against COPY and raw pgoutput decoding of the same rows.")
final class CaptureBenchmark implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "200000", description = "Rows to snapshot, then to insert and stream (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--small-transactions", defaultValue = "50000",
            description = "Single-row transactions streamed with and without transaction metadata (default: ${DEFAULT-VALUE}).")
    int smallTransactions;

    @Override
    public Integer call() throws Exception {
        try (EmbeddedStack stack = EmbeddedStack.start(Home.dir().resolve("bench"), "UTC")) {
            try (Connection c = stack.legacy().connect()) {
                UsersWorkload.createAndFill(c, rows);
            }
            String prefix = "bench";
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
                admin.createTopics(List.of(new NewTopic(Topics.legacy(prefix, "public.users"), 3, (short) 1),
                        new NewTopic(Topics.commits(prefix), 1, (short) 1))).all().get();
            }

            double copySeconds;
            try (Connection c = stack.legacy().connect()) {
                long start = System.nanoTime();
                long copied = c.unwrap(PGConnection.class).getCopyAPI()
                        .copyOut("COPY (SELECT * FROM public.users) TO STDOUT (FORMAT binary)", OutputStream.nullOutputStream());
                copySeconds = (System.nanoTime() - start) / 1e9;
                if (copied != rows) {
                    throw new IllegalStateException("COPY returned " + copied + " rows, expected " + rows);
                }
            }

            CaptureSettings settings = new CaptureSettings("bench-legacy", "legacy", stack.legacy().jdbcUrl(), stack.legacy().user(),
                    stack.legacy().password(), List.of("public.users"), prefix, stack.kafka().bootstrapServers(), "bench_legacy",
                    "bench_legacy", Topics.offsets(prefix, "legacy"), 1, CaptureConfig.DEFAULTS);
            try (CdcCapture capture = new CdcCapture(settings, new ConfluentRegistryClient(stack.registry().url()))) {
                long start = System.nanoTime();
                capture.start();
                await(capture, () -> capture.metrics().snapshotRows(), rows);
                double snapshotSeconds = (System.nanoTime() - start) / 1e9;

                try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                    // A second slot on the same publication sees exactly the WAL the capture streams.
                    s.execute("SELECT pg_create_logical_replication_slot('bench_baseline', 'pgoutput')");
                    s.execute("INSERT INTO public.users (name, email) SELECT 'Bench ' || g, 'bench' || g || '@example.com' "
                            + "FROM generate_series(1, " + rows + ") g");
                }
                start = System.nanoTime();
                await(capture, () -> capture.metrics().streamedChanges(), rows);
                double streamSeconds = (System.nanoTime() - start) / 1e9;
                capture.close();

                // Transaction metadata (writer.transaction.boundaries) costs per transaction: Debezium adds
                // a BEGIN and an END record to each, and the capture announces commits. Single-row
                // transactions are its worst case. Two captures with their own slots, one without metadata
                // (baseline) and one with, each snapshot the table once, then stream the same kind of backlog
                // from a restart (engine start included), taking turns twice so warm-up favours neither.
                CaptureSettings plain = new CaptureSettings("bench-legacy-plain", "legacy", stack.legacy().jdbcUrl(),
                        stack.legacy().user(), stack.legacy().password(), List.of("public.users"), prefix,
                        stack.kafka().bootstrapServers(), "bench_legacy_plain", "bench_legacy", Topics.offsets(prefix, "legacy-plain"), 1, CaptureConfig.DEFAULTS);
                CaptureSettings announcing = new CaptureSettings("bench-legacy-tx", "legacy", stack.legacy().jdbcUrl(),
                        stack.legacy().user(), stack.legacy().password(), List.of("public.users"), prefix,
                        stack.kafka().bootstrapServers(), "bench_legacy_tx", "bench_legacy", Topics.offsets(prefix, "legacy-tx"), 1, CaptureConfig.DEFAULTS)
                        .withCommitsTopic(Topics.commits(prefix));
                snapshotOnce(stack, plain);
                snapshotOnce(stack, announcing);
                double plainTxSeconds = 0;
                double announcingTxSeconds = 0;
                for (int round = 0; round < 2; round++) {
                    // Both slots stand before the same backlog; the order alternates between rounds.
                    long until = insertSmallTransactions(stack, round);
                    if (round % 2 == 0) {
                        plainTxSeconds += streamUntil(stack, plain, until);
                        announcingTxSeconds += streamUntil(stack, announcing, until);
                    } else {
                        announcingTxSeconds += streamUntil(stack, announcing, until);
                        plainTxSeconds += streamUntil(stack, plain, until);
                    }
                }
                double plainTxRate = 2.0 * (smallTransactions + 1) / plainTxSeconds;
                double announcingTxRate = 2.0 * (smallTransactions + 1) / announcingTxSeconds;

                double decodeSeconds;
                try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                    long t0 = System.nanoTime();
                    try (ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_logical_slot_get_binary_changes('bench_baseline', NULL, NULL,"
                            + " 'proto_version', '1', 'publication_names', 'bench_legacy')")) {
                        rs.next();
                    }
                    decodeSeconds = (System.nanoTime() - t0) / 1e9;
                    s.execute("SELECT pg_drop_replication_slot('bench_baseline')");
                }
                System.out.printf("Capture benchmark, %,d rows of public.users, %d cores%n", rows, Runtime.getRuntime().availableProcessors());
                System.out.printf("  snapshot:  capture %,10.0f rows/s   COPY out (baseline) %,10.0f rows/s   ratio %.3f%n",
                        rows / snapshotSeconds, rows / copySeconds, copySeconds / snapshotSeconds);
                System.out.printf("  streaming: capture %,10.0f rows/s   pgoutput decoding (baseline) %,10.0f rows/s   ratio %.3f%n",
                        rows / streamSeconds, rows / decodeSeconds, decodeSeconds / streamSeconds);
                System.out.printf("  streaming %,d single-row transactions: with transaction metadata and commit announcements %,10.0f rows/s"
                                + "   without (baseline) %,10.0f rows/s   ratio %.3f%n", smallTransactions, announcingTxRate, plainTxRate,
                        announcingTxRate / plainTxRate);
                System.out.printf("  JVM peak heap %,d MiB%n", DemoCommand.peakHeapMiB());
            }
        }
        return 0;
    }

    /** Starts a capture that has never run, lets it snapshot the table, and stops it once its offsets are stored. */
    private static void snapshotOnce(EmbeddedStack stack, CaptureSettings settings) throws Exception {
        long tableRows;
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM public.users")) {
            rs.next();
            tableRows = rs.getLong(1);
        }
        try (CdcCapture capture = new CdcCapture(settings, new ConfluentRegistryClient(stack.registry().url()))) {
            capture.start();
            await(capture, () -> capture.metrics().snapshotRows(), tableRows);
            // Past offset.flush.interval.ms, so the restart resumes streaming instead of snapshotting again.
            Thread.sleep(2_000);
        }
    }

    /**
     * Commits {@link #smallTransactions} single-row inserts and one more; returns a WAL position at or
     * below the last one's change (the insert position just before it), which a capture has streamed
     * everything up to once it acknowledged a change there. A count would not do: a restart may replay.
     */
    private long insertSmallTransactions(EmbeddedStack stack, int round) throws Exception {
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            c.setAutoCommit(true);
            // COMMIT inside a DO block (PostgreSQL 11+, outside a transaction block) makes each insert its own transaction.
            s.execute("DO $$ BEGIN FOR i IN 1.." + smallTransactions + " LOOP INSERT INTO public.users (name, email) VALUES ('Tx "
                    + round + " ' || i, 'tx' || i || '@example.com'); COMMIT; END LOOP; END $$");
            long until;
            try (ResultSet rs = s.executeQuery("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint")) {
                rs.next();
                until = rs.getLong(1);
            }
            s.execute("INSERT INTO public.users (name, email) VALUES ('Tx " + round + " last', 'tx-last@example.com')");
            return until;
        }
    }

    /** Seconds from starting a capture on {@code settings} (resuming from its offsets) until it acknowledged a change at {@code lsn} or later. */
    private static double streamUntil(EmbeddedStack stack, CaptureSettings settings, long lsn) throws Exception {
        try (CdcCapture capture = new CdcCapture(settings, new ConfluentRegistryClient(stack.registry().url()))) {
            long start = System.nanoTime();
            capture.start();
            await(capture, () -> capture.metrics().lastLsn(), lsn);
            double seconds = (System.nanoTime() - start) / 1e9;
            // Past offset.flush.interval.ms, so the next start resumes after this backlog.
            Thread.sleep(2_000);
            return seconds;
        }
    }

    private static void await(CdcCapture capture, LongSupplier counter, long target) throws InterruptedException {
        while (counter.getAsLong() < target) {
            if (capture.failure() != null) {
                throw new IllegalStateException("Capture failed: " + capture.failure().getMessage(), capture.failure());
            }
            Thread.sleep(5);
        }
    }
}

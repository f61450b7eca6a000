package dev.understudy.cli;

import dev.understudy.capture.CaptureSettings;
import dev.understudy.capture.CdcCapture;
import dev.understudy.pipeline.UsersWorkload;
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

    @Override
    public Integer call() throws Exception {
        try (EmbeddedStack stack = EmbeddedStack.start(Home.dir().resolve("bench"), "UTC")) {
            try (Connection c = stack.legacy().connect()) {
                UsersWorkload.createAndFill(c, rows);
            }
            String prefix = "bench";
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
                admin.createTopics(List.of(new NewTopic(Topics.legacy(prefix, "public.users"), 3, (short) 1))).all().get();
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
                    "bench_legacy", prefix + ".offsets.legacy", 1, 10, 4096);
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
                System.out.printf("  JVM peak heap %,d MiB%n", DemoCommand.peakHeapMiB());
            }
        }
        return 0;
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

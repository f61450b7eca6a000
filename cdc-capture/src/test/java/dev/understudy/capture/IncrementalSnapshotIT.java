package dev.understudy.capture;

import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Incremental snapshot of a table added to a running capture, on real PostgreSQL and Kafka.
 * <p>
 * Table b is filled while not captured, so its rows are in no topic; the capture is restarted with
 * b added (its offsets exist, so there is no initial snapshot of b) and an incremental snapshot of b
 * runs while a writer keeps updating, deleting and inserting b's rows. Read in order, b's topic must
 * then end at exactly b's final contents.
 */
class IncrementalSnapshotIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final String PREFIX = "it";
    private static final int B_ROWS = 5_000;
    /** Keys the writer inserts start here, above any key of the initial fill. */
    private static final long FIRST_NEW_KEY = 1_000_000;
    private static final long SENTINEL_KEY = 9_000_000;

    @TempDir
    static Path work;
    static EmbeddedStack stack;
    static RegistryClient registry;

    @BeforeAll
    static void start() throws Exception {
        stack = EmbeddedStack.start(work, PG_TIME_ZONE);
        registry = new ConfluentRegistryClient(stack.registry().url());
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
            // One partition each, so that a topic's order is the capture's order across keys (the sentinel).
            admin.createTopics(List.of(new NewTopic(Topics.legacy(PREFIX, "public.a"), 1, (short) 1),
                    new NewTopic(Topics.legacy(PREFIX, "public.b"), 1, (short) 1))).all().get();
        }
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    private static CaptureSettings settings(List<String> tables) {
        return new CaptureSettings(PREFIX + "-legacy", "legacy", stack.legacy().jdbcUrl(), stack.legacy().user(),
                stack.legacy().password(), tables, PREFIX, stack.kafka().bootstrapServers(), PREFIX + "_legacy", PREFIX + "_legacy",
                Topics.offsets(PREFIX, "legacy"), 1, CaptureConfig.of(Map.of(CaptureConfig.MAX_BATCH_SIZE.name(), "2048")));
    }

    @Test
    void incrementalSnapshotOfAnAddedTableConvergesUnderConcurrentWrites() throws Exception {
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.a (id bigint PRIMARY KEY, v text)");
            s.execute("INSERT INTO public.a SELECT g, 'a' || g FROM generate_series(1, 100) g");
        }

        // 1. Capture a only: initial snapshot, then streaming; b is created and filled meanwhile, uncaptured.
        try (CdcCapture first = new CdcCapture(settings(List.of("public.a")), registry).start()) {
            await(() -> first.metrics().snapshotRows() >= 100, first, "initial snapshot of a");
            exec("INSERT INTO public.a VALUES (101, 'streamed')");
            await(() -> first.metrics().streamedChanges() >= 1, first, "streaming of a");
            exec("CREATE TABLE public.b (id bigint PRIMARY KEY, name text NOT NULL, qty integer NOT NULL)",
                    "INSERT INTO public.b SELECT g, 'b' || g, 0 FROM generate_series(1, " + B_ROWS + ") g");
            exec("INSERT INTO public.a VALUES (102, 'after b')");
            await(() -> first.metrics().streamedChanges() >= 2, first, "streaming past b's fill");
            // Offsets are flushed every second; let the streamed position be committed before stopping.
            Thread.sleep(2_500);
        }
        assertTrue(publicationTables().contains("public.it_legacy_signal"), "signal table published: " + publicationTables());
        assertFalse(publicationTables().contains("public.b"), "b not captured yet: " + publicationTables());

        // 2. Restart with b added: the publication gains b, b streams, nothing is snapshotted.
        CaptureSettings withB = settings(List.of("public.a", "public.b"));
        try (CdcCapture capture = new CdcCapture(withB, registry).start()) {
            exec("INSERT INTO public.b VALUES (" + (FIRST_NEW_KEY - 1) + ", 'streamed after restart', 1)");
            await(() -> capture.metrics().streamedChanges() >= 1, capture, "streaming of b after the restart");
            assertEquals(0, capture.metrics().snapshotRows(), "the restarted capture must resume, not snapshot again");
            assertTrue(publicationTables().containsAll(List.of("public.a", "public.b", "public.it_legacy_signal")),
                    "publication after restart: " + publicationTables());

            IllegalArgumentException notCaptured = assertThrows(IllegalArgumentException.class,
                    () -> capture.requestIncrementalSnapshot(List.of("public.b", "public.c")));
            assertTrue(notCaptured.getMessage().contains("public.c") && notCaptured.getMessage().contains("[public.a, public.b]"),
                    notCaptured.getMessage());
            assertEquals(IncrementalSnapshotProgress.NONE, capture.incrementalSnapshot());

            exec("ANALYZE public.b");
            long rowsAtRequest = count("public.b");

            // 3. Writer on b, then the snapshot request while it writes.
            Writer writer = new Writer();
            Thread writerThread = new Thread(writer, "b-writer");
            writerThread.start();
            Thread.sleep(300);
            long opsBeforeRequest = writer.ops.get();
            String signalId = capture.requestIncrementalSnapshot(List.of("public.b"));
            assertEquals(signalId, capture.incrementalSnapshot().signalId());
            IncrementalSnapshotProgress.TableProgress requested = capture.incrementalSnapshot().table("public.b").orElseThrow();
            assertTrue(Math.abs(requested.estimatedTotalRows() - rowsAtRequest) <= rowsAtRequest / 10,
                    "estimate " + requested.estimatedTotalRows() + " vs " + rowsAtRequest);

            await(() -> capture.incrementalSnapshot().completed(), capture, "incremental snapshot completion");
            Thread.sleep(300);
            writer.stop.set(true);
            writerThread.join(10_000);
            assertNull(writer.failure.get(), "writer failed");
            long opsDuringSnapshot = writer.ops.get() - opsBeforeRequest;
            exec("INSERT INTO public.b VALUES (" + SENTINEL_KEY + ", 'sentinel', 0)");

            // 4. b's topic, read in order up to the sentinel, against b's final contents.
            Map<Long, GenericRecord> last = new HashMap<>();
            List<GenericRecord> reads = new ArrayList<>();
            consume(Topics.legacy(PREFIX, "public.b"), SENTINEL_KEY, last, reads);
            Map<Long, String> expected = new TreeMap<>();
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT id, name, qty FROM public.b")) {
                while (rs.next()) {
                    expected.put(rs.getLong(1), rs.getString(2) + "|" + rs.getInt(3));
                }
            }
            Map<Long, String> actual = new TreeMap<>();
            last.forEach((id, envelope) -> {
                GenericRecord after = (GenericRecord) envelope.get(ChangeEnvelope.AFTER);
                if (!"d".equals(envelope.get(ChangeEnvelope.OP).toString())) {
                    actual.put(id, after.get("name") + "|" + after.get("qty"));
                }
            });
            assertEquals(expected.size(), actual.size(), "live keys in b vs in b's topic");
            assertEquals(expected, actual);
            for (long id : writer.deleted) {
                assertEquals("d", last.get(id).get(ChangeEnvelope.OP).toString(), "deleted key " + id + " must end deleted");
            }
            // Keys the writer never touched were never streamed: only the incremental snapshot carried them.
            int untouchedChecked = 0;
            for (long id = 1; id <= B_ROWS; id++) {
                if (!writer.touched.contains(id)) {
                    GenericRecord e = last.get(id);
                    assertEquals("r", e.get(ChangeEnvelope.OP).toString(), "untouched key " + id);
                    untouchedChecked++;
                }
            }
            assertTrue(untouchedChecked > B_ROWS / 2, "untouched keys: " + untouchedChecked);

            // 5. Incremental reads are flagged as snapshot reads, so they are versioned 0 downstream. They
            //    could not be versioned by LSN anyway: Debezium 3.6 leaves source.lsn unset on them (the
            //    envelope then holds 0), and a chunk is read at a point between streamed changes.
            for (GenericRecord r : reads) {
                GenericRecord source = (GenericRecord) r.get(ChangeEnvelope.SOURCE);
                assertEquals(true, source.get("snapshot"));
            }
            System.out.printf("LSN of incremental reads: %d zero, %d non-zero, distinct %s%n",
                    reads.stream().filter(r -> lsn(r) == 0).count(), reads.stream().filter(r -> lsn(r) != 0).count(),
                    reads.stream().map(IncrementalSnapshotIT::lsn).distinct().limit(10).toList());

            // 6. Progress.
            IncrementalSnapshotProgress progress = capture.incrementalSnapshot();
            IncrementalSnapshotProgress.TableProgress b = progress.table("public.b").orElseThrow();
            assertTrue(progress.completed() && progress.started() && !progress.aborted(), progress.toString());
            assertTrue(b.scanCompleted(), b.toString());
            assertEquals("SUCCEEDED", b.scanStatus());
            assertTrue(b.totalRowsScanned() >= rowsAtRequest - opsDuringSnapshot
                    && b.totalRowsScanned() <= rowsAtRequest + opsDuringSnapshot,
                    "scanned " + b.totalRowsScanned() + ", table had " + rowsAtRequest + ", writer ops " + opsDuringSnapshot);
            assertEquals(reads.size(), b.rowsEmitted(), "rows emitted = snapshot reads on b's topic");
            assertTrue(b.rowsEmitted() <= b.totalRowsScanned() && b.rowsEmitted() >= b.totalRowsScanned() - opsDuringSnapshot,
                    progress.toString());
            assertEquals(b.rowsEmitted(), capture.metrics().incrementalSnapshotRows());
            assertEquals(0, capture.metrics().snapshotRows());
            assertNull(capture.failure());
            System.out.printf("Incremental snapshot of public.b: %s, writer ops during it %d, LSN of reads %d..%d%n", progress,
                    opsDuringSnapshot, reads.stream().mapToLong(IncrementalSnapshotIT::lsn).min().orElse(0),
                    reads.stream().mapToLong(IncrementalSnapshotIT::lsn).max().orElse(0));
        }

        // 7. Neither signals, watermarks nor notifications reached Kafka.
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
            Set<String> topics = admin.listTopics().names().get();
            for (String t : topics) {
                assertFalse(t.contains("signal") || t.contains("notification"), "unexpected topic " + t + " in " + topics);
            }
        }
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FILTER (WHERE type = 'execute-snapshot'), count(*) FROM public.it_legacy_signal")) {
            rs.next();
            assertEquals(1, rs.getLong(1), "one execute-snapshot signal");
            assertTrue(rs.getLong(2) > 1, "Debezium wrote window watermarks into the signal table");
        }
    }

    private static long lsn(GenericRecord envelope) {
        return ((Number) ((GenericRecord) envelope.get(ChangeEnvelope.SOURCE)).get("lsn")).longValue();
    }

    /** Random updates, deletes and inserts on b, one per transaction, until stopped. */
    private static final class Writer implements Runnable {
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicLong ops = new AtomicLong();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final Set<Long> deleted = java.util.concurrent.ConcurrentHashMap.newKeySet();
        final Set<Long> touched = java.util.concurrent.ConcurrentHashMap.newKeySet();

        @Override
        public void run() {
            long nextKey = FIRST_NEW_KEY;
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                while (!stop.get()) {
                    ThreadLocalRandom r = ThreadLocalRandom.current();
                    long id = 1 + r.nextLong(B_ROWS);
                    int op = r.nextInt(10);
                    if (op < 6) {
                        touched.add(id);
                        s.executeUpdate("UPDATE public.b SET qty = qty + 1, name = 'u' || (qty + 1) || '-' || id WHERE id = " + id);
                    } else if (op < 8) {
                        touched.add(id);
                        if (s.executeUpdate("DELETE FROM public.b WHERE id = " + id) == 1) {
                            deleted.add(id);
                        }
                    } else {
                        s.executeUpdate("INSERT INTO public.b VALUES (" + nextKey++ + ", 'inserted', 0)");
                    }
                    ops.incrementAndGet();
                    Thread.sleep(1);
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }
    }

    /** Reads {@code topic} from the start until the sentinel key; the last envelope per key, and every snapshot read. */
    private static void consume(String topic, long sentinel, Map<Long, GenericRecord> last, List<GenericRecord> reads) {
        try (KafkaConsumer<GenericRecord, GenericRecord> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5000),
                new AvroDeserializer(registry), new AvroDeserializer(registry))) {
            TopicPartition tp = new TopicPartition(topic, 0);
            consumer.assign(List.of(tp));
            consumer.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<GenericRecord, GenericRecord> rec : consumer.poll(Duration.ofMillis(200))) {
                    long id = ((Number) rec.key().get("id")).longValue();
                    GenericRecord envelope = rec.value();
                    last.put(id, envelope);
                    if ("r".equals(envelope.get(ChangeEnvelope.OP).toString())) {
                        reads.add(envelope);
                    }
                    if (id == sentinel) {
                        return;
                    }
                }
            }
            fail("sentinel " + sentinel + " not seen on " + topic + " within 60 s; read " + last.size() + " keys");
        }
    }

    private static void exec(String... sql) throws SQLException {
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            for (String q : sql) {
                s.execute(q);
            }
        }
    }

    private static long count(String table) throws SQLException {
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static Set<String> publicationTables() throws SQLException {
        Set<String> out = new HashSet<>();
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = '"
                     + PREFIX + "_legacy'")) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    private static void await(BooleanSupplier condition, CdcCapture capture, String what) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        while (!condition.getAsBoolean()) {
            if (capture.failure() != null) {
                throw new AssertionError("capture failed while waiting for " + what, capture.failure());
            }
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what + "; progress " + capture.incrementalSnapshot());
            }
            Thread.sleep(20);
        }
    }
}

package dev.understudy.pipeline;

import dev.understudy.testkit.UsersWorkload;
import dev.understudy.testkit.UsersChecksum;
import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.TransformConfig;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The whole path on the embedded stack: 10,000 pre-existing legacy rows (snapshot) plus a concurrent
 * random writer (inserts, updates, primary-key changes, deletes); then the target must equal the
 * expected result computed by SQL on the legacy database, and drift must be zero. Afterwards, rogue
 * changes made straight in the target must be reported exactly, and resolved once repaired.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class PipelineIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    @TempDir
    static Path work;
    static EmbeddedStack stack;
    static Pipeline pipeline;

    @BeforeAll
    static void start() throws Exception {
        stack = EmbeddedStack.start(work, PG_TIME_ZONE);
        try (Connection c = stack.legacy().connect()) {
            UsersWorkload.createAndFill(c, 10_000);
        }
        pipeline = new Pipeline(TestPipelines.config(stack, work.resolve("streams"), TransformConfig.SETTLE_MS.name(), "3000"),
                Migrations.defaultMappings()).start();
    }

    @AfterAll
    static void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    @Order(1)
    void snapshotPlusConcurrentChurnConvergesToTheSqlExpectedResult() throws Exception {
        Map<String, String> s = stack.connectionSettings();
        try (UsersWorkload workload = new UsersWorkload(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"), 400).start(2)) {
            Thread.sleep(12_000);
            assertNull(pipeline.failure(), "pipeline stage failed");
            assertTrue(workload.changes() > 1000, "workload made too few changes: " + workload.changes());
            assertTrue(workload.keyChanges() > 0, "workload made no primary-key change");
        }
        awaitConverged(Duration.ofSeconds(120));
        try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
            List<String> expected = UsersChecksum.expectedRows(l);
            List<String> actual = UsersChecksum.actualRows(t);
            assertTrue(expected.size() > 9000, "expected rows: " + expected.size());
            assertEquals(expected.size(), actual.size(), "row count");
            assertEquals(expected, actual);
        }
        assertEquals(0, pipeline.drift().totalOpen());
        assertEquals(0, pipeline.writer().metrics().deadLettered());
    }

    @Test
    @Order(2)
    void rogueTargetChangesAreReportedExactlyAndResolvedOnceRepaired() throws Exception {
        awaitConverged(Duration.ofSeconds(60));
        String prefix = pipeline.prefix();
        try (KafkaConsumer<String, GenericRecord> divergences = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new AvroDeserializer(pipeline.registry()))) {
            List<TopicPartition> partitions = divergences.partitionsFor(Topics.divergence(prefix)).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            divergences.assign(partitions);
            divergences.seekToEnd(partitions);
            partitions.forEach(divergences::position);

            long updated;
            long deleted;
            long extra;
            String deletedRow;
            try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
                var rs = st.executeQuery("SELECT id FROM public.users ORDER BY id LIMIT 2");
                rs.next();
                updated = rs.getLong(1);
                rs.next();
                deleted = rs.getLong(1);
                rs = st.executeQuery("SELECT full_name, email, created_at FROM public.users WHERE id = " + deleted);
                rs.next();
                deletedRow = rs.getString(1) + "\u0000" + rs.getString(2) + "\u0000" + rs.getString(3);
                rs = st.executeQuery("SELECT max(id) + 1000000 FROM public.users");
                rs.next();
                extra = rs.getLong(1);
                st.execute("UPDATE public.users SET full_name = 'Rogue edit' WHERE id = " + updated);
                st.execute("DELETE FROM public.users WHERE id = " + deleted);
                st.execute("INSERT INTO public.users (id, full_name, email) VALUES (" + extra + ", 'Rogue insert', 'rogue@example.com')");
            }

            Map<String, String> reported = collect(divergences, 3, Duration.ofSeconds(60));
            assertEquals(Map.of(
                    "{\"id\":" + updated + "}", "MISMATCH",
                    "{\"id\":" + deleted + "}", "MISSING",
                    "{\"id\":" + extra + "}", "UNEXPECTED"), reported);
            await(Duration.ofSeconds(30), () -> pipeline.drift().totalOpen() == 3, "drift to show the 3 open divergences");

            // Repair by hand, from the legacy truth.
            try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect(); Statement st = t.createStatement()) {
                var rs = l.createStatement().executeQuery("SELECT name FROM public.users WHERE id = " + updated);
                rs.next();
                String name = rs.getString(1);
                try (var ps = t.prepareStatement("UPDATE public.users SET full_name = ? WHERE id = ?")) {
                    ps.setString(1, name);
                    ps.setLong(2, updated);
                    ps.executeUpdate();
                }
                String[] parts = deletedRow.split("\u0000");
                try (var ps = t.prepareStatement("INSERT INTO public.users (id, full_name, email, created_at) VALUES (?, ?, ?, ?::timestamptz)")) {
                    ps.setLong(1, deleted);
                    ps.setString(2, parts[0]);
                    ps.setString(3, parts[1]);
                    ps.setString(4, parts[2]);
                    ps.executeUpdate();
                }
                st.execute("DELETE FROM public.users WHERE id = " + extra);
            }
            Map<String, String> resolved = collect(divergences, 3, Duration.ofSeconds(60));
            assertEquals(Map.of(
                    "{\"id\":" + updated + "}", "RESOLVED",
                    "{\"id\":" + deleted + "}", "RESOLVED",
                    "{\"id\":" + extra + "}", "RESOLVED"), resolved);
            await(Duration.ofSeconds(30), () -> pipeline.drift().totalOpen() == 0, "drift back to zero");
            // Nothing else was reported meanwhile.
            assertTrue(divergences.poll(Duration.ofSeconds(4)).isEmpty(), "no further divergence events");
        }
    }

    @Test
    @Order(3)
    void restartResumesFromStoredOffsetsWithoutSnapshottingAgainEvenWithUnreadableLocalState() throws Exception {
        awaitConverged(Duration.ofSeconds(60));
        pipeline.close();
        Map<String, String> s = stack.connectionSettings();
        // Changes made while the pipeline is down wait in the replication slot.
        try (UsersWorkload workload = new UsersWorkload(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"), 400).start(1)) {
            Thread.sleep(3_000);
            assertTrue(workload.changes() > 100, "workload made too few changes: " + workload.changes());
        }
        // Local state a process left unreadable (as after a crash): the start deletes it and restores
        // from the changelog topics instead of failing with "Error opening store".
        int broken = 0;
        try (var files = java.nio.file.Files.walk(work.resolve("streams").resolve(dev.understudy.schemas.Topics.comparisonApplication("understudy")))) {
            for (Path current : files.filter(f -> f.getFileName().toString().equals("CURRENT")).toList()) {
                java.nio.file.Files.writeString(current, "not a manifest name");
                broken++;
            }
        }
        assertTrue(broken > 0, "no RocksDB store of the comparison found to break");
        pipeline = new Pipeline(TestPipelines.config(stack, work.resolve("streams"), TransformConfig.SETTLE_MS.name(), "3000"),
                Migrations.defaultMappings()).start();
        awaitConverged(Duration.ofSeconds(90));
        assertEquals(0, pipeline.legacyCapture().metrics().snapshotRows(), "the restarted capture must resume, not snapshot again");
        assertTrue(pipeline.legacyCapture().metrics().streamedChanges() > 100,
                "streamed after restart: " + pipeline.legacyCapture().metrics().streamedChanges());
        try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
            assertEquals(UsersChecksum.expectedRows(l), UsersChecksum.actualRows(t));
        }
    }

    /**
     * Any Confluent-compatible consumer can read what the pipeline writes: this one uses only a Kafka
     * consumer, Confluent's REST client and Apache Avro (no project classes) to decode every record of
     * every topic the pipeline writes, keys and values.
     */
    @Test
    @Order(4)
    void aPlainConfluentWireFormatConsumerDecodesEveryTopic() throws Exception {
        String prefix = pipeline.prefix();
        var rest = new org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.RestService(
                stack.registry().url());
        Map<Integer, org.apache.avro.Schema> schemas = new HashMap<>();
        List<String> topics = List.of(prefix + ".legacy.public.users", prefix + ".new.public.users", prefix + ".target.public.users",
                prefix + ".divergence", prefix + ".drift", prefix + ".dlq");
        Map<String, Integer> decoded = new java.util.TreeMap<>();
        int streamedRows = 0;
        List<String> withoutCommitOrder = new java.util.ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            for (String topic : topics) {
                List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                        .map(p -> new TopicPartition(topic, p.partition())).toList();
                consumer.assign(partitions);
                consumer.seekToBeginning(partitions);
                Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
                int n = 0;
                while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                    for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                        // Divergence and drift keys are plain strings; dead letters keep the bytes they failed
                        // on. Every other key, and every other value, is Avro in the wire format.
                        if (!topic.endsWith(".divergence") && !topic.endsWith(".drift") && !topic.endsWith(".dlq")) {
                            decode(r.key(), rest, schemas, topic + " key at " + r.partition() + "@" + r.offset());
                        }
                        if (topic.equals(prefix + ".new.public.users")
                                && !"r".equals(dev.understudy.schemas.ChangeHeaders.getString(r.headers(), dev.understudy.schemas.ChangeHeaders.OP))) {
                            // Streamed changes carry their transaction's commit order (Debezium's source.sequence).
                            streamedRows++;
                            if (r.headers().lastHeader(dev.understudy.schemas.ChangeHeaders.COMMIT_ORDER) == null) {
                                withoutCommitOrder.add(r.partition() + "@" + r.offset());
                            }
                        }
                        if (r.value() != null && !topic.endsWith(".dlq")) {
                            decode(r.value(), rest, schemas, topic + " value at " + r.partition() + "@" + r.offset());
                        }
                        n++;
                    }
                }
                decoded.put(topic, n);
            }
        }
        for (String topic : topics.subList(0, 5)) {
            assertTrue(decoded.get(topic) > 0, "nothing decoded from " + topic + ": " + decoded);
        }
        assertTrue(streamedRows > 0, "no streamed rows on the new-schema topic");
        assertTrue(withoutCommitOrder.isEmpty(), "streamed rows without a commit order: " + withoutCommitOrder);
    }

    private static void decode(byte[] payload, org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.RestService rest,
                               Map<Integer, org.apache.avro.Schema> schemas, String where) throws Exception {
        java.nio.ByteBuffer buffer = java.nio.ByteBuffer.wrap(payload);
        assertEquals(0, buffer.get(), "magic byte of " + where);
        int id = buffer.getInt();
        org.apache.avro.Schema schema = schemas.get(id);
        if (schema == null) {
            schema = new org.apache.avro.Schema.Parser().parse(rest.getId(id).getSchemaString());
            schemas.put(id, schema);
        }
        var reader = new org.apache.avro.generic.GenericDatumReader<org.apache.avro.generic.GenericRecord>(schema);
        var decoder = org.apache.avro.io.DecoderFactory.get().binaryDecoder(payload, 5, payload.length - 5, null);
        reader.read(null, decoder);
        assertTrue(decoder.isEnd(), "trailing bytes after the Avro datum of " + where);
    }

    /** Reads divergence events until {@code count} distinct keys were seen; key -> last kind. */
    private static Map<String, String> collect(KafkaConsumer<String, GenericRecord> consumer, int count, Duration timeout) {
        Map<String, String> seen = new HashMap<>();
        List<String> all = new ArrayList<>();
        long deadline = System.nanoTime() + timeout.toNanos();
        while (seen.size() < count && System.nanoTime() < deadline) {
            for (ConsumerRecord<String, GenericRecord> r : consumer.poll(Duration.ofMillis(200))) {
                seen.put(r.value().get("key").toString(), r.value().get("kind").toString());
                all.add(r.value().toString());
            }
        }
        if (seen.size() < count) {
            fail("expected " + count + " divergence events within " + timeout + ", got " + all);
        }
        return seen;
    }

    private static void awaitConverged(Duration timeout) throws Exception {
        TestPipelines.awaitUsersConverged(stack, pipeline, timeout);
    }

    private static void await(Duration timeout, BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                fail("timed out waiting for " + what);
            }
            Thread.sleep(100);
        }
    }
}

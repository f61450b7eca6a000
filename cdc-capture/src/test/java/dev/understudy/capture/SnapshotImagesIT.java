package dev.understudy.capture;

import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.testkit.TypeEdges;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.replication.LogSequenceNumber;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@link SnapshotImages} against the capture itself: the capture's initial snapshot of tables holding
 * every carried type of docs/types.md at its edge values (TOASTed text and bytea, infinities, BC dates,
 * multi-dimensional arrays, NULLs), a composite key of text and integer, and a quoted mixed-case
 * table; then the images of the same rows read by {@code SnapshotImages}. Every key and every row
 * image must be equal, schemas included (Avro's record equality compares both).
 */
class SnapshotImagesIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final String PREFIX = "si";

    @TempDir
    static Path work;
    static EmbeddedStack stack;
    static RegistryClient registry;

    @BeforeAll
    static void start() {
        stack = EmbeddedStack.start(work, PG_TIME_ZONE);
        registry = new ConfluentRegistryClient(stack.registry().url());
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void imagesEqualTheCapturesSnapshotRecordsForEveryCarriedType() throws Exception {
        List<TypeEdges.TypeRow> carried = TypeEdges.readTypeTable(TypeEdges.locate("docs/types.md")).stream()
                .filter(t -> !t.refused()).toList();
        int rows = carried.stream().mapToInt(t -> TypeEdges.EDGES.get(t.pgType()).size()).max().orElseThrow() + 1;
        List<String> tables = List.of("fidelity.types", "fidelity.composite", "fidelity.MixedCase");
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA fidelity");
            s.execute(TypeEdges.createTable("fidelity.types", carried, true));
            // Each value in every row, shifted by one per row, and a row of NULLs (createTable's id 0 is absent).
            TypeEdges.insertRows(s, "fidelity.types", carried, 1, rows, 0);
            TypeEdges.insertRows(s, "fidelity.types", carried, 101, rows, 1);
            s.execute("INSERT INTO fidelity.types (id) VALUES (1000)");
            s.execute("CREATE TABLE fidelity.composite (region text, n integer, note text, PRIMARY KEY (region, n))");
            s.execute("INSERT INTO fidelity.composite SELECT 'r' || (i % 3), i, CASE WHEN i % 2 = 0 THEN " + TypeEdges.TOASTED
                    + " ELSE 'short ' || i END FROM generate_series(1, 40) i");
            s.execute("CREATE TABLE fidelity.\"MixedCase\" (\"Id\" bigint PRIMARY KEY, \"Some Value\" numeric(10,3), flag boolean)");
            s.execute("INSERT INTO fidelity.\"MixedCase\" SELECT i, i / 7.0, i % 2 = 0 FROM generate_series(1, 25) i");
        }
        CaptureSettings settings = new CaptureSettings(PREFIX + "-legacy", "legacy", stack.legacy().jdbcUrl(), stack.legacy().user(),
                stack.legacy().password(), tables, PREFIX, stack.kafka().bootstrapServers(), PREFIX + "_legacy", PREFIX + "_legacy",
                Topics.offsets(PREFIX, "legacy"), 1, CaptureConfig.DEFAULTS);
        long expectedRows = 2L * rows + 1 + 40 + 25;
        try (CdcCapture capture = new CdcCapture(settings, registry).start()) {
            long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
            while (capture.metrics().snapshotRows() < expectedRows) {
                if (capture.failure() != null) {
                    throw new AssertionError("capture failed", capture.failure());
                }
                if (System.nanoTime() > deadline) {
                    fail("capture's snapshot read " + capture.metrics().snapshotRows() + " of " + expectedRows + " rows");
                }
                Thread.sleep(50);
            }
            assertEquals(0, capture.metrics().deadLettered(), "the capture dead-lettered a carried value");
        }

        try (SnapshotImages images = SnapshotImages.open(settings); Connection reading = stack.legacy().connect()) {
            reading.setAutoCommit(false);
            for (String table : tables) {
                Map<String, GenericRecord> captured = read(Topics.legacy(PREFIX, table));
                Map<String, SnapshotImages.Image> made = new LinkedHashMap<>();
                SnapshotImages.TableImages reader = images.table(table);
                assertEquals(Topics.legacy(PREFIX, table), reader.topic());
                long read = reader.read(reading, null, LogSequenceNumber.valueOf(42), 1L,
                        image -> made.put(KeyJson.encode(image.key()), image));
                reading.commit();
                assertEquals(captured.size(), read, table + ": rows read by the images vs records of the capture's snapshot");
                assertEquals(captured.keySet(), made.keySet(), table + ": keys");
                List<String> differences = new ArrayList<>();
                for (Map.Entry<String, SnapshotImages.Image> e : made.entrySet()) {
                    GenericRecord expected = captured.get(e.getKey());
                    GenericRecord actual = e.getValue().envelope();
                    assertEquals(expected.getSchema(), actual.getSchema(), table + ": envelope schema");
                    if (!expected.get(ChangeEnvelope.AFTER).equals(actual.get(ChangeEnvelope.AFTER))) {
                        differences.add(e.getKey() + ":\n  capture " + expected.get(ChangeEnvelope.AFTER) + "\n  images  "
                                + actual.get(ChangeEnvelope.AFTER));
                    }
                    assertEquals(expected.get(ChangeEnvelope.OP).toString(), actual.get(ChangeEnvelope.OP).toString());
                    assertNull(actual.get(ChangeEnvelope.BEFORE));
                    GenericRecord expectedSource = (GenericRecord) expected.get(ChangeEnvelope.SOURCE);
                    GenericRecord actualSource = (GenericRecord) actual.get(ChangeEnvelope.SOURCE);
                    for (String field : List.of("connector", "db", "schema", "table", "snapshot", "commitOrder")) {
                        assertEquals(String.valueOf(expectedSource.get(field)), String.valueOf(actualSource.get(field)), table + ": source." + field);
                    }
                    assertEquals(42L, actualSource.get("lsn"));
                }
                assertTrue(differences.isEmpty(), table + ": " + differences.size() + " row images differ from the capture's:\n"
                        + String.join("\n", differences.subList(0, Math.min(5, differences.size()))));
            }
        }
    }

    /** The capture's records of a legacy topic (one partition), by key. */
    private static Map<String, GenericRecord> read(String topic) {
        Map<String, GenericRecord> out = new LinkedHashMap<>();
        try (KafkaConsumer<GenericRecord, GenericRecord> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new AvroDeserializer(registry), new AvroDeserializer(registry))) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(p -> consumer.position(p) < ends.get(p))) {
                for (ConsumerRecord<GenericRecord, GenericRecord> r : consumer.poll(Duration.ofMillis(200))) {
                    out.put(KeyJson.encode(r.key()), r.value());
                }
                if (System.nanoTime() > deadline) {
                    fail("could not read " + topic + " to its end within 60 s");
                }
            }
        }
        return out;
    }
}

package dev.understudy.transform;

import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.Topics;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static dev.understudy.transform.Fixtures.PREFIX;
import static dev.understudy.transform.Fixtures.TABLE;
import static dev.understudy.transform.Fixtures.key;
import static dev.understudy.transform.Fixtures.legacyChange;
import static dev.understudy.transform.Fixtures.legacyRow;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class MigrationTopologyTest {
    private static final long CREATED_AT = 1_700_000_123_456_789L; // micros, with sub-millisecond digits

    @TempDir
    Path stateDir;

    private InMemoryRegistryClient registry;
    private TopologyTestDriver driver;
    private TestInputTopic<GenericRecord, GenericRecord> legacy;
    private TestInputTopic<byte[], byte[]> legacyRaw;
    private TestOutputTopic<GenericRecord, GenericRecord> rows;
    private TestOutputTopic<byte[], byte[]> rowsRaw;
    private TestOutputTopic<byte[], byte[]> deadLetters;

    @BeforeEach
    void setUp() {
        registry = new InMemoryRegistryClient();
        StreamsBuilder builder = new StreamsBuilder();
        MigrationTopology.addTo(builder, PREFIX, Migrations.defaultMappings(), registry);
        driver = new TopologyTestDriver(builder.build(), Fixtures.driverProperties(stateDir));
        String legacyTopic = Topics.legacy(PREFIX, TABLE);
        legacy = driver.createInputTopic(legacyTopic, AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        legacyRaw = driver.createInputTopic(legacyTopic, new ByteArraySerializer(), new ByteArraySerializer());
        String newTopic = Topics.newSchema(PREFIX, TABLE);
        // Two readers of one output topic would split its records, so each test uses one of them.
        rows = driver.createOutputTopic(newTopic, AvroSerde.keys(registry).deserializer(), AvroSerde.values(registry).deserializer());
        rowsRaw = driver.createOutputTopic(newTopic, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        deadLetters = driver.createOutputTopic(Topics.deadLetter(PREFIX), new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    @Test
    void insertRenamesNameAddsNullBirthdateAndKeepsCreatedAt() {
        legacy.pipeInput(key(7), legacyChange(null, legacyRow(7L, "Ada Lovelace", "ada@example.com", CREATED_AT), "c", 5000L, 42L, false));

        TestRecord<GenericRecord, GenericRecord> out = rows.readRecord();
        assertEquals(7L, out.key().get("id"));
        GenericRecord row = out.value();
        assertEquals(Fixtures.CONTRACT, row.getSchema());
        assertEquals(7L, row.get("id"));
        assertEquals("Ada Lovelace", row.get("full_name").toString());
        assertEquals("ada@example.com", row.get("email").toString());
        assertNull(row.get("birthdate"));
        assertEquals(CREATED_AT, row.get("created_at"));
        assertNull(row.getSchema().getField("name"), "the legacy column name must not leak into the contract row");

        Headers h = out.headers();
        assertEquals(5000L, ChangeHeaders.getLong(h, ChangeHeaders.VERSION, -1));
        assertEquals(5000L, ChangeHeaders.getLong(h, ChangeHeaders.LSN, -1));
        assertEquals(42L, ChangeHeaders.getLong(h, ChangeHeaders.TX_ID, -1));
        assertEquals("c", ChangeHeaders.getString(h, ChangeHeaders.OP));
        assertTrue(rows.isEmpty());
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void deleteBecomesTombstoneWithHeaders() {
        // Default replica identity: the delete's before image holds only the key column.
        legacy.pipeInput(key(7), legacyChange(legacyRow(7L, null, null, null), null, "d", 6000L, 43L, false));

        TestRecord<GenericRecord, GenericRecord> out = rows.readRecord();
        assertEquals(7L, out.key().get("id"));
        assertNull(out.value());
        assertEquals(6000L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.VERSION, -1));
        assertEquals(6000L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.LSN, -1));
        assertEquals(43L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.TX_ID, -1));
        assertEquals("d", ChangeHeaders.getString(out.headers(), ChangeHeaders.OP));
    }

    @Test
    void deleteWithoutBeforeImageIsKeyedByTheRecordKey() {
        legacy.pipeInput(key(9), legacyChange(null, null, "d", 6100L, null, false));

        TestRecord<GenericRecord, GenericRecord> out = rows.readRecord();
        assertEquals(9L, out.key().get("id"));
        assertNull(out.value());
        assertNull(out.headers().lastHeader(ChangeHeaders.TX_ID), "no transaction id, no header");
    }

    @Test
    void debeziumTombstoneAfterDeleteIsSkipped() {
        legacy.pipeInput(key(7), legacyChange(legacyRow(7L, null, null, null), null, "d", 6000L, 43L, false));
        legacy.pipeInput(key(7), (GenericRecord) null);

        assertNull(rows.readRecord().value());
        assertTrue(rows.isEmpty());
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void everyRowCarriesTheGenerationOfItsTopologyAndItsTargetsLineage() {
        legacy.pipeInput(key(1), legacyChange(null, legacyRow(1L, "Grace", "grace@example.com", CREATED_AT), "r", 4000L, null, true));
        TestRecord<GenericRecord, GenericRecord> first = rows.readRecord();
        assertEquals(0L, ChangeHeaders.getLong(first.headers(), ChangeHeaders.GENERATION, -1));
        // Lineage 0 is left out, as absent means 0.
        assertNull(first.headers().lastHeader(ChangeHeaders.LINEAGE));

        try (TopologyTestDriver g5 = new TopologyTestDriver(PipelineTopology.migration(PREFIX, Migrations.defaultMappings(), registry, 5,
                Map.of(TABLE, 3L)),
                Fixtures.driverProperties(stateDir.resolve("g5")))) {
            g5.createInputTopic(Topics.legacy(PREFIX, TABLE), AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer())
                    .pipeInput(key(1), legacyChange(legacyRow(1L, null, null, null), null, "d", 7000L, 44L, false));
            TestRecord<byte[], byte[]> out = g5.createOutputTopic(Topics.newSchema(PREFIX, TABLE), new ByteArrayDeserializer(),
                    new ByteArrayDeserializer()).readRecord();
            assertNull(out.value());
            assertEquals(5L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.GENERATION, -1));
            assertEquals(3L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.LINEAGE, -1));
            assertEquals(7000L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.VERSION, -1));
        }
    }

    @Test
    void theSourceTransactionsCommitOrderTravelsAsAHeader() {
        GenericRecord source = Fixtures.source("legacy", 5000L, 42L, false);
        source.put("commitOrder", 4_900L);
        legacy.pipeInput(key(7), Fixtures.envelope(Fixtures.LEGACY_ENVELOPE, null, legacyRow(7L, "Ada", "ada@example.com", CREATED_AT), "c",
                source));
        assertEquals(4_900L, ChangeHeaders.getLong(rows.readRecord().headers(), ChangeHeaders.COMMIT_ORDER, -1));

        // Snapshot rows have none.
        legacy.pipeInput(key(8), legacyChange(null, legacyRow(8L, "Grace", "grace@example.com", CREATED_AT), "r", 4000L, null, true));
        assertNull(rows.readRecord().headers().lastHeader(ChangeHeaders.COMMIT_ORDER));
    }

    @Test
    void snapshotRowHasVersionZero() {
        legacy.pipeInput(key(1), legacyChange(null, legacyRow(1L, "Grace", "grace@example.com", CREATED_AT), "r", 4000L, null, true));

        TestRecord<GenericRecord, GenericRecord> out = rows.readRecord();
        assertEquals("Grace", out.value().get("full_name").toString());
        assertEquals(0L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.VERSION, -1));
        assertEquals(4000L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.LSN, -1));
        assertEquals("r", ChangeHeaders.getString(out.headers(), ChangeHeaders.OP));
    }

    @Test
    void streamedUpdateHasVersionLsn() {
        legacy.pipeInput(key(1), legacyChange(null, legacyRow(1L, "Grace Hopper", "grace@example.com", CREATED_AT), "u", 8123L, 77L, false));

        TestRecord<GenericRecord, GenericRecord> out = rows.readRecord();
        assertEquals("Grace Hopper", out.value().get("full_name").toString());
        assertEquals(8123L, ChangeHeaders.getLong(out.headers(), ChangeHeaders.VERSION, -1));
        assertEquals("u", ChangeHeaders.getString(out.headers(), ChangeHeaders.OP));
    }

    @Test
    void primaryKeyChangeDeletesOldKeyAndCreatesNewKey() {
        // UPDATE users SET id = 2 WHERE id = 1 arrives as a delete of 1 and a create of 2.
        legacy.pipeInput(key(1), legacyChange(legacyRow(1L, null, null, null), null, "d", 9000L, 88L, false));
        legacy.pipeInput(key(2), legacyChange(null, legacyRow(2L, "Ada", "ada@example.com", CREATED_AT), "c", 9000L, 88L, false));

        List<TestRecord<GenericRecord, GenericRecord>> out = rows.readRecordsToList();
        assertEquals(2, out.size());
        assertEquals(1L, out.get(0).key().get("id"));
        assertNull(out.get(0).value());
        assertEquals(2L, out.get(1).key().get("id"));
        assertEquals("Ada", out.get(1).value().get("full_name").toString());
        assertEquals(9000L, ChangeHeaders.getLong(out.get(0).headers(), ChangeHeaders.VERSION, -1));
        assertEquals(9000L, ChangeHeaders.getLong(out.get(1).headers(), ChangeHeaders.VERSION, -1));
    }

    @Test
    void outputKeyIsByteIdenticalToTheTargetCapturesKey() {
        legacy.pipeInput(key(42), legacyChange(null, legacyRow(42L, "Ada", "ada@example.com", CREATED_AT), "c", 5000L, 1L, false));

        byte[] produced = rowsRaw.readRecord().key();
        // What the target capture writes for the same row: KeySchemas-built key, serialized for the target topic.
        Serializer<GenericRecord> targetKeys = AvroSerde.keys(registry).serializer();
        byte[] captured = targetKeys.serialize(Topics.target(PREFIX, TABLE), key(42));
        assertArrayEquals(captured, produced);
    }

    @Test
    void createWithoutAfterGoesToDeadLetterTopicWithItsOriginalBytes() {
        Serializer<GenericRecord> keys = AvroSerde.keys(registry).serializer();
        Serializer<GenericRecord> values = AvroSerde.values(registry).serializer();
        String topic = Topics.legacy(PREFIX, TABLE);
        byte[] badKey = keys.serialize(topic, key(5));
        byte[] badValue = values.serialize(topic, legacyChange(null, null, "c", 5000L, 1L, false));

        legacyRaw.pipeInput(badKey, badValue);
        // The application keeps going: the next record is migrated.
        legacy.pipeInput(key(6), legacyChange(null, legacyRow(6L, "Next", null, null), "c", 5001L, 2L, false));

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        assertArrayEquals(badKey, dead.key());
        assertArrayEquals(badValue, dead.value());
        assertEquals(topic, header(dead.headers(), DeadLetterFields.TOPIC));
        assertEquals("0", header(dead.headers(), DeadLetterFields.PARTITION));
        assertEquals("0", header(dead.headers(), DeadLetterFields.OFFSET));
        assertTrue(header(dead.headers(), DeadLetterFields.ERROR).contains("no 'after'"), header(dead.headers(), DeadLetterFields.ERROR));
        assertNotNull(header(dead.headers(), DeadLetterFields.EXCEPTION));
        assertTrue(deadLetters.isEmpty());

        TestRecord<GenericRecord, GenericRecord> next = rows.readRecord();
        assertEquals(6L, next.key().get("id"));
        assertTrue(rows.isEmpty());
    }

    @Test
    void undecodableRecordGoesToDeadLetterTopic() {
        byte[] garbage = "{\"id\":1}".getBytes(StandardCharsets.UTF_8);
        legacyRaw.pipeInput(garbage, garbage);

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        assertArrayEquals(garbage, dead.value());
        assertTrue(header(dead.headers(), DeadLetterFields.ERROR).contains("magic byte"), header(dead.headers(), DeadLetterFields.ERROR));
        assertTrue(rowsRaw.isEmpty());
    }

    @Test
    void unknownOpGoesToDeadLetterTopic() {
        legacy.pipeInput(key(3), legacyChange(null, legacyRow(3L, "X", null, null), "t", 5000L, 1L, false));

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        assertTrue(header(dead.headers(), DeadLetterFields.ERROR).contains("op 't'"));
        assertTrue(rowsRaw.isEmpty());
    }

    private static String header(Headers headers, String name) {
        return headers.lastHeader(name) == null ? null : new String(headers.lastHeader(name).value(), StandardCharsets.UTF_8);
    }
}

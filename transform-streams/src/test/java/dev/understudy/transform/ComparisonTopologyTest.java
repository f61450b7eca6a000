package dev.understudy.transform;

import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.Topics;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.StringDeserializer;
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
import java.time.Duration;
import java.time.Instant;
import java.time.LocalDate;
import java.util.List;

import static dev.understudy.transform.Fixtures.PREFIX;
import static dev.understudy.transform.Fixtures.TABLE;
import static dev.understudy.transform.Fixtures.contractRow;
import static dev.understudy.transform.Fixtures.key;
import static dev.understudy.transform.Fixtures.targetChange;
import static dev.understudy.transform.Fixtures.targetRow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ComparisonTopologyTest {
    private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
    private static final long CREATED_AT = 1_700_000_123_456_789L;
    private static final String KEY_1 = TABLE + " {\"id\":1}";

    @TempDir
    Path stateDir;

    private InMemoryRegistryClient registry;
    private TopologyTestDriver driver;
    private TestInputTopic<GenericRecord, GenericRecord> expected;
    private TestInputTopic<GenericRecord, GenericRecord> actual;
    private TestInputTopic<byte[], byte[]> actualRaw;
    private TestOutputTopic<String, GenericRecord> divergences;
    private TestOutputTopic<String, GenericRecord> drift;
    private TestOutputTopic<byte[], byte[]> deadLetters;
    private long nowMs;

    @BeforeEach
    void setUp() {
        registry = new InMemoryRegistryClient();
        StreamsBuilder builder = new StreamsBuilder();
        ComparisonTopology.addTo(builder, PREFIX, Migrations.defaultMappings(), registry, ComparisonSettings.defaults());
        driver = new TopologyTestDriver(builder.build(), Fixtures.driverProperties(stateDir), T0);
        nowMs = T0.toEpochMilli();
        expected = driver.createInputTopic(Topics.newSchema(PREFIX, TABLE),
                AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        actual = driver.createInputTopic(Topics.target(PREFIX, TABLE),
                AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        actualRaw = driver.createInputTopic(Topics.target(PREFIX, TABLE), new ByteArraySerializer(), new ByteArraySerializer());
        divergences = driver.createOutputTopic(Topics.divergence(PREFIX), new StringDeserializer(), AvroSerde.values(registry).deserializer());
        drift = driver.createOutputTopic(Topics.drift(PREFIX), new StringDeserializer(), AvroSerde.values(registry).deserializer());
        deadLetters = driver.createOutputTopic(Topics.deadLetter(PREFIX), new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    private void advance(long ms) {
        driver.advanceWallClockTime(Duration.ofMillis(ms));
        nowMs += ms;
    }

    @Test
    void missingIsReportedAfterTheSettleWindowAndResolvedWhenTheTargetCatchesUp() {
        long since = nowMs;
        expected.pipeInput(key(1), contractRow(1, "Ada", "ada@example.com", null, CREATED_AT));

        advance(1500);
        assertTrue(divergences.isEmpty(), "still inside the settle window");

        advance(600);
        TestRecord<String, GenericRecord> missing = divergences.readRecord();
        assertEquals(KEY_1, missing.key());
        assertEquals(TABLE, missing.value().get("table").toString());
        assertEquals("{\"id\":1}", missing.value().get("key").toString());
        assertEquals("MISSING", missing.value().get("kind").toString());
        assertEquals(since, missing.value().get("openSinceMs"));
        assertEquals(nowMs, missing.value().get("detectedAtMs"));
        assertTrue(divergences.isEmpty());

        // The writer catches up and the target capture reports the row.
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "ada@example.com", null, CREATED_AT, null), "c", 100));
        TestRecord<String, GenericRecord> resolved = divergences.readRecord();
        assertEquals(KEY_1, resolved.key());
        assertEquals("RESOLVED", resolved.value().get("kind").toString());
        assertEquals(since, resolved.value().get("openSinceMs"));
        assertTrue(divergences.isEmpty());

        advance(500);
        List<Long> openCounts = drift.readValuesToList().stream().map(d -> (Long) d.get("open")).toList();
        assertEquals(List.of(0L, 1L, 0L), openCounts, "open count per drift record");
    }

    /**
     * Two legacy rows handing a target key over send their records from two partitions, so the
     * take-over (version 200) can reach the new-schema topic before the older release (version 100).
     * The writer keeps the take-over, so the comparison must expect it too, or the key stays open
     * for ever while the target is right.
     */
    @Test
    void anOlderExpectedChangeArrivingLaterDoesNotReplaceTheNewerOne() {
        expected.pipeInput(new TestRecord<>(key(1), contractRow(1, "Ada", null, null, CREATED_AT), versionHeaders(200, 0)));
        expected.pipeInput(new TestRecord<>(key(1), null, versionHeaders(100, 0)));
        expected.pipeInput(new TestRecord<>(key(1), null, versionHeaders(200, -1)));
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", null, null, CREATED_AT, null), "c", 300));
        advance(5_000);
        assertTrue(divergences.isEmpty(), "the target holds what the writer kept");

        // A newer change (the same driving version, a later joined version) still replaces it.
        expected.pipeInput(new TestRecord<>(key(1), null, versionHeaders(200, 7)));
        advance(2_100);
        assertEquals("UNEXPECTED", divergences.readValue().get("kind").toString());
    }

    private static Headers versionHeaders(long version, long joinedVersion) {
        return ChangeHeaders.forRow(version, joinedVersion, version, ChangeHeaders.Stamp.NONE, null, null, "u");
    }

    @Test
    void driftCountsGoFromOneOpenToZero() {
        expected.pipeInput(key(1), contractRow(1, "Ada", null, null, null));
        advance(500);
        GenericRecord first = drift.readValue();
        assertEquals(0L, first.get("open"));
        assertEquals(1L, first.get("pending"));
        assertEquals(TABLE, first.get("table").toString());
        assertEquals(0, first.get("partition"));

        advance(2000);
        TestRecord<String, GenericRecord> opened = drift.readRecord();
        assertEquals(TABLE + "#0", opened.key());
        assertEquals(1L, opened.value().get("open"));
        assertEquals(0L, opened.value().get("pending"));
        assertEquals(nowMs, opened.value().get("atMs"));

        advance(500);
        assertTrue(drift.isEmpty(), "no change and the heartbeat is not due: nothing published");

        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", null, null, null, null), "r", 100));
        advance(500);
        GenericRecord closed = drift.readValue();
        assertEquals(0L, closed.get("open"));
        assertEquals(0L, closed.get("pending"));

        advance(5000);
        GenericRecord heartbeat = drift.readValue();
        assertEquals(0L, heartbeat.get("open"));
        assertEquals(nowMs, heartbeat.get("atMs"));
    }

    @Test
    void unexpectedIsReportedAfterTheSettleWindowAndResolvedWhenTheTargetIsRepaired() {
        long since = nowMs;
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Stray", null, null, null, null), "c", 100));
        advance(1000);
        assertTrue(divergences.isEmpty());

        advance(1000);
        GenericRecord unexpected = divergences.readValue();
        assertEquals("UNEXPECTED", unexpected.get("kind").toString());
        assertEquals(since, unexpected.get("openSinceMs"));
        assertTrue(((List<?>) unexpected.get("fields")).isEmpty());

        actual.pipeInput(key(1), targetChange(targetRow(1, null, null, null, null, null), null, "d", 200));
        GenericRecord resolved = divergences.readValue();
        assertEquals("RESOLVED", resolved.get("kind").toString());
        assertEquals(since, resolved.get("openSinceMs"));
    }

    @Test
    void unexpectedIsResolvedWhenTheExpectedRowArrives() {
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", null, null, null, null), "c", 100));
        advance(2500);
        assertEquals("UNEXPECTED", divergences.readValue().get("kind").toString());

        expected.pipeInput(key(1), contractRow(1, "Ada", null, null, null));
        assertEquals("RESOLVED", divergences.readValue().get("kind").toString());
    }

    @Test
    void mismatchReportsDifferingFieldsAsTextAndResolvesOnRepair() {
        int birthdate = 7000;
        expected.pipeInput(key(1), contractRow(1, "Ada Lovelace", "ada@example.com", null, CREATED_AT));
        actual.pipeInput(key(1), targetChange(null,
                targetRow(1, "Ada", "ada@example.com", birthdate, CREATED_AT + 1, "v1.2"), "c", 100));
        advance(1900);
        assertTrue(divergences.isEmpty());

        advance(100);
        GenericRecord mismatch = divergences.readValue();
        assertEquals("MISMATCH", mismatch.get("kind").toString());
        List<List<String>> fields = fields(mismatch);
        assertEquals(List.of(
                        List.of("full_name", "Ada Lovelace", "Ada"),
                        List.of("birthdate", "null", LocalDate.ofEpochDay(birthdate).toString()),
                        List.of("created_at", "2023-11-14T22:15:23.456789Z", "2023-11-14T22:15:23.456790Z")),
                fields);

        // Repair the target row; the extra column it still holds is not part of the contract.
        actual.pipeInput(key(1), targetChange(null,
                targetRow(1, "Ada Lovelace", "ada@example.com", null, CREATED_AT, "repair"), "u", 200));
        GenericRecord resolved = divergences.readValue();
        assertEquals("RESOLVED", resolved.get("kind").toString());
        assertTrue(divergences.isEmpty());
    }

    @Test
    void disagreementThatResolvesInsideTheSettleWindowIsNotReported() {
        expected.pipeInput(key(1), contractRow(1, "Ada", "ada@example.com", null, CREATED_AT));
        advance(1000);
        expected.pipeInput(key(2), contractRow(2, "Grace", null, null, null));
        // A second disagreement on key 1 while pending: a newer expected row.
        expected.pipeInput(key(1), contractRow(1, "Ada L.", "ada@example.com", null, CREATED_AT));
        advance(500);
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada L.", "ada@example.com", null, CREATED_AT, null), "c", 100));
        actual.pipeInput(key(2), targetChange(null, targetRow(2, "Grace", null, null, null, null), "c", 101));

        advance(10_000);
        assertTrue(divergences.isEmpty(), "both keys agreed before their settle window ended");
        List<GenericRecord> counts = drift.readValuesToList();
        GenericRecord last = counts.get(counts.size() - 1);
        assertEquals(0L, last.get("open"));
        assertEquals(0L, last.get("pending"));
        assertTrue(counts.stream().allMatch(d -> (Long) d.get("open") == 0L));
    }

    @Test
    void extraTargetColumnsAreIgnored() {
        expected.pipeInput(key(1), contractRow(1, "Ada", "ada@example.com", null, CREATED_AT));
        actual.pipeInput(key(1), targetChange(null,
                targetRow(1, "Ada", "ada@example.com", null, CREATED_AT, "a value the contract does not know"), "c", 100));

        advance(5000);
        assertTrue(divergences.isEmpty());
    }

    @Test
    void openDivergenceThatChangesStateIsReportedAgainAfterSettling() {
        long since = nowMs;
        expected.pipeInput(key(1), contractRow(1, "Ada", "ada@new.example.com", null, null));
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "ada@old.example.com", null, null, null), "c", 100));
        advance(2000);
        GenericRecord first = divergences.readValue();
        assertEquals(List.of(List.of("email", "ada@new.example.com", "ada@old.example.com")), fields(first));

        // The legacy row changes again and the target does not follow: a second differing field.
        expected.pipeInput(key(1), contractRow(1, "Ada Lovelace", "ada@new.example.com", null, null));
        advance(1000);
        assertTrue(divergences.isEmpty(), "a changed state waits out the settle window too");
        advance(1000);
        GenericRecord second = divergences.readValue();
        assertEquals("MISMATCH", second.get("kind").toString());
        assertEquals(List.of(
                List.of("full_name", "Ada Lovelace", "Ada"),
                List.of("email", "ada@new.example.com", "ada@old.example.com")), fields(second));
        assertEquals(since, second.get("openSinceMs"), "the divergence stayed open throughout");

        // The same state again does not repeat the report.
        expected.pipeInput(key(1), contractRow(1, "Ada Lovelace", "ada@new.example.com", null, null));
        advance(3000);
        assertTrue(divergences.isEmpty());

        expected.pipeInput(key(1), (GenericRecord) null);
        advance(2500);
        assertEquals("UNEXPECTED", divergences.readValue().get("kind").toString());
    }

    @Test
    void expectedTombstoneResolvesMissing() {
        expected.pipeInput(key(1), contractRow(1, "Ada", null, null, null));
        advance(2500);
        assertEquals("MISSING", divergences.readValue().get("kind").toString());

        // The legacy row was deleted before the writer ever created it: nothing is expected now.
        expected.pipeInput(key(1), (GenericRecord) null);
        assertEquals("RESOLVED", divergences.readValue().get("kind").toString());
    }

    @Test
    void targetTombstoneAfterDeleteIsHarmless() {
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", null, null, null, null), "c", 100));
        actual.pipeInput(key(1), targetChange(targetRow(1, null, null, null, null, null), null, "d", 200));
        actual.pipeInput(key(1), (GenericRecord) null);
        advance(5000);
        assertTrue(divergences.isEmpty());
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void malformedTargetChangeIsDeadLetteredAndComparisonContinues() {
        byte[] keyBytes = AvroSerde.keys(registry).serializer().serialize(Topics.target(PREFIX, TABLE), key(1));
        byte[] garbage = "not avro".getBytes(StandardCharsets.UTF_8);
        actualRaw.pipeInput(keyBytes, garbage);

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        assertEquals(Topics.target(PREFIX, TABLE), header(dead, DeadLetterFields.TOPIC));
        assertTrue(header(dead, DeadLetterFields.ERROR).contains("magic byte"), header(dead, DeadLetterFields.ERROR));
        assertTrue(java.util.Arrays.equals(garbage, dead.value()));

        expected.pipeInput(key(2), contractRow(2, "Grace", null, null, null));
        advance(2500);
        assertEquals(TABLE + " {\"id\":2}", divergences.readRecord().key());
    }

    @Test
    void keyBuiltWithAnotherSchemaIsDeadLettered() {
        // A capture that kept the key column nullable would produce different key bytes for the same row.
        Schema nullableKey = SchemaBuilder.record("Key").namespace("understudy.public.users").fields()
                .name("id").type().optional().longType().endRecord();
        GenericData.Record k = new GenericData.Record(nullableKey);
        k.put("id", 1L);
        actual.pipeInput(k, targetChange(null, targetRow(1, "Ada", null, null, null, null), "c", 100));

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        String message = header(dead, DeadLetterFields.ERROR);
        assertTrue(message.contains("KeySchemas.of"), message);
        advance(2500);
        assertTrue(divergences.isEmpty());
    }

    private static String header(TestRecord<?, ?> record, String name) {
        return new String(record.headers().lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    private static List<List<String>> fields(GenericRecord event) {
        @SuppressWarnings("unchecked")
        List<GenericRecord> fs = (List<GenericRecord>) event.get("fields");
        return fs.stream().map(f -> List.of(f.get("name").toString(), String.valueOf(f.get("expected")), String.valueOf(f.get("actual"))))
                .toList();
    }
}

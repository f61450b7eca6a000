package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.internals.ComparisonProcessor;
import dev.understudy.transform.internals.ComparisonStoreNames;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

import static dev.understudy.transform.Fixtures.PREFIX;
import static dev.understudy.transform.Fixtures.TABLE;
import static dev.understudy.transform.Fixtures.contractRow;
import static dev.understudy.transform.Fixtures.key;
import static dev.understudy.transform.Fixtures.targetChange;
import static dev.understudy.transform.Fixtures.targetRow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The comparison aligned with the writer's applied positions: a key is pending for as long as the
 * writer has not applied the record behind its expected row, however long; once applied, a
 * disagreement that outlives the settle window is reported, with the source LSN and generation.
 */
class LsnAlignedComparisonTest {
    private static final Instant T0 = Instant.parse("2030-01-01T00:00:00Z");
    private static final long CREATED_AT = 1_700_000_123_456_789L;
    private static final String EXPECTED_TOPIC = Topics.newSchema(PREFIX, TABLE);

    @TempDir
    Path stateDir;

    /** The writer's next offset per partition of the new-schema topic, and when it got there. */
    private final ConcurrentHashMap<Integer, long[]> positions = new ConcurrentHashMap<>();
    /** How far the target capture had produced to the target topic when it delivered the writer's positions. */
    private volatile long targetDeliveredThrough = -1L;
    private TopologyTestDriver driver;
    private TestInputTopic<GenericRecord, GenericRecord> expected;
    private TestInputTopic<GenericRecord, GenericRecord> actual;
    private TestOutputTopic<String, GenericRecord> divergences;
    private TestOutputTopic<String, GenericRecord> drift;
    private long nowMs;
    private InMemoryRegistryClient registry;

    @BeforeEach
    void setUp() {
        registry = new InMemoryRegistryClient();
        WriterProgress progress = new WriterProgress() {
            @Override
            public long appliedAtMs(String topic, int partition, long offset) {
                long[] at = EXPECTED_TOPIC.equals(topic) ? positions.get(partition) : null;
                return at != null && at[0] > offset ? at[1] : WriterProgress.NOT_APPLIED;
            }

            @Override
            public long targetOffsetAt(String topic, int partition, long offset, String targetTopic) {
                return Topics.target(PREFIX, TABLE).equals(targetTopic) ? targetDeliveredThrough : -1L;
            }
        };
        StreamsBuilder builder = new StreamsBuilder();
        ComparisonTopology.addTo(builder, PREFIX, Migrations.defaultMappings(), registry,
                ComparisonSettings.defaults().withWriterProgress(progress));
        driver = new TopologyTestDriver(builder.build(), Fixtures.driverProperties(stateDir), T0);
        nowMs = T0.toEpochMilli();
        expected = driver.createInputTopic(EXPECTED_TOPIC, AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        actual = driver.createInputTopic(Topics.target(PREFIX, TABLE), AvroSerde.keys(registry).serializer(),
                AvroSerde.values(registry).serializer());
        divergences = driver.createOutputTopic(Topics.divergence(PREFIX), new StringDeserializer(), AvroSerde.values(registry).deserializer());
        drift = driver.createOutputTopic(Topics.drift(PREFIX), new StringDeserializer(), AvroSerde.values(registry).deserializer());
    }

    @AfterEach
    void tearDown() {
        driver.close();
    }

    private void advance(long ms) {
        driver.advanceWallClockTime(Duration.ofMillis(ms));
        nowMs += ms;
    }

    private void writerAt(long nextOffset) {
        positions.put(0, new long[]{nextOffset, nowMs});
    }

    private void expect(long id, String name, long lsn, long generation) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(lsn));
        headers.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(lsn));
        headers.add(ChangeHeaders.GENERATION, ChangeHeaders.encodeLong(generation));
        expected.pipeInput(new TestRecord<>(key(id), name == null ? null : contractRow(id, name, "u" + id + "@example.com", null, CREATED_AT),
                headers, Instant.ofEpochMilli(nowMs)));
    }

    /** The next divergence event: its kind, source LSN and generation. */
    private void assertReported(String kind, long sourceLsn, long generation) {
        GenericRecord event = divergences.readRecord().value();
        assertEquals(kind, event.get("kind").toString());
        assertEquals(sourceLsn, event.get("sourceLsn"));
        assertEquals(generation, event.get("generation"));
    }

    private static long lastOpen(List<GenericRecord> driftRecords) {
        return (Long) driftRecords.get(driftRecords.size() - 1).get("open");
    }

    @Test
    void aKeyTheWriterHasNotAppliedStaysPendingHoweverLong() {
        expect(1, "Ada", 5_000, 2);                  // offset 0
        advance(60_000);
        assertTrue(divergences.isEmpty(), "not applied: pending, not missing, after 30 settle windows");
        List<GenericRecord> d = drift.readValuesToList();
        assertEquals(0L, lastOpen(d));
        assertEquals(1L, d.get(d.size() - 1).get("pending"));

        writerAt(1);
        advance(1_500);
        assertTrue(divergences.isEmpty(), "applied, but the target capture gets a settle window to deliver it");
        advance(1_000);
        assertReported("MISSING", 5_000L, 2L);

        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "u1@example.com", null, CREATED_AT, null), "c", 100));
        assertEquals("RESOLVED", divergences.readRecord().value().get("kind").toString());
    }

    @Test
    void aKeyStaysPendingUntilTheComparisonHasReadTheTargetAsFarAsTheCaptureHadDeliveredIt() {
        expect(1, "Ada", 5_000, 1);
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ad", "u1@example.com", null, CREATED_AT, null), "c", 90)); // target offset 0
        // The writer applied Ada; the capture delivered that with the target topic at offset 1, which this
        // comparison has not read yet (it lags behind the target topic).
        targetDeliveredThrough = 1;
        writerAt(1);
        advance(60_000);
        assertTrue(divergences.isEmpty(), "the target's side is not final until offset 1 is read");
        assertEquals(1L, drift.readValuesToList().stream().reduce((a, b) -> b).orElseThrow().get("pending"));

        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "u1@example.com", null, CREATED_AT, null), "u", 100)); // offset 1
        advance(10_000);
        assertTrue(divergences.isEmpty(), "read that far, the key agrees");
        assertEquals(0L, lastOpen(drift.readValuesToList()));

        // Read that far and still different: reported after the settle window.
        expect(1, "Ada Lovelace", 6_000, 1); // offset 1
        targetDeliveredThrough = 2;
        writerAt(2);
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada L.", "u1@example.com", null, CREATED_AT, null), "u", 110)); // offset 2
        advance(3_000);
        assertEquals("MISMATCH", divergences.readRecord().value().get("kind").toString());
    }

    @Test
    void aChangeDeliveredWithinTheSettleWindowAfterItWasAppliedIsNeverReported() {
        expect(1, "Ada", 5_000, 1);
        advance(10_000);
        writerAt(1);
        advance(1_000);
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "u1@example.com", null, CREATED_AT, null), "c", 100));
        advance(10_000);
        assertTrue(divergences.isEmpty());
        assertEquals(0L, lastOpen(drift.readValuesToList()));
    }

    @Test
    void aRogueChangeInTheTargetIsReportedWithTheFieldsAndResolvedWhenUndone() {
        expect(1, "Ada", 5_000, 1);
        writerAt(1);
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "u1@example.com", null, CREATED_AT, null), "c", 100));
        advance(5_000);
        assertTrue(divergences.isEmpty());

        // Someone updates the target directly: no expected change, the writer applied everything.
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Rogue", "u1@example.com", null, CREATED_AT, null), "u", 200));
        advance(2_500);
        TestRecord<String, GenericRecord> mismatch = divergences.readRecord();
        assertEquals("MISMATCH", mismatch.value().get("kind").toString());
        @SuppressWarnings("unchecked")
        List<GenericRecord> fields = (List<GenericRecord>) mismatch.value().get("fields");
        assertEquals(1, fields.size());
        assertEquals("full_name", fields.get(0).get("name").toString());
        assertEquals("Ada", fields.get(0).get("expected").toString());
        assertEquals("Rogue", fields.get(0).get("actual").toString());

        // And a row only the target has: nothing was ever expected for the key.
        actual.pipeInput(key(2), targetChange(null, targetRow(2, "Extra", "x@example.com", null, CREATED_AT, null), "c", 300));
        advance(2_500);
        TestRecord<String, GenericRecord> unexpected = divergences.readRecord();
        assertEquals("UNEXPECTED", unexpected.value().get("kind").toString());
        assertNull(unexpected.value().get("sourceLsn"));

        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "u1@example.com", null, CREATED_AT, null), "u", 400));
        assertEquals("RESOLVED", divergences.readRecord().value().get("kind").toString());
    }

    @Test
    void aDeleteTheWriterHasNotAppliedLeavesTheTargetRowPending() {
        expect(1, "Ada", 5_000, 1);                  // offset 0
        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "u1@example.com", null, CREATED_AT, null), "c", 100));
        writerAt(1);
        advance(5_000);
        expect(1, null, 6_000, 1);                   // offset 1: the delete
        advance(30_000);
        assertTrue(divergences.isEmpty(), "the delete is not applied yet: the row is pending, not unexpected");
        writerAt(2);
        advance(2_500);
        TestRecord<String, GenericRecord> unexpected = divergences.readRecord();
        assertEquals("UNEXPECTED", unexpected.value().get("kind").toString());
        assertEquals(6_000L, unexpected.value().get("sourceLsn"));
    }

    /**
     * A row loaded outside the stream has no source of its own in the comparison's store, only the
     * one the load seeded for all its rows: a rogue write to it is reported with the load's LSN and
     * generation, and nothing is awaited for it from the writer.
     */
    @Test
    void aLoadedRowsDivergenceReportsTheLoadsSource() {
        TableMapping mapping = Migrations.defaultMappings().get(0);
        ComparisonStoreNames stores = ComparisonStoreNames.of(ComparisonTopology.nodeName(mapping));
        RecordHeaders loaded = new RecordHeaders();
        loaded.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(0));
        loaded.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(4_000));
        loaded.add(ChangeHeaders.GENERATION, ChangeHeaders.encodeLong(3));
        Map.Entry<byte[], byte[]> source = ComparisonProcessor.seededSource(loaded);
        KeyValueStore<Bytes, byte[]> expectedStore = driver.getKeyValueStore(stores.expected());
        driver.<Bytes, byte[]>getKeyValueStore(stores.expectedSource()).put(Bytes.wrap(source.getKey()), source.getValue());
        expectedStore.put(Bytes.wrap(AvroSerde.keys(registry).serializer().serialize(EXPECTED_TOPIC, key(1))),
                AvroSerde.values(registry).serializer().serialize(EXPECTED_TOPIC, contractRow(1, "Ada", "u1@example.com", null, CREATED_AT)));

        actual.pipeInput(key(1), targetChange(null, targetRow(1, "Rogue", "u1@example.com", null, CREATED_AT, null), "u", 100));
        advance(2_500);
        assertReported("MISMATCH", 4_000L, 3L);

        // A row only the target has is no loaded row: no source.
        actual.pipeInput(key(2), targetChange(null, targetRow(2, "Extra", "x@example.com", null, CREATED_AT, null), "c", 200));
        advance(2_500);
        TestRecord<String, GenericRecord> unexpected = divergences.readRecord();
        assertEquals("UNEXPECTED", unexpected.value().get("kind").toString());
        assertNull(unexpected.value().get("sourceLsn"));
    }
}

package dev.understudy.capture;

import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.schemas.RowValues;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Debezium PostgreSQL change records, shaped as the connector emits them, converted to Avro. */
class ChangeEventConverterTest {
    private static final org.apache.kafka.connect.data.Schema KEY = SchemaBuilder.struct().name("legacy.public.users.Key")
            .field("id", org.apache.kafka.connect.data.Schema.INT64_SCHEMA).build();
    private static final org.apache.kafka.connect.data.Schema ROW = SchemaBuilder.struct().name("legacy.public.users.Value").optional()
            .field("id", org.apache.kafka.connect.data.Schema.INT64_SCHEMA)
            .field("name", org.apache.kafka.connect.data.Schema.OPTIONAL_STRING_SCHEMA)
            .field("born", SchemaBuilder.int32().name("io.debezium.time.Date").optional().build())
            .field("created_at", SchemaBuilder.string().name("io.debezium.time.ZonedTimestamp").optional().build())
            .field("updated_at", SchemaBuilder.int64().name("io.debezium.time.MicroTimestamp").optional().build())
            .field("score", SchemaBuilder.int16().optional().build())
            .build();
    private static final org.apache.kafka.connect.data.Schema SOURCE = SchemaBuilder.struct().name("io.debezium.connector.postgresql.Source")
            .field("db", org.apache.kafka.connect.data.Schema.STRING_SCHEMA)
            .field("schema", org.apache.kafka.connect.data.Schema.STRING_SCHEMA)
            .field("table", org.apache.kafka.connect.data.Schema.STRING_SCHEMA)
            .field("snapshot", org.apache.kafka.connect.data.Schema.OPTIONAL_STRING_SCHEMA)
            .field("txId", org.apache.kafka.connect.data.Schema.OPTIONAL_INT64_SCHEMA)
            .field("lsn", org.apache.kafka.connect.data.Schema.OPTIONAL_INT64_SCHEMA)
            .field("ts_ms", org.apache.kafka.connect.data.Schema.OPTIONAL_INT64_SCHEMA)
            .build();
    private static final org.apache.kafka.connect.data.Schema ENVELOPE = SchemaBuilder.struct().name("legacy.public.users.Envelope")
            .field("before", ROW).field("after", ROW)
            .field("source", SOURCE)
            .field("op", org.apache.kafka.connect.data.Schema.STRING_SCHEMA)
            .build();

    private final ChangeEventConverter converter = new ChangeEventConverter("legacy");

    private static SourceRecord record(String op, Struct before, Struct after, String snapshot, long lsn) {
        Struct source = new Struct(SOURCE).put("db", "legacy").put("schema", "public").put("table", "users")
                .put("snapshot", snapshot).put("txId", 771L).put("lsn", lsn).put("ts_ms", 1_700_000_000_000L);
        Struct value = new Struct(ENVELOPE).put("before", before).put("after", after).put("source", source).put("op", op);
        long id = (after != null ? after : before).getInt64("id");
        return new SourceRecord(Map.of(), Map.of("lsn", lsn), "understudy.legacy.public.users", null,
                KEY, new Struct(KEY).put("id", id), ENVELOPE, value);
    }

    private static Struct row(long id) {
        return new Struct(ROW).put("id", id).put("name", "Ada").put("born", 3652)
                .put("created_at", "2024-03-01T12:34:56.123456Z").put("updated_at", 1_709_296_496_123_456L).put("score", (short) 7);
    }

    @Test
    void createBecomesEnvelopeWithTypedColumnsAndSource() {
        ChangeEventConverter.Converted c = converter.convert(record("c", null, row(42), "false", 9000L));
        assertEquals("understudy.legacy.public.users", c.topic());
        assertEquals("{\"id\":42}", KeyJson.encode(c.key()));
        GenericRecord after = (GenericRecord) c.envelope().get("after");
        assertNull(c.envelope().get("before"));
        assertEquals("c", c.envelope().get("op"));
        assertEquals("1980-01-01", RowValues.fieldText(after, "born"));
        // ZonedTimestamp text becomes exact epoch microseconds.
        assertEquals(1_709_296_496_123_456L, after.get("created_at"));
        assertEquals("2024-03-01T12:34:56.123456Z", RowValues.fieldText(after, "created_at"));
        assertEquals("2024-03-01T12:34:56.123456", RowValues.fieldText(after, "updated_at"));
        assertEquals(7, after.get("score"));
        GenericRecord source = (GenericRecord) c.envelope().get("source");
        assertEquals(9000L, source.get("lsn"));
        assertEquals(771L, source.get("txId"));
        assertEquals(false, source.get("snapshot"));
        assertFalse(c.snapshot());
    }

    @Test
    void snapshotFlagsMarkReads() {
        assertTrue(converter.convert(record("r", null, row(1), "true", 10L)).snapshot());
        assertTrue(converter.convert(record("r", null, row(2), "last", 10L)).snapshot());
        assertFalse(converter.convert(record("u", row(3), row(3), "false", 11L)).snapshot());
    }

    /**
     * Restarted from offsets stored during an incremental snapshot, Debezium flags the streamed changes
     * that follow as snapshot records: they stay changes, versioned and ordered by their commit.
     */
    @Test
    void aChangeFlaggedAsASnapshotRecordIsStillAChange() {
        for (String op : new String[]{"c", "u", "d"}) {
            ChangeEventConverter.Converted c = converter.convert(record(op, row(7), "d".equals(op) ? null : row(7), "true", 21L));
            assertFalse(c.snapshot(), op);
            GenericRecord source = (GenericRecord) c.envelope().get("source");
            assertEquals(false, source.get("snapshot"), op);
            assertNotNull(source.get("commitOrder"), op);
        }
    }

    @Test
    void incrementalSnapshotReadsAreSnapshotReadsToo() {
        ChangeEventConverter.Converted c = converter.convert(record("r", null, row(4), "incremental", 13L));
        assertTrue(c.snapshot(), "versioned like a snapshot read downstream");
        assertTrue(c.incremental());
        assertEquals(true, ((GenericRecord) c.envelope().get("source")).get("snapshot"));
        assertEquals("public.users", c.table());
        assertFalse(converter.convert(record("r", null, row(5), "true", 10L)).incremental());
        assertEquals("public.users", ChangeEventConverter.sourceTable(record("c", null, row(6), "false", 14L)));
        assertNull(ChangeEventConverter.sourceTable(new SourceRecord(Map.of(), Map.of(), "t", null, null)));
    }

    @Test
    void deleteKeepsBeforeImageAndKey() {
        Struct keyOnly = new Struct(ROW).put("id", 5L);
        ChangeEventConverter.Converted c = converter.convert(record("d", keyOnly, null, "false", 12L));
        assertNull(c.envelope().get("after"));
        assertEquals(5L, ((GenericRecord) c.envelope().get("before")).get("id"));
        assertEquals("d", c.envelope().get("op"));
    }

    @Test
    void keySchemaIsTheSharedTableKeySchema() {
        ChangeEventConverter.Converted c = converter.convert(record("c", null, row(1), "false", 1L));
        Schema expected = KeySchemas.of("public", "users", List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
        assertEquals(expected, c.key().getSchema());
        assertEquals(expected.toString(), c.key().getSchema().toString());
    }

    @Test
    void schemasAreComputedOncePerConnectSchema() {
        ChangeEventConverter.Converted a = converter.convert(record("c", null, row(1), "false", 1L));
        ChangeEventConverter.Converted b = converter.convert(record("c", null, row(2), "false", 2L));
        assertSame(a.envelope().getSchema(), b.envelope().getSchema());
    }

    @Test
    void tombstonesAndNonChangeRecordsAreSkipped() {
        assertNull(converter.convert(new SourceRecord(Map.of(), Map.of(), "t", null, KEY, new Struct(KEY).put("id", 1L), null, null)));
        org.apache.kafka.connect.data.Schema heartbeat = SchemaBuilder.struct().field("ts_ms", org.apache.kafka.connect.data.Schema.INT64_SCHEMA).build();
        assertNull(converter.convert(new SourceRecord(Map.of(), Map.of(), "__debezium-heartbeat.x", null, null, null,
                heartbeat, new Struct(heartbeat).put("ts_ms", 1L))));
    }

    @org.junit.jupiter.api.Test
    void theCommitOrderIsTheFirstElementOfDebeziumsSequence() {
        org.apache.kafka.connect.data.Schema withSequence = SchemaBuilder.struct()
                .field("sequence", org.apache.kafka.connect.data.Schema.OPTIONAL_STRING_SCHEMA).build();
        org.junit.jupiter.api.Assertions.assertEquals(24023128L,
                ChangeEventConverter.commitOrder(new Struct(withSequence).put("sequence", "[\"24023128\",\"24023312\"]")));
        org.junit.jupiter.api.Assertions.assertNull(ChangeEventConverter.commitOrder(new Struct(withSequence).put("sequence", "[null,\"24023312\"]")));
        org.junit.jupiter.api.Assertions.assertNull(ChangeEventConverter.commitOrder(new Struct(withSequence)));
        org.junit.jupiter.api.Assertions.assertNull(ChangeEventConverter.commitOrder(new Struct(SOURCE).put("db", "legacy")
                .put("schema", "public").put("table", "users")), "a source without sequence");
    }
}

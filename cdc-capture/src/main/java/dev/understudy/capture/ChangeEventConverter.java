package dev.understudy.capture;

import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.KeySchemas;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;

import java.util.ArrayList;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;

/**
 * Turns Debezium change records (Kafka Connect {@link SourceRecord}s with the standard envelope:
 * before, after, op, source) into Avro key and envelope records.
 * <p>
 * Debezium keeps one Connect schema instance per table until the table's structure changes, so the
 * Avro schemas and per-column converters are computed once per schema instance (identity lookup)
 * and a DDL change simply produces a new instance, hence a new Avro schema version.
 */
final class ChangeEventConverter {
    /**
     * Converted change: Kafka topic, Avro key and envelope, and the source position. {@code snapshot}
     * marks any snapshot read (initial or incremental); {@code incremental} an incremental-snapshot read.
     */
    record Converted(String topic, GenericRecord key, GenericRecord envelope, long lsn, boolean snapshot, boolean incremental) {
        /** Schema-qualified source table, e.g. public.users. */
        String table() {
            GenericRecord source = (GenericRecord) envelope.get(ChangeEnvelope.SOURCE);
            return source.get("schema") + "." + source.get("table");
        }
    }

    /** Debezium's {@code op} of a snapshot read. */
    private static final String READ = "r";
    /** Debezium's {@code source.snapshot} value for rows read by an incremental snapshot. */
    static final String INCREMENTAL = "incremental";

    /**
     * The schema-qualified table a Debezium change record comes from ({@code source.schema} and
     * {@code source.table}), or null for records that are no row change of a table.
     */
    static String sourceTable(SourceRecord record) {
        if (!(record.value() instanceof Struct value) || value.schema().field("source") == null
                || value.schema().field("op") == null) {
            return null;
        }
        Struct source = value.getStruct("source");
        if (source == null || source.schema().field("schema") == null || source.schema().field("table") == null) {
            return null;
        }
        return source.getString("schema") + "." + source.getString("table");
    }

    private final String connectorName;
    private final Map<org.apache.kafka.connect.data.Schema, TableCodec> codecs = new IdentityHashMap<>();

    ChangeEventConverter(String connectorName) {
        this.connectorName = connectorName;
    }

    /**
     * Converts one record, or returns null for records that carry no row change (tombstones,
     * heartbeats, transaction markers), which the caller acknowledges without producing.
     */
    Converted convert(SourceRecord record) {
        if (record.value() == null || !(record.value() instanceof Struct value)) {
            return null;
        }
        org.apache.kafka.connect.data.Schema valueSchema = record.valueSchema();
        if (valueSchema.field("op") == null || valueSchema.field("source") == null) {
            return null;
        }
        TableCodec codec = codecs.get(valueSchema);
        if (codec == null) {
            codec = new TableCodec(record);
            codecs.put(valueSchema, codec);
        }
        return codec.convert(record.topic(), (Struct) record.key(), value);
    }

    /**
     * The codec of one table, built from Debezium's own key and row schemas of it ({@code
     * TableSchema.keySchema()} and {@code valueSchema()}), as it is built from a change record's.
     */
    TableCodec codec(String schemaName, String table, org.apache.kafka.connect.data.Schema connectKey,
                     org.apache.kafka.connect.data.Schema connectRowSchema) {
        return new TableCodec(schemaName, table, connectKey, connectRowSchema);
    }

    // The source block's fields by position: put by name, each is a hash lookup per row.
    private static final int SOURCE_CONNECTOR = Contracts.SOURCE.getField("connector").pos();
    private static final int SOURCE_DB = Contracts.SOURCE.getField("db").pos();
    private static final int SOURCE_SCHEMA = Contracts.SOURCE.getField("schema").pos();
    private static final int SOURCE_TABLE = Contracts.SOURCE.getField("table").pos();
    private static final int SOURCE_LSN = Contracts.SOURCE.getField("lsn").pos();
    private static final int SOURCE_TXID = Contracts.SOURCE.getField("txId").pos();
    private static final int SOURCE_TSMS = Contracts.SOURCE.getField("tsMs").pos();
    private static final int SOURCE_SNAPSHOT = Contracts.SOURCE.getField("snapshot").pos();
    private static final int SOURCE_COMMITORDER = Contracts.SOURCE.getField("commitOrder").pos();

    final class TableCodec {
        final String schemaName;
        final String table;
        final Schema keySchema;
        final Schema rowSchema;
        final Schema envelopeSchema;
        final List<AvroConversions.Column> keyColumns;
        final List<AvroConversions.Column> rowColumns;
        final org.apache.kafka.connect.data.Schema connectRowSchema;

        TableCodec(SourceRecord sample) {
            this(((Struct) sample.value()).getStruct("source").getString("schema"),
                    ((Struct) sample.value()).getStruct("source").getString("table"),
                    sample.keySchema(), sample.valueSchema().field("before").schema());
        }

        TableCodec(String schemaName, String table, org.apache.kafka.connect.data.Schema connectKey,
                   org.apache.kafka.connect.data.Schema connectRowSchema) {
            this.schemaName = schemaName;
            this.table = table;
            if (connectKey == null) {
                throw new IllegalStateException("Table " + schemaName + "." + table + " has no primary key, so its changes"
                        + " cannot be keyed; add a primary key (ALTER TABLE " + schemaName + "." + table
                        + " ADD PRIMARY KEY (...)) or exclude the table from capture");
            }
            this.keyColumns = AvroConversions.columns(connectKey);
            List<KeySchemas.KeyField> keyFields = new ArrayList<>();
            for (AvroConversions.Column c : keyColumns) {
                keyFields.add(new KeySchemas.KeyField(c.name(), c.avroType()));
            }
            this.keySchema = KeySchemas.of(schemaName, table, keyFields);
            this.connectRowSchema = connectRowSchema;
            this.rowColumns = AvroConversions.columns(connectRowSchema);
            SchemaBuilder.FieldAssembler<Schema> f = SchemaBuilder.record("Row")
                    .namespace(keySchema.getNamespace()).fields();
            for (AvroConversions.Column c : rowColumns) {
                f = f.name(c.name()).type(Schema.createUnion(Schema.create(Schema.Type.NULL), c.avroType())).withDefault(null);
            }
            this.rowSchema = f.endRecord();
            this.envelopeSchema = ChangeEnvelope.of(schemaName, table, rowSchema);
        }

        Converted convert(String topic, Struct key, Struct value) {
            GenericRecord avroKey = new GenericData.Record(keySchema);
            for (int i = 0; i < keyColumns.size(); i++) {
                Object v = key.get(key.schema().fields().get(i));
                avroKey.put(i, v == null ? null : keyColumns.get(i).convert().apply(v));
            }
            Struct source = value.getStruct("source");
            String op = value.getString("op");
            Long lsn = source.getInt64("lsn");
            String snapshotFlag = source.getString("snapshot");
            // A snapshot read, initial or incremental, is an event with op "r" ("read (applies to only
            // snapshots)", Debezium's PostgreSQL connector docs, "Change event values"); its flag
            // ("true", "first", "last", ..., "incremental") says which. The flag alone does not tell a
            // read from a change: restarted from offsets stored during an incremental snapshot,
            // Debezium 3.6 flags the streamed changes that follow as snapshot records too
            // (BulkLoadCrashIT saw it), and a change taken for a read would be versioned like one (0)
            // and dropped by the writer as older than the row it already holds.
            boolean snapshot = READ.equals(op);
            GenericRecord src = new GenericData.Record(Contracts.SOURCE);
            src.put(SOURCE_CONNECTOR, connectorName);
            src.put(SOURCE_DB, source.getString("db"));
            src.put(SOURCE_SCHEMA, schemaName);
            src.put(SOURCE_TABLE, table);
            src.put(SOURCE_LSN, lsn == null ? 0L : lsn);
            src.put(SOURCE_TXID, source.getInt64("txId"));
            Long ts = source.getInt64("ts_ms");
            src.put(SOURCE_TSMS, ts == null ? 0L : ts);
            src.put(SOURCE_SNAPSHOT, snapshot);
            // Debezium knows no previous commit for the first transaction after its starting point (the
            // snapshot's offsets hold no commit LSN): 0 orders it before every later commit, correctly.
            Long commitOrder = snapshot ? null : commitOrder(source);
            src.put(SOURCE_COMMITORDER, snapshot ? null : commitOrder == null ? 0L : commitOrder);

            GenericRecord envelope = new GenericData.Record(envelopeSchema);
            envelope.put(ChangeEnvelope.BEFORE, row(value.getStruct("before")));
            envelope.put(ChangeEnvelope.AFTER, row(value.getStruct("after")));
            envelope.put(ChangeEnvelope.OP, op);
            envelope.put(ChangeEnvelope.SOURCE, src);
            return new Converted(topic, avroKey, envelope, lsn == null ? 0L : lsn, snapshot, INCREMENTAL.equals(snapshotFlag));
        }

        /**
         * A snapshot read of one row, as {@link #convert} makes it of Debezium's record for the same
         * row: op "r", the row as after image, source flagged as snapshot, no commit order.
         */
        Converted read(String topic, Struct key, Struct after, String db, long lsn, Long txId, long tsMs) {
            GenericRecord avroKey = new GenericData.Record(keySchema);
            for (int i = 0; i < keyColumns.size(); i++) {
                Object v = key.get(key.schema().fields().get(i));
                avroKey.put(i, v == null ? null : keyColumns.get(i).convert().apply(v));
            }
            GenericRecord src = new GenericData.Record(Contracts.SOURCE);
            src.put(SOURCE_CONNECTOR, connectorName);
            src.put(SOURCE_DB, db);
            src.put(SOURCE_SCHEMA, schemaName);
            src.put(SOURCE_TABLE, table);
            src.put(SOURCE_LSN, lsn);
            src.put(SOURCE_TXID, txId);
            src.put(SOURCE_TSMS, tsMs);
            src.put(SOURCE_SNAPSHOT, true);
            src.put(SOURCE_COMMITORDER, null);
            GenericRecord envelope = new GenericData.Record(envelopeSchema);
            envelope.put(ChangeEnvelope.BEFORE, null);
            envelope.put(ChangeEnvelope.AFTER, row(after));
            envelope.put(ChangeEnvelope.OP, "r");
            envelope.put(ChangeEnvelope.SOURCE, src);
            return new Converted(topic, avroKey, envelope, lsn, true, false);
        }

        private GenericRecord row(Struct row) {
            if (row == null) {
                return null;
            }
            GenericRecord out = new GenericData.Record(rowSchema);
            List<Field> fields = connectRowSchema.fields();
            // The image's own schema is the one this codec was made of (positions agree) unless the
            // table changed since: then each column is found by name.
            boolean same = row.schema() == connectRowSchema;
            for (int i = 0; i < rowColumns.size(); i++) {
                // Without the schema's default: a column missing from an image (a delete's old image holds
                // only the key under the default replica identity) is null, not the column's DEFAULT as
                // Debezium derived it (for now(), say, an arbitrary instant that is no value of this row).
                // Struct.get(Field) reads by position and fills the default only when the field has one.
                Field field = fields.get(i);
                Object v = same && field.schema().defaultValue() == null ? row.get(field) : row.getWithoutDefault(field.name());
                out.put(i, v == null ? null : rowColumns.get(i).convert().apply(v));
            }
            return out;
        }
    }

    /**
     * The first element of Debezium's {@code source.sequence}, a JSON array of two decimal strings,
     * {@code ["<last commit LSN>","<LSN>"]}: the PostgreSQL connector sets the last commit LSN at each
     * COMMIT message (PostgresStreamingChangeEventSource.commitMessage), so every change of the next
     * transaction carries the previous commit's LSN. Null when absent.
     */
    static Long commitOrder(Struct source) {
        if (source.schema().field("sequence") == null) {
            return null;
        }
        String sequence = source.getString("sequence");
        if (sequence == null) {
            return null;
        }
        int open = sequence.indexOf('[');
        int comma = sequence.indexOf(',', open + 1);
        if (open < 0 || comma < 0) {
            return null;
        }
        String first = sequence.substring(open + 1, comma).trim().replace("\"", "");
        if (first.isEmpty() || first.equals("null")) {
            return null;
        }
        try {
            return Long.parseLong(first);
        } catch (NumberFormatException e) {
            return null;
        }
    }
}

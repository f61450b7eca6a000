package dev.understudy.schemas;

import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.util.HexFormat;

/**
 * Renders Avro row values as canonical text: the form used to compare expected and actual values,
 * to show them in divergence events, and to hand them to PostgreSQL as typed literals.
 * Dates render as ISO dates, timestamp-micros as ISO instants in UTC, local timestamps without zone;
 * values ISO-8601 cannot spell as PostgreSQL reads them (infinities, BC, years past 9999) as
 * {@link PgTemporal} renders them.
 */
public final class RowValues {
    private RowValues() {
    }

    public static String text(Object value, Schema fieldSchema) {
        if (value == null) {
            return null;
        }
        Schema schema = nonNull(fieldSchema);
        LogicalType logical = schema.getLogicalType();
        // Dates and timestamps, including PostgreSQL's infinities, BC and years past 9999: PgTemporal.
        if (logical instanceof LogicalTypes.Date) {
            return PgTemporal.dateText(((Number) value).longValue());
        }
        if (logical instanceof LogicalTypes.TimestampMicros) {
            return PgTemporal.timestampText(((Number) value).longValue());
        }
        if (logical instanceof LogicalTypes.TimestampMillis) {
            return Instant.ofEpochMilli(((Number) value).longValue()).toString();
        }
        if (logical instanceof LogicalTypes.LocalTimestampMicros) {
            return PgTemporal.localTimestampText(((Number) value).longValue());
        }
        if (value instanceof ByteBuffer bb) {
            ByteBuffer dup = bb.duplicate();
            byte[] bytes = new byte[dup.remaining()];
            dup.get(bytes);
            return "\\x" + HexFormat.of().formatHex(bytes);
        }
        return value.toString();
    }

    /** The field's text value in {@code record}, or null when the record has no such field or it is null. */
    public static String fieldText(GenericRecord record, String field) {
        Schema.Field f = record.getSchema().getField(field);
        if (f == null) {
            return null;
        }
        return text(record.get(f.pos()), f.schema());
    }

    public static Schema nonNull(Schema schema) {
        if (schema.getType() != Schema.Type.UNION) {
            return schema;
        }
        for (Schema s : schema.getTypes()) {
            if (s.getType() != Schema.Type.NULL) {
                return s;
            }
        }
        return schema;
    }
}

package dev.understudy.writer;

import dev.understudy.schemas.PgTemporal;
import dev.understudy.schemas.RowValues;
import org.apache.avro.Conversions;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericFixed;

import java.nio.ByteBuffer;
import java.time.LocalTime;
import java.util.Collection;
import java.util.HexFormat;

/**
 * Renders an Avro field value as the text PostgreSQL reads for the column's type, so that every
 * value travels as {@code text} and is cast server-side with the type's input function.
 * <p>
 * Delegates to {@link RowValues#text} (ISO dates, timestamp-micros as an ISO instant with {@code Z},
 * which timestamptz input reads as UTC whatever the connection's TimeZone, bytes as {@code \x} hex which
 * bytea input reads) and adds the Avro types that {@code RowValues} renders in a form PostgreSQL
 * cannot read: decimals (bytes or fixed holding an unscaled two's-complement integer), time-of-day,
 * fixed, arrays (as PostgreSQL array literals) and maps or records (as JSON, for json/jsonb columns).
 */
final class ColumnText {
    private static final Conversions.DecimalConversion DECIMAL = new Conversions.DecimalConversion();

    private ColumnText() {
    }

    static String text(Object value, Schema fieldSchema) {
        if (value == null) {
            return null;
        }
        Schema schema = RowValues.nonNull(fieldSchema);
        LogicalType logical = schema.getLogicalType();
        if (logical instanceof LogicalTypes.Decimal) {
            if (value instanceof ByteBuffer bytes) {
                return DECIMAL.fromBytes(bytes.duplicate(), schema, logical).toPlainString();
            }
            if (value instanceof GenericFixed fixed) {
                return DECIMAL.fromFixed(fixed, schema, logical).toPlainString();
            }
        }
        if (logical instanceof LogicalTypes.TimeMicros) {
            // PgTemporal, not LocalTime: PostgreSQL's time includes 24:00:00.
            return PgTemporal.timeText(((Number) value).longValue());
        }
        if (logical instanceof LogicalTypes.TimeMillis) {
            return LocalTime.ofNanoOfDay(((Number) value).longValue() * 1_000_000L).toString();
        }
        switch (schema.getType()) {
            case FIXED:
                return "\\x" + HexFormat.of().formatHex(((GenericFixed) value).bytes());
            case ARRAY:
                return arrayLiteral((Collection<?>) value, schema.getElementType());
            case MAP:
            case RECORD:
                return GenericData.get().toString(value);
            default:
                return RowValues.text(value, schema);
        }
    }

    /**
     * A PostgreSQL array literal (https://www.postgresql.org/docs/current/arrays.html#ARRAYS-IO):
     * elements double-quoted with backslash escapes, NULL unquoted, nested arrays unquoted.
     */
    private static String arrayLiteral(Collection<?> elements, Schema elementSchema) {
        Schema element = RowValues.nonNull(elementSchema);
        StringBuilder sb = new StringBuilder("{");
        for (Object e : elements) {
            if (sb.length() > 1) {
                sb.append(',');
            }
            String t = text(e, element);
            if (t == null) {
                sb.append("NULL");
            } else if (element.getType() == Schema.Type.ARRAY) {
                sb.append(t);
            } else {
                sb.append('"').append(t.replace("\\", "\\\\").replace("\"", "\\\"")).append('"');
            }
        }
        return sb.append('}').toString();
    }
}

package dev.understudy.capture;

import dev.understudy.schemas.AvroNames;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.kafka.connect.data.Field;

import java.nio.ByteBuffer;
import java.time.Instant;
import java.time.LocalDate;
import java.time.OffsetDateTime;
import java.time.YearMonth;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Date;
import java.util.List;
import java.util.function.Function;

/**
 * Maps Debezium's Kafka Connect schemas and values to Avro, once per column, so that converting a
 * row is a loop over precomputed functions (the capture thread converts every row; a per-row
 * schema walk is where naive pipelines spend their time).
 * <p>
 * Semantic types follow the Debezium PostgreSQL connector's data type mappings
 * (https://debezium.io/documentation/reference/stable/connectors/postgresql.html#postgresql-data-types)
 * with time.precision.mode=adaptive_time_microseconds and decimal.handling.mode=string, except for
 * the types {@link ExactValueConverter} converts (dates, times, timestamps, intervals, arrays and the
 * other types whose values the connector's own conversion changes; docs/types.md):
 * timestamptz arrives as an ISO-8601 string (ZonedTimestamp) and becomes Avro timestamp-micros
 * (an instant, independent of any time zone); timestamp without zone becomes local-timestamp-micros;
 * date stays days since the epoch; numeric stays an exact decimal string.
 */
final class AvroConversions {
    private AvroConversions() {
    }

    /**
     * Avro type and value converter for one Connect column schema.
     *
     * @param column the column's name in the table
     */
    record Column(String name, String column, Schema avroType, Function<Object, Object> convert) {
    }

    static Column column(Field field) {
        org.apache.kafka.connect.data.Schema s = field.schema();
        Mapping m = mapping(s);
        String semantic = s.name();
        Function<Object, Object> convert = m.convert;
        if (semantic != null && semantic.startsWith("dev.understudy.capture.")) {
            // ExactValueConverter marks a value it could not carry instead of stopping the connector.
            Function<Object, Object> plain = convert;
            convert = v -> {
                String reason = ExactValueConverter.uncarried(semantic, v);
                if (reason != null) {
                    throw new UncarriedValueException(field.name(), reason);
                }
                return plain.apply(v);
            };
        }
        return new Column(AvroNames.sanitize(field.name()), field.name(), m.type, convert);
    }

    /** A column value the capture cannot carry exactly; the change is dead-lettered (CdcCapture). */
    static final class UncarriedValueException extends RuntimeException {
        final String column;

        UncarriedValueException(String column, String reason) {
            super("column " + column + ": " + reason, null, false, false);
            this.column = column;
        }
    }

    static List<Column> columns(org.apache.kafka.connect.data.Schema struct) {
        List<Column> out = new ArrayList<>(struct.fields().size());
        for (Field f : struct.fields()) {
            out.add(column(f));
        }
        return out;
    }

    private record Mapping(Schema type, Function<Object, Object> convert) {
    }

    private static final Function<Object, Object> IDENTITY = v -> v;

    private static Mapping mapping(org.apache.kafka.connect.data.Schema s) {
        String semantic = s.name();
        if (semantic != null) {
            switch (semantic) {
                // ExactValueConverter's values are already the Avro values.
                case ExactValueConverter.DATE -> {
                    return new Mapping(LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT)), IDENTITY);
                }
                case ExactValueConverter.TIMESTAMP -> {
                    return new Mapping(localTimestampMicros(), IDENTITY);
                }
                case ExactValueConverter.TIMESTAMPTZ -> {
                    return new Mapping(LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG)), IDENTITY);
                }
                case ExactValueConverter.TIME -> {
                    return new Mapping(timeMicros(), IDENTITY);
                }
                case "io.debezium.time.Date", "org.apache.kafka.connect.data.Date" -> {
                    Schema t = LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT));
                    if ("org.apache.kafka.connect.data.Date".equals(semantic)) {
                        return new Mapping(t, v -> (int) (((Date) v).getTime() / 86_400_000L));
                    }
                    return new Mapping(t, IDENTITY);
                }
                case "io.debezium.time.Timestamp" -> {
                    return new Mapping(localTimestampMicros(), v -> ((Number) v).longValue() * 1000L);
                }
                case "io.debezium.time.MicroTimestamp" -> {
                    return new Mapping(localTimestampMicros(), v -> ((Number) v).longValue());
                }
                case "io.debezium.time.NanoTimestamp" -> {
                    return new Mapping(localTimestampMicros(), v -> Math.floorDiv(((Number) v).longValue(), 1000L));
                }
                case "io.debezium.time.ZonedTimestamp" -> {
                    Schema t = LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
                    return new Mapping(t, v -> zonedTimestampMicros((String) v));
                }
                case "io.debezium.time.Time" -> {
                    return new Mapping(timeMicros(), v -> ((Number) v).longValue() * 1000L);
                }
                case "io.debezium.time.MicroTime" -> {
                    return new Mapping(timeMicros(), v -> ((Number) v).longValue());
                }
                case "io.debezium.time.NanoTime" -> {
                    return new Mapping(timeMicros(), v -> ((Number) v).longValue() / 1000L);
                }
                default -> {
                    // Json, Uuid, Xml, Enum, ZonedTime, Ltree... are strings or bytes already; fall through to the physical type.
                }
            }
        }
        return switch (s.type()) {
            case INT8, INT16 -> new Mapping(Schema.create(Schema.Type.INT), v -> ((Number) v).intValue());
            case INT32 -> new Mapping(Schema.create(Schema.Type.INT), IDENTITY);
            case INT64 -> new Mapping(Schema.create(Schema.Type.LONG), IDENTITY);
            case FLOAT32 -> new Mapping(Schema.create(Schema.Type.FLOAT), IDENTITY);
            case FLOAT64 -> new Mapping(Schema.create(Schema.Type.DOUBLE), IDENTITY);
            case BOOLEAN -> new Mapping(Schema.create(Schema.Type.BOOLEAN), IDENTITY);
            case STRING -> new Mapping(Schema.create(Schema.Type.STRING), IDENTITY);
            case BYTES -> new Mapping(Schema.create(Schema.Type.BYTES),
                    v -> v instanceof byte[] b ? ByteBuffer.wrap(b) : v);
            case ARRAY -> {
                Mapping item = mapping(s.valueSchema());
                Schema items = Schema.createUnion(Schema.create(Schema.Type.NULL), item.type);
                yield new Mapping(Schema.createArray(items), v -> {
                    List<?> in = (List<?>) v;
                    List<Object> out = new ArrayList<>(in.size());
                    for (Object o : in) {
                        out.add(o == null ? null : item.convert.apply(o));
                    }
                    return out;
                });
            }
            // Maps and nested structs (hstore, geometry, ...) are rare in relational rows; carry them as text.
            case MAP, STRUCT -> new Mapping(Schema.create(Schema.Type.STRING), Object::toString);
        };
    }

    /**
     * Epoch microseconds of a Debezium ZonedTimestamp. Debezium renders timestamptz values in UTC
     * with ISO_OFFSET_DATE_TIME, e.g. {@code 2024-03-01T12:34:56.123456Z}; that exact shape is
     * parsed by hand (java.time's general parser was a sixth of the capture thread's time), and
     * anything else (other offsets, years past 9999) goes through java.time.
     */
    static long zonedTimestampMicros(String text) {
        int n = text.length();
        if (n >= 20 && text.charAt(n - 1) == 'Z' && text.charAt(4) == '-' && text.charAt(7) == '-' && text.charAt(10) == 'T'
                && text.charAt(13) == ':' && text.charAt(16) == ':') {
            int year = digits(text, 0, 4);
            int month = digits(text, 5, 7);
            int day = digits(text, 8, 10);
            int hour = digits(text, 11, 13);
            int minute = digits(text, 14, 16);
            int second = digits(text, 17, 19);
            long micros = 0;
            boolean ok = year >= 0 && month >= 1 && month <= 12 && day >= 1 && day <= 31 && hour >= 0 && hour <= 23
                    && minute >= 0 && minute <= 59 && second >= 0 && second <= 59;
            if (ok && n > 20) {
                // fraction: '.' then 1..9 digits, then 'Z'
                int fractionDigits = n - 21;
                if (text.charAt(19) != '.' || fractionDigits < 1 || fractionDigits > 9) {
                    ok = false;
                } else {
                    int fraction = digits(text, 20, n - 1);
                    ok = fraction >= 0;
                    long nanos = fraction;
                    for (int i = fractionDigits; i < 9; i++) {
                        nanos *= 10;
                    }
                    micros = nanos / 1000;
                }
            }
            if (ok && day <= YearMonth.of(year, month).lengthOfMonth()) {
                long epochDay = LocalDate.of(year, month, day).toEpochDay();
                long seconds = epochDay * 86_400L + hour * 3600L + minute * 60L + second;
                return seconds * 1_000_000L + micros;
            }
        }
        Instant i = OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
        return Math.addExact(Math.multiplyExact(i.getEpochSecond(), 1_000_000L), i.getNano() / 1000L);
    }

    /** The decimal number in text[from, to), or -1 if any character is not a digit. */
    private static int digits(String text, int from, int to) {
        int value = 0;
        for (int i = from; i < to; i++) {
            char c = text.charAt(i);
            if (c < '0' || c > '9') {
                return -1;
            }
            value = value * 10 + (c - '0');
        }
        return value;
    }

    private static Schema localTimestampMicros() {
        return LogicalTypes.localTimestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
    }

    private static Schema timeMicros() {
        return LogicalTypes.timeMicros().addToSchema(Schema.create(Schema.Type.LONG));
    }
}

package dev.understudy.transform.spec.internals;

import dev.understudy.schemas.RowValues;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;

import java.math.BigDecimal;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.Arrays;
import java.util.List;
import java.util.Locale;
import java.util.Optional;

/** The types a {@code cast} converts to, and the conversions. */
public final class Casts {
    private Casts() {
    }

    /** A cast target: the Avro type (and logical type) the cast produces. */
    public enum To {
        INT("int"), LONG("long"), FLOAT("float"), DOUBLE("double"), BOOLEAN("boolean"), STRING("string"),
        DATE("date"), TIMESTAMP_MICROS("timestamp-micros"), LOCAL_TIMESTAMP_MICROS("local-timestamp-micros");

        public final String spec;

        To(String spec) {
            this.spec = spec;
        }

        public static Optional<To> of(String spec) {
            return Arrays.stream(values()).filter(t -> t.spec.equals(spec)).findFirst();
        }

        public static List<String> names() {
            return Arrays.stream(values()).map(t -> t.spec).toList();
        }

        /** The Avro schema of the values this cast produces. */
        public Schema schema() {
            return switch (this) {
                case INT -> Schema.create(Schema.Type.INT);
                case LONG -> Schema.create(Schema.Type.LONG);
                case FLOAT -> Schema.create(Schema.Type.FLOAT);
                case DOUBLE -> Schema.create(Schema.Type.DOUBLE);
                case BOOLEAN -> Schema.create(Schema.Type.BOOLEAN);
                case STRING -> Schema.create(Schema.Type.STRING);
                case DATE -> LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT));
                case TIMESTAMP_MICROS -> LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
                case LOCAL_TIMESTAMP_MICROS -> LogicalTypes.localTimestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
            };
        }
    }

    /** What a failed cast does to the record. */
    public enum OnFailure {
        DEAD_LETTER("dead-letter"), NULL("null"), FAIL("fail");

        public final String spec;

        OnFailure(String spec) {
            this.spec = spec;
        }

        public static Optional<OnFailure> of(String spec) {
            return Arrays.stream(values()).filter(t -> t.spec.equals(spec)).findFirst();
        }

        public static List<String> names() {
            return Arrays.stream(values()).map(t -> t.spec).toList();
        }
    }

    /** Thrown by {@link #convert} when the value cannot be converted; the caller applies the policy. */
    public static final class Failure extends Exception {
        public Failure(String message) {
            super(message, null, false, false);
        }
    }

    /**
     * Converts a source value (as decoded from Avro) to {@code to}. Null stays null: a missing value
     * is not a failed conversion. Text is trimmed; numbers convert only when exact (no rounding of
     * 2.5 into an int, no overflow); timestamps read ISO-8601.
     */
    public static Object convert(Object value, Schema sourceField, To to) throws Failure {
        if (value == null) {
            return null;
        }
        Schema source = AvroCel.nonNull(sourceField);
        try {
            return switch (to) {
                case STRING -> RowValues.text(value, source);
                case INT -> {
                    BigDecimal d = decimal(value);
                    yield d.intValueExact();
                }
                case LONG -> decimal(value).longValueExact();
                case FLOAT -> (float) decimal(value).doubleValue();
                case DOUBLE -> decimal(value).doubleValue();
                case BOOLEAN -> bool(value);
                case DATE -> {
                    if (value instanceof Integer days && "date".equals(AvroCel.logicalName(source))) {
                        yield days;
                    }
                    yield Math.toIntExact(LocalDate.parse(text(value)).toEpochDay());
                }
                case TIMESTAMP_MICROS -> {
                    if (value instanceof Long micros && "timestamp-micros".equals(AvroCel.logicalName(source))) {
                        yield micros;
                    }
                    yield micros(instant(text(value)));
                }
                case LOCAL_TIMESTAMP_MICROS -> {
                    if (value instanceof Long micros && "local-timestamp-micros".equals(AvroCel.logicalName(source))) {
                        yield micros;
                    }
                    yield micros(LocalDateTime.parse(text(value)).toInstant(ZoneOffset.UTC));
                }
            };
        } catch (ArithmeticException | NumberFormatException | DateTimeParseException e) {
            throw new Failure("cannot convert " + describe(value) + " to " + to.spec + " (" + e.getMessage() + ")");
        }
    }

    private static BigDecimal decimal(Object value) throws Failure {
        if (value instanceof Integer || value instanceof Long) {
            return BigDecimal.valueOf(((Number) value).longValue());
        }
        if (value instanceof Float || value instanceof Double) {
            double d = ((Number) value).doubleValue();
            if (Double.isNaN(d) || Double.isInfinite(d)) {
                throw new NumberFormatException("not a finite number");
            }
            return BigDecimal.valueOf(d);
        }
        if (value instanceof CharSequence cs) {
            return new BigDecimal(cs.toString().trim());
        }
        throw new Failure("cannot convert " + describe(value) + " to a number");
    }

    private static boolean bool(Object value) throws Failure {
        if (value instanceof Boolean b) {
            return b;
        }
        if (value instanceof CharSequence cs) {
            // PostgreSQL's boolean input spellings.
            switch (cs.toString().trim().toLowerCase(Locale.ROOT)) {
                case "true", "t", "yes", "y", "on", "1" -> {
                    return true;
                }
                case "false", "f", "no", "n", "off", "0" -> {
                    return false;
                }
                default -> {
                }
            }
        }
        throw new Failure("cannot convert " + describe(value) + " to boolean");
    }

    private static String text(Object value) throws Failure {
        if (value instanceof CharSequence cs) {
            return cs.toString().trim();
        }
        throw new Failure("cannot convert " + describe(value) + " from " + value.getClass().getSimpleName() + "; expected text");
    }

    private static Instant instant(String text) {
        try {
            return Instant.parse(text);
        } catch (DateTimeParseException e) {
            return OffsetDateTime.parse(text).toInstant();
        }
    }

    private static long micros(Instant i) {
        return Math.addExact(Math.multiplyExact(i.getEpochSecond(), 1_000_000L), i.getNano() / 1000L);
    }

    private static String describe(Object value) {
        return value instanceof CharSequence ? "'" + value + "'" : String.valueOf(value);
    }
}

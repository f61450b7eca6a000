package dev.understudy.capture;

import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.PgTemporal;
import io.debezium.connector.postgresql.PostgresValueConverter;
import io.debezium.connector.postgresql.UnchangedToastedReplicationMessageColumn;
import io.debezium.data.SpecialValueDecimal;
import io.debezium.spi.converter.CustomConverter;
import io.debezium.spi.converter.RelationalColumn;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.postgresql.PGStatement;
import org.postgresql.util.PGInterval;
import org.postgresql.util.PGobject;

import java.math.BigDecimal;
import java.sql.Array;
import java.sql.Date;
import java.sql.SQLException;
import java.sql.SQLXML;
import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.LocalTime;
import java.time.OffsetDateTime;
import java.util.Calendar;
import java.util.GregorianCalendar;
import java.util.Properties;
import java.util.Set;
import java.util.function.Function;

/**
 * A Debezium custom converter ({@code converters=exact}, see {@link CaptureSettings#debeziumProperties()})
 * that replaces the PostgreSQL connector's own conversions wherever those change a value:
 * <ul>
 *   <li>{@code date}, {@code timestamp}, {@code timestamptz}: the connector's converters fail on
 *   {@code infinity}, BC and the years past 9999 in a snapshot, and drop the era of a date read
 *   through JDBC; here they become the logical-type values of {@link PgTemporal}, infinities included.</li>
 *   <li>{@code time}: {@code 24:00:00} is a valid PostgreSQL time that the connector rejects.</li>
 *   <li>{@code interval}: {@code interval.handling.mode=numeric} counts a month as 30.4375 days and
 *   {@code string} rewrites it as ISO-8601; neither is PostgreSQL's value. It travels as PostgreSQL's
 *   own text (IntervalStyle postgres), rebuilt from the months, days and microseconds it holds.</li>
 *   <li>arrays: the connector maps one-dimensional arrays only (a 2-D array's rows become NULL) and
 *   drops non-default bounds; the array's text form ({@code [0:1]={5,6}}) carries both.</li>
 *   <li>{@code numeric}, {@code money}: as exact decimal text, {@code NaN} and {@code ±Infinity} included.</li>
 *   <li>{@code bit}, {@code bit varying}: the connector turns them into bytes and loses the length.</li>
 *   <li>{@code xml}, the geometric types and {@code timetz}: their text form.</li>
 * </ul>
 * Which types are converted, and to what, is the type reference in docs/types.md. The converter
 * receives what the connector read: in a snapshot the JDBC value ({@code PostgresConnection.getColumnValue}
 * reads time, timetz, timestamp, timestamptz, bit and numeric as strings, arrays as {@link java.sql.Array},
 * the rest with {@code getObject}); while streaming the pgoutput text parsed by
 * {@code ReplicationMessageColumnValueResolver} (date a {@link LocalDate}, timestamp an {@link Instant},
 * timestamptz an {@link OffsetDateTime} in UTC, interval a {@link PGInterval}, arrays a pgjdbc array
 * holding the text, time and the text types strings). Each conversion accepts every one of those forms.
 */
public final class ExactValueConverter implements CustomConverter<SchemaBuilder, RelationalColumn> {
    /** Connect schema name of a date: days since 1970-01-01, {@link PgTemporal} infinities. */
    static final String DATE = "dev.understudy.capture.Date";
    /** Connect schema name of a timestamp without time zone: microseconds, {@link PgTemporal} infinities. */
    static final String TIMESTAMP = "dev.understudy.capture.Timestamp";
    /** Connect schema name of a timestamptz: microseconds since the epoch (an instant), {@link PgTemporal} infinities. */
    static final String TIMESTAMPTZ = "dev.understudy.capture.Timestamptz";
    /** Connect schema name of a time: microseconds since midnight, up to 24:00:00. */
    static final String TIME = "dev.understudy.capture.Time";
    /** Connect schema name of a value carried as its PostgreSQL text form. */
    static final String TEXT = "dev.understudy.capture.Text";

    /**
     * What a conversion returns for a value it cannot carry, in place of throwing: an exception in a
     * converter stops the whole connector ("This connector will be stopped"), naming neither column nor
     * row. The capture finds these markers ({@link #uncarried}) when it converts the row to Avro and
     * dead-letters that one change with its coordinates. A text marker starts with NUL, which no
     * PostgreSQL text value contains; the numeric markers are one below the infinity sentinels, and the
     * finite values that would land on them (timestamps after 294247-01-10 04:00:54.775805 UTC, which
     * microseconds since 1970 in a long cannot hold anyway) are refused with them.
     */
    static final String UNCARRIED_TEXT = "\u0000understudy: value not carried: ";
    static final long UNCARRIED_TIMESTAMP = PgTemporal.TIMESTAMP_POSITIVE_INFINITY - 1;
    static final int UNCARRIED_DATE = PgTemporal.DATE_POSITIVE_INFINITY - 1;
    static final long UNCARRIED_TIME = -1;

    /** Why a value converted by this class was not carried, or null when it was. */
    static String uncarried(String schemaName, Object value) {
        if (schemaName == null || value == null) {
            return null;
        }
        return switch (schemaName) {
            case TEXT -> value instanceof String s && s.startsWith(UNCARRIED_TEXT) ? s.substring(UNCARRIED_TEXT.length()) : null;
            case TIMESTAMP, TIMESTAMPTZ -> ((Number) value).longValue() == UNCARRIED_TIMESTAMP
                    ? "a timestamp at or after 294247-01-10 04:00:54.775806 (UTC) does not fit Avro's microseconds since 1970 in a long"
                    : null;
            case DATE -> ((Number) value).intValue() == UNCARRIED_DATE ? "a date Avro's days since 1970 in an int cannot hold" : null;
            case TIME -> ((Number) value).longValue() == UNCARRIED_TIME ? "not a time of day PostgreSQL prints" : null;
            default -> null;
        };
    }

    /** Types carried as text whose value the JDBC driver or the connector returns as a PGobject or a string. */
    private static final Set<String> TEXT_TYPES = Set.of("bit", "varbit", "xml", "money", "numeric", "interval", "timetz",
            "point", "line", "lseg", "box", "path", "polygon", "circle");

    @Override
    public void configure(Properties props) {
    }

    @Override
    public void converterFor(RelationalColumn column, ConverterRegistration<SchemaBuilder> registration) {
        String type = column.typeName();
        if (type == null) {
            return;
        }
        switch (type) {
            case "date" -> registration.register(optional(SchemaBuilder.int32().name(DATE), column),
                    v -> convert(v, ExactValueConverter::date, UNCARRIED_DATE));
            case "timestamp" -> registration.register(optional(SchemaBuilder.int64().name(TIMESTAMP), column),
                    v -> convert(v, ExactValueConverter::timestamp, UNCARRIED_TIMESTAMP));
            case "timestamptz" -> registration.register(optional(SchemaBuilder.int64().name(TIMESTAMPTZ), column),
                    v -> convert(v, ExactValueConverter::timestamptz, UNCARRIED_TIMESTAMP));
            case "time" -> registration.register(optional(SchemaBuilder.int64().name(TIME), column),
                    v -> convert(v, ExactValueConverter::time, UNCARRIED_TIME));
            default -> {
                if (type.startsWith("_") || TEXT_TYPES.contains(type)) {
                    registration.register(optional(SchemaBuilder.string().name(TEXT), column),
                            v -> convert(v, ExactValueConverter::text, null));
                }
            }
        }
    }

    /**
     * Every schema is optional, NOT NULL columns too: a delete's old image under the default replica
     * identity carries the key columns only, and the connector passes null for the others, which a
     * required Connect field refuses (DataException, the connector stops). The connector's own
     * converters substitute a fallback value there; null is what the capture's Avro rows hold anyway
     * (every row field is a union with null).
     */
    private static SchemaBuilder optional(SchemaBuilder b, RelationalColumn column) {
        return b.optional();
    }

    /**
     * {@code conversion} of a non-null value, or for a value it cannot carry {@code marker} (for text,
     * {@link #UNCARRIED_TEXT} and the reason). The marker is returned also when a finite value converts
     * to the marker itself or an infinity sentinel, which would otherwise read as another value.
     */
    private static Object convert(Object value, Function<Object, Object> conversion, Object marker) {
        if (value == null) {
            return null;
        }
        if (UnchangedToastedReplicationMessageColumn.isUnchangedToastedValue(value)) {
            // Only variable-length (text-carried) values are TOASTed; the migration fills the placeholder
            // from the row's prior image (transform-streams ToastPlaceholders).
            return ChangeEnvelope.UNAVAILABLE_VALUE_PLACEHOLDER;
        }
        try {
            return conversion.apply(value);
        } catch (RuntimeException e) {
            String reason = "'" + value + "' (" + value.getClass().getName() + "): " + e;
            return marker == null ? UNCARRIED_TEXT + reason : marker;
        }
    }

    static Object date(Object v) {
        if (v instanceof String s) {
            return PgTextParser.date(s);
        }
        if (v instanceof LocalDate d) {
            if (d.equals(PostgresValueConverter.POSITIVE_INFINITY_LOCAL_DATE)) {
                return PgTemporal.DATE_POSITIVE_INFINITY;
            }
            if (d.equals(PostgresValueConverter.NEGATIVE_INFINITY_LOCAL_DATE)) {
                return PgTemporal.DATE_NEGATIVE_INFINITY;
            }
            return Math.toIntExact(d.toEpochDay());
        }
        if (v instanceof Date d) {
            if (d.getTime() == PGStatement.DATE_POSITIVE_INFINITY) {
                return PgTemporal.DATE_POSITIVE_INFINITY;
            }
            if (d.getTime() == PGStatement.DATE_NEGATIVE_INFINITY) {
                return PgTemporal.DATE_NEGATIVE_INFINITY;
            }
            // pgjdbc sets the text's era, year, month and day on a default GregorianCalendar (in the JVM's
            // zone); reading those fields back from the same kind of calendar returns them unchanged, where
            // java.sql.Date#toLocalDate would drop the era.
            GregorianCalendar cal = new GregorianCalendar();
            cal.setTime(d);
            int year = cal.get(Calendar.YEAR);
            int proleptic = cal.get(Calendar.ERA) == GregorianCalendar.BC ? 1 - year : year;
            return Math.toIntExact(LocalDate.of(proleptic, cal.get(Calendar.MONTH) + 1, cal.get(Calendar.DAY_OF_MONTH)).toEpochDay());
        }
        throw new IllegalArgumentException("unexpected value type");
    }

    static Object timestamp(Object v) {
        if (v instanceof String s) {
            return finiteOrInfinite(s, PgTextParser.localTimestamp(s));
        }
        if (v instanceof Instant i) {
            if (i.equals(PostgresValueConverter.POSITIVE_INFINITY_INSTANT)) {
                return PgTemporal.TIMESTAMP_POSITIVE_INFINITY;
            }
            if (i.equals(PostgresValueConverter.NEGATIVE_INFINITY_INSTANT)) {
                return PgTemporal.TIMESTAMP_NEGATIVE_INFINITY;
            }
            // ReplicationMessageColumnValueResolver reads a timestamp's fields as if in UTC.
            return finite(Math.addExact(Math.multiplyExact(i.getEpochSecond(), 1_000_000L), i.getNano() / 1000L));
        }
        if (v instanceof LocalDateTime t) {
            return finite(PgTextParser.micros(t));
        }
        throw new IllegalArgumentException("unexpected value type");
    }

    static Object timestamptz(Object v) {
        if (v instanceof String s) {
            return finiteOrInfinite(s, PgTextParser.timestamptz(s));
        }
        if (v instanceof OffsetDateTime t) {
            if (t.equals(PostgresValueConverter.POSITIVE_INFINITY_OFFSET_DATE_TIME)) {
                return PgTemporal.TIMESTAMP_POSITIVE_INFINITY;
            }
            if (t.equals(PostgresValueConverter.NEGATIVE_INFINITY_OFFSET_DATE_TIME)) {
                return PgTemporal.TIMESTAMP_NEGATIVE_INFINITY;
            }
            Instant i = t.toInstant();
            return finite(Math.addExact(Math.multiplyExact(i.getEpochSecond(), 1_000_000L), i.getNano() / 1000L));
        }
        throw new IllegalArgumentException("unexpected value type");
    }

    /** A finite timestamp's micros, refused when they would read as a sentinel (see {@link #UNCARRIED_TIMESTAMP}). */
    private static long finite(long micros) {
        if (micros >= UNCARRIED_TIMESTAMP || micros == PgTemporal.TIMESTAMP_NEGATIVE_INFINITY) {
            throw new ArithmeticException("beyond the microseconds since 1970 a long holds");
        }
        return micros;
    }

    private static long finiteOrInfinite(String text, long micros) {
        return text.endsWith("infinity") ? micros : finite(micros);
    }

    static Object time(Object v) {
        if (v instanceof String s) {
            return PgTextParser.time(s);
        }
        if (v instanceof LocalTime t) {
            return t.toNanoOfDay() / 1000L;
        }
        throw new IllegalArgumentException("unexpected value type");
    }

    static Object text(Object v) {
        if (v instanceof String s) {
            return s;
        }
        if (v instanceof PGInterval i) {
            return intervalText(i);
        }
        if (v instanceof SpecialValueDecimal d) {
            if (d.equals(SpecialValueDecimal.NOT_A_NUMBER)) {
                return "NaN";
            }
            if (d.equals(SpecialValueDecimal.POSITIVE_INF)) {
                return "Infinity";
            }
            if (d.equals(SpecialValueDecimal.NEGATIVE_INF)) {
                return "-Infinity";
            }
            return d.getDecimalValue().orElseThrow().toPlainString();
        }
        if (v instanceof BigDecimal d) {
            return d.toPlainString();
        }
        if (v instanceof Array a) {
            // pgjdbc's PgArray keeps the server's text (with dimensions and bounds) and returns it here.
            return a.toString();
        }
        if (v instanceof SQLXML x) {
            try {
                return x.getString();
            } catch (SQLException e) {
                throw new IllegalArgumentException("cannot read xml: " + e.getMessage(), e);
            }
        }
        if (v instanceof PGobject o) {
            return o.getValue();
        }
        throw new IllegalArgumentException("unexpected value type");
    }

    /**
     * PostgreSQL's output of an interval in IntervalStyle postgres (EncodeInterval, INTSTYLE_POSTGRES,
     * src/backend/utils/adt/datetime.c): years and months from the month count, days, then the time
     * part as {@code [-]HH:MM:SS[.ffffff]} when it is not zero or nothing else was printed; a positive
     * part after a negative one gets a '+'.
     */
    static String intervalText(PGInterval i) {
        long months = (long) i.getYears() * 12 + i.getMonths();
        long micros = (((long) i.getHours() * 60 + i.getMinutes()) * 60 + i.getWholeSeconds()) * 1_000_000L + i.getMicroSeconds();
        return intervalText(months, i.getDays(), micros);
    }

    static String intervalText(long months, long days, long micros) {
        StringBuilder sb = new StringBuilder();
        boolean[] state = {true, false}; // is_zero, is_before
        part(sb, months / 12, "year", state);
        part(sb, months % 12, "mon", state);
        part(sb, days, "day", state);
        long hours = micros / 3_600_000_000L;
        long rest = micros - hours * 3_600_000_000L;
        long minutes = rest / 60_000_000L;
        rest -= minutes * 60_000_000L;
        long seconds = rest / 1_000_000L;
        long fraction = rest - seconds * 1_000_000L;
        if (state[0] || micros != 0) {
            boolean minus = hours < 0 || minutes < 0 || seconds < 0 || fraction < 0;
            sb.append(state[0] ? "" : " ").append(minus ? "-" : (state[1] ? "+" : ""));
            String h = Long.toString(Math.abs(hours));
            sb.append(h.length() < 2 ? "0" : "").append(h).append(':');
            sb.append(Math.abs(minutes) < 10 ? "0" : "").append(Math.abs(minutes)).append(':');
            sb.append(Math.abs(seconds) < 10 ? "0" : "").append(Math.abs(seconds));
            if (fraction != 0) {
                String f = Long.toString(Math.abs(fraction) + 1_000_000L).substring(1);
                int end = f.length();
                while (f.charAt(end - 1) == '0') {
                    end--;
                }
                sb.append('.').append(f, 0, end);
            }
        }
        return sb.toString();
    }

    private static void part(StringBuilder sb, long value, String unit, boolean[] state) {
        if (value == 0) {
            return;
        }
        sb.append(state[0] ? "" : " ").append(state[1] && value > 0 ? "+" : "").append(value).append(' ').append(unit)
                .append(value != 1 ? "s" : "");
        state[1] = value < 0;
        state[0] = false;
    }
}

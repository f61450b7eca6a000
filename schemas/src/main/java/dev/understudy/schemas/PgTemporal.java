package dev.understudy.schemas;

import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoField;

/**
 * How PostgreSQL's date and time values travel in Avro, and their text forms.
 * <p>
 * Finite values use Avro's logical types: {@code date} (days since 1970-01-01), {@code time-micros},
 * {@code local-timestamp-micros} (timestamp) and {@code timestamp-micros} (timestamptz, an instant).
 * Every finite PostgreSQL value fits: dates span 4714-11-24 BC to 5874897-12-31 AD (about ±2.1e9 days),
 * timestamps 4714-11-24 BC to 294276-12-31 AD (about ±9.2e18 microseconds), and time runs from
 * 00:00:00 to 24:00:00 inclusive (PostgreSQL docs, "Date/Time Types").
 * <p>
 * {@code infinity} and {@code -infinity} are the largest and smallest value of the Avro type, the
 * same sentinels PostgreSQL stores for them (DATEVAL_NOEND / DATEVAL_NOBEGIN are INT32 max and min,
 * DT_NOEND / DT_NOBEGIN INT64 max and min; src/include/datatype/timestamp.h). They lie outside every
 * finite value's range, so no finite value is mistaken for one.
 * <p>
 * The text forms are what PostgreSQL's input functions read exactly, whatever the session's
 * DateStyle (ISO year-month-day order) and TimeZone (instants carry an explicit offset): ISO-8601 as
 * {@link LocalDate#toString()} and {@link java.time.Instant#toString()} print it for years 1 to 9999, and
 * PostgreSQL's own form ({@code 4713-01-01 BC}, {@code 294276-12-31 23:59:59.999999}) outside them,
 * where ISO-8601 would write a sign ({@code -4712}, {@code +10000}) that PostgreSQL does not read.
 */
public final class PgTemporal {
    /** Avro {@code date} value of PostgreSQL {@code 'infinity'::date}. */
    public static final int DATE_POSITIVE_INFINITY = Integer.MAX_VALUE;
    /** Avro {@code date} value of PostgreSQL {@code '-infinity'::date}. */
    public static final int DATE_NEGATIVE_INFINITY = Integer.MIN_VALUE;
    /** Avro timestamp value (either kind) of PostgreSQL {@code 'infinity'}. */
    public static final long TIMESTAMP_POSITIVE_INFINITY = Long.MAX_VALUE;
    /** Avro timestamp value (either kind) of PostgreSQL {@code '-infinity'}. */
    public static final long TIMESTAMP_NEGATIVE_INFINITY = Long.MIN_VALUE;
    /** time-micros of PostgreSQL's {@code '24:00:00'}, the one time of day {@link java.time.LocalTime} cannot hold. */
    public static final long TIME_END_OF_DAY = 86_400_000_000L;

    private PgTemporal() {
    }

    /** Text of an Avro {@code date} (days since 1970-01-01). */
    public static String dateText(long days) {
        if (days == DATE_POSITIVE_INFINITY) {
            return "infinity";
        }
        if (days == DATE_NEGATIVE_INFINITY) {
            return "-infinity";
        }
        LocalDate d = LocalDate.ofEpochDay(days);
        if (isoYear(d.getYear())) {
            return d.toString();
        }
        StringBuilder sb = new StringBuilder(16);
        appendDate(sb, d);
        return appendEra(sb, d.getYear()).toString();
    }

    /** Text of an Avro {@code local-timestamp-micros} (a PostgreSQL timestamp without time zone). */
    public static String localTimestampText(long micros) {
        if (micros == TIMESTAMP_POSITIVE_INFINITY) {
            return "infinity";
        }
        if (micros == TIMESTAMP_NEGATIVE_INFINITY) {
            return "-infinity";
        }
        LocalDateTime t = LocalDateTime.ofEpochSecond(Math.floorDiv(micros, 1_000_000L),
                (int) (Math.floorMod(micros, 1_000_000L) * 1000L), ZoneOffset.UTC);
        if (isoYear(t.getYear())) {
            return t.toString();
        }
        StringBuilder sb = new StringBuilder(32);
        appendDate(sb, t.toLocalDate());
        sb.append(' ');
        appendTime(sb, t.toLocalTime().toNanoOfDay() / 1000L);
        return appendEra(sb, t.getYear()).toString();
    }

    /** Text of an Avro {@code timestamp-micros} (a PostgreSQL timestamptz): an instant in UTC. */
    public static String timestampText(long micros) {
        if (micros == TIMESTAMP_POSITIVE_INFINITY) {
            return "infinity";
        }
        if (micros == TIMESTAMP_NEGATIVE_INFINITY) {
            return "-infinity";
        }
        Instant i = Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
        LocalDateTime t = LocalDateTime.ofInstant(i, ZoneOffset.UTC);
        if (isoYear(t.getYear())) {
            return i.toString();
        }
        StringBuilder sb = new StringBuilder(36);
        appendDate(sb, t.toLocalDate());
        sb.append(' ');
        appendTime(sb, t.toLocalTime().toNanoOfDay() / 1000L);
        sb.append("+00");
        return appendEra(sb, t.getYear()).toString();
    }

    /** Text of an Avro {@code time-micros}, {@code HH:MM:SS[.ffffff]}, including {@code 24:00:00}. */
    public static String timeText(long micros) {
        if (micros < 0 || micros > TIME_END_OF_DAY) {
            throw new IllegalArgumentException("time-micros " + micros + " is outside 00:00:00..24:00:00, the range of PostgreSQL's time");
        }
        StringBuilder sb = new StringBuilder(15);
        appendTime(sb, micros);
        return sb.toString();
    }

    private static boolean isoYear(int year) {
        return year >= 1 && year <= 9999;
    }

    /** Year of era (at least four digits), month and day; the era is appended separately. */
    private static void appendDate(StringBuilder sb, LocalDate d) {
        int yearOfEra = d.get(ChronoField.YEAR_OF_ERA);
        String y = Integer.toString(yearOfEra);
        sb.append("0".repeat(Math.max(0, 4 - y.length()))).append(y).append('-');
        pad2(sb, d.getMonthValue()).append('-');
        pad2(sb, d.getDayOfMonth());
    }

    private static StringBuilder appendEra(StringBuilder sb, int prolepticYear) {
        // ISO year 0 is 1 BC, -1 is 2 BC... (java.time's proleptic year; PostgreSQL has no year 0).
        return prolepticYear <= 0 ? sb.append(" BC") : sb;
    }

    /** {@code HH:MM:SS} and, when not zero, a fraction without trailing zeros, as PostgreSQL prints it. */
    private static void appendTime(StringBuilder sb, long micros) {
        long seconds = micros / 1_000_000L;
        int fraction = (int) (micros % 1_000_000L);
        pad2(sb, (int) (seconds / 3600)).append(':');
        pad2(sb, (int) (seconds / 60 % 60)).append(':');
        pad2(sb, (int) (seconds % 60));
        if (fraction != 0) {
            String f = Integer.toString(fraction + 1_000_000).substring(1);
            int end = f.length();
            while (f.charAt(end - 1) == '0') {
                end--;
            }
            sb.append('.').append(f, 0, end);
        }
    }

    private static StringBuilder pad2(StringBuilder sb, int v) {
        return sb.append(v < 10 ? "0" : "").append(v);
    }
}

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
        if (days >= ISO_FIRST_DAY && days <= ISO_LAST_DAY) {
            char[] out = new char[10];
            isoDate(out, days);
            return new String(out);
        }
        LocalDate d = LocalDate.ofEpochDay(days);
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
        if (micros >= ISO_FIRST_MICROS && micros < ISO_END_MICROS) {
            return isoTimestamp(micros, false);
        }
        LocalDateTime t = LocalDateTime.ofEpochSecond(Math.floorDiv(micros, 1_000_000L),
                (int) (Math.floorMod(micros, 1_000_000L) * 1000L), ZoneOffset.UTC);
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
        if (micros >= ISO_FIRST_MICROS && micros < ISO_END_MICROS) {
            return isoTimestamp(micros, true);
        }
        Instant i = Instant.ofEpochSecond(Math.floorDiv(micros, 1_000_000L), Math.floorMod(micros, 1_000_000L) * 1000L);
        LocalDateTime t = LocalDateTime.ofInstant(i, ZoneOffset.UTC);
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

    // Years 1 to 9999, where the text is ISO-8601's: days since 1970-01-01 of 0001-01-01 and of 9999-12-31.
    private static final long ISO_FIRST_DAY = -719_162L;
    private static final long ISO_LAST_DAY = 2_932_896L;
    private static final long ISO_FIRST_MICROS = ISO_FIRST_DAY * 86_400_000_000L;
    private static final long ISO_END_MICROS = (ISO_LAST_DAY + 1) * 86_400_000_000L;

    /**
     * A timestamp of years 1 to 9999 as {@link Instant#toString()} ({@code instant}) or
     * {@link LocalDateTime#toString()} print it, character for character (PgTemporalTest compares
     * them): the text of every value the pipeline copies, built here without java.time's formatter,
     * which was a twentieth of a bulk load's CPU.
     */
    private static String isoTimestamp(long micros, boolean instant) {
        long days = Math.floorDiv(micros, 86_400_000_000L);
        long ofDay = micros - days * 86_400_000_000L;
        int second = (int) (ofDay / 1_000_000L);
        int fraction = (int) (ofDay % 1_000_000L);
        char[] out = new char[28];
        isoDate(out, days);
        out[10] = 'T';
        digits2(out, 11, second / 3600);
        out[13] = ':';
        digits2(out, 14, second / 60 % 60);
        int n = 16;
        // LocalTime.toString leaves out zero seconds with a zero fraction (HH:mm); Instant's form never does.
        if (instant || second % 60 != 0 || fraction != 0) {
            out[n] = ':';
            digits2(out, n + 1, second % 60);
            n += 3;
        }
        if (fraction != 0) {
            // java.time prints the fraction in groups of three digits: milliseconds when they say it all.
            out[n++] = '.';
            int value = fraction % 1000 == 0 ? fraction / 1000 : fraction;
            int width = fraction % 1000 == 0 ? 3 : 6;
            for (int i = width - 1; i >= 0; i--) {
                out[n + i] = (char) ('0' + value % 10);
                value /= 10;
            }
            n += width;
        }
        if (instant) {
            out[n++] = 'Z';
        }
        return new String(out, 0, n);
    }

    /**
     * {@code yyyy-MM-dd} of a day of years 1 to 9999 into {@code out[0..9]}: the proleptic Gregorian
     * calendar's civil date (H. Hinnant, "chrono-Compatible Low-Level Date Algorithms", civil_from_days).
     */
    private static void isoDate(char[] out, long epochDay) {
        long z = epochDay + 719_468L;
        long era = Math.floorDiv(z, 146_097L);
        long doe = z - era * 146_097L;
        long yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
        long doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
        long mp = (5 * doy + 2) / 153;
        int day = (int) (doy - (153 * mp + 2) / 5 + 1);
        int month = (int) (mp < 10 ? mp + 3 : mp - 9);
        int year = (int) (yoe + era * 400 + (month <= 2 ? 1 : 0));
        digits2(out, 0, year / 100);
        digits2(out, 2, year % 100);
        out[4] = '-';
        digits2(out, 5, month);
        out[7] = '-';
        digits2(out, 8, day);
    }

    private static void digits2(char[] out, int at, int v) {
        out[at] = (char) ('0' + v / 10);
        out[at + 1] = (char) ('0' + v % 10);
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

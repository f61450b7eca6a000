package dev.understudy.capture;

import dev.understudy.schemas.PgTemporal;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

/**
 * Reads PostgreSQL's text output of date, time, timestamp and timestamptz (DateStyle ISO, the style
 * pgjdbc sets on its connections and walsender uses for pgoutput) into the Avro values of
 * {@link PgTemporal}: {@code 2024-03-01}, {@code 4713-01-01 BC}, {@code 24:00:00},
 * {@code 294276-12-31 23:59:59.999999}, {@code 0001-01-01 05:53:28+05:53:28 BC}, {@code infinity}.
 * <p>
 * The formats are PostgreSQL's output functions' (PostgreSQL docs, "Date/Time Output"): a year of at
 * least four digits, a fraction of up to six digits, an offset of hours with optional minutes and
 * seconds, and " BC" at the very end. java.time's ISO parsers read none of the BC, five-digit-year or
 * seconds-offset forms, hence this parser.
 */
final class PgTextParser {
    private PgTextParser() {
    }

    /** Days since 1970-01-01 of a date's text. */
    static int date(String text) {
        if ("infinity".equals(text)) {
            return PgTemporal.DATE_POSITIVE_INFINITY;
        }
        if ("-infinity".equals(text)) {
            return PgTemporal.DATE_NEGATIVE_INFINITY;
        }
        Cursor c = new Cursor(text);
        LocalDate d = c.date();
        c.expectEnd();
        return Math.toIntExact(d.toEpochDay());
    }

    /** Microseconds since 1970-01-01 00:00 of a timestamp (without time zone)'s text. */
    static long localTimestamp(String text) {
        return timestamp(text, false);
    }

    /** Microseconds since 1970-01-01 00:00 UTC of a timestamptz's text, which carries its offset. */
    static long timestamptz(String text) {
        return timestamp(text, true);
    }

    private static long timestamp(String text, boolean withOffset) {
        if ("infinity".equals(text)) {
            return PgTemporal.TIMESTAMP_POSITIVE_INFINITY;
        }
        if ("-infinity".equals(text)) {
            return PgTemporal.TIMESTAMP_NEGATIVE_INFINITY;
        }
        Cursor c = new Cursor(text);
        LocalDate d = c.date();
        c.expect(' ');
        long micros = c.time();
        int offsetSeconds = withOffset ? c.offset() : 0;
        c.expectEnd();
        // The offset first: near the top of the range the local time can lie past what a long holds
        // while the instant does not.
        return Math.addExact(Math.multiplyExact(d.toEpochDay(), 86_400_000_000L), micros - offsetSeconds * 1_000_000L);
    }

    /** Microseconds since midnight of a time's text, 00:00:00 to 24:00:00. */
    static long time(String text) {
        Cursor c = new Cursor(text);
        long micros = c.time();
        c.expectEnd();
        return micros;
    }

    /** A LocalDateTime from its PostgreSQL fields, for callers holding java.time values. */
    static long micros(LocalDateTime t) {
        return Math.addExact(Math.multiplyExact(t.toEpochSecond(ZoneOffset.UTC), 1_000_000L), t.getNano() / 1000L);
    }

    private static final class Cursor {
        final String text;
        int pos;
        /** Where " BC" starts, or the text's length; set by date(). */
        int end;

        Cursor(String text) {
            this.text = text;
            this.end = text.endsWith(" BC") ? text.length() - 3 : text.length();
        }

        LocalDate date() {
            int yearOfEra = number(4, 10);
            expect('-');
            int month = number(2, 2);
            expect('-');
            int day = number(2, 2);
            boolean bc = end < text.length();
            // ISO proleptic year: 1 BC is year 0, 2 BC is -1 (PostgreSQL has no year 0).
            return LocalDate.of(bc ? 1 - yearOfEra : yearOfEra, month, day);
        }

        long time() {
            long hours = number(2, 2);
            expect(':');
            long minutes = number(2, 2);
            expect(':');
            long seconds = number(2, 2);
            long micros = 0;
            if (pos < end && text.charAt(pos) == '.') {
                pos++;
                int start = pos;
                long fraction = number(1, 6);
                for (int i = pos - start; i < 6; i++) {
                    fraction *= 10;
                }
                micros = fraction;
            }
            long total = ((hours * 60 + minutes) * 60 + seconds) * 1_000_000L + micros;
            if (minutes > 59 || seconds > 59 || total > PgTemporal.TIME_END_OF_DAY) {
                throw invalid("a time of day between 00:00:00 and 24:00:00");
            }
            return total;
        }

        /** Offset in seconds east of UTC: {@code +HH}, {@code -HH:MM} or {@code +HH:MM:SS}. */
        int offset() {
            if (pos >= end || (text.charAt(pos) != '+' && text.charAt(pos) != '-')) {
                throw invalid("a UTC offset");
            }
            int sign = text.charAt(pos++) == '-' ? -1 : 1;
            int seconds = number(2, 2) * 3600;
            if (pos < end && text.charAt(pos) == ':') {
                pos++;
                seconds += number(2, 2) * 60;
                if (pos < end && text.charAt(pos) == ':') {
                    pos++;
                    seconds += number(2, 2);
                }
            }
            return sign * seconds;
        }

        int number(int minDigits, int maxDigits) {
            int start = pos;
            long v = 0;
            while (pos < end && pos - start < maxDigits && Character.isDigit(text.charAt(pos))) {
                v = v * 10 + (text.charAt(pos++) - '0');
            }
            if (pos - start < minDigits) {
                throw invalid(minDigits + " to " + maxDigits + " digits at position " + start);
            }
            return (int) v;
        }

        void expect(char ch) {
            if (pos >= end || text.charAt(pos) != ch) {
                throw invalid("'" + ch + "' at position " + pos);
            }
            pos++;
        }

        void expectEnd() {
            if (pos != end) {
                throw invalid("the end at position " + pos);
            }
        }

        IllegalArgumentException invalid(String expected) {
            return new IllegalArgumentException("'" + text + "' is not PostgreSQL date/time output: expected " + expected);
        }
    }
}

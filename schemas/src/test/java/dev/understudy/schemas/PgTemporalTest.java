package dev.understudy.schemas;

import org.junit.jupiter.api.Test;

import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The text forms PostgreSQL's date/time input reads back as the same value (PostgreSQL docs, "Date/Time Input"). */
class PgTemporalTest {
    private static long days(int year, int month, int day) {
        return LocalDate.of(year, month, day).toEpochDay();
    }

    private static long micros(LocalDateTime t) {
        return t.toEpochSecond(ZoneOffset.UTC) * 1_000_000L + t.getNano() / 1000L;
    }

    @Test
    void datesInTheIsoRangeStayIsoAndOthersTakePostgresForm() {
        assertEquals("2024-02-29", PgTemporal.dateText(days(2024, 2, 29)));
        assertEquals("0001-01-01", PgTemporal.dateText(days(1, 1, 1)));
        // ISO year 0 is 1 BC, -4712 is 4713 BC; PostgreSQL reads neither "0000" nor a sign.
        assertEquals("0001-12-31 BC", PgTemporal.dateText(days(0, 12, 31)));
        assertEquals("4713-01-01 BC", PgTemporal.dateText(days(-4712, 1, 1)));
        assertEquals("4714-11-24 BC", PgTemporal.dateText(days(-4713, 11, 24)));
        assertEquals("5874897-12-31", PgTemporal.dateText(days(5874897, 12, 31)));
        assertEquals("10000-01-01", PgTemporal.dateText(days(10000, 1, 1)));
        assertEquals("infinity", PgTemporal.dateText(PgTemporal.DATE_POSITIVE_INFINITY));
        assertEquals("-infinity", PgTemporal.dateText(PgTemporal.DATE_NEGATIVE_INFINITY));
    }

    @Test
    void timestampsOutsideTheIsoRangeTakePostgresForm() {
        assertEquals("2024-03-10T02:30:00.500", PgTemporal.localTimestampText(micros(LocalDateTime.of(2024, 3, 10, 2, 30, 0, 500_000_000))));
        // The latest microsecond since 1970 a long holds below the infinity sentinel.
        assertEquals("294247-01-10 04:00:54.775806", PgTemporal.localTimestampText(Long.MAX_VALUE - 1));
        assertEquals("4714-11-24 00:00:00 BC", PgTemporal.localTimestampText(micros(LocalDateTime.of(-4713, 11, 24, 0, 0))));
        assertEquals("4714-11-24 00:00:00+00 BC", PgTemporal.timestampText(micros(LocalDateTime.of(-4713, 11, 24, 0, 0))));
        assertEquals("10000-01-01 00:00:00.000001+00", PgTemporal.timestampText(micros(LocalDateTime.of(10000, 1, 1, 0, 0, 0, 1000))));
        assertEquals("2024-03-01T07:04:56.123456Z", PgTemporal.timestampText(micros(LocalDateTime.of(2024, 3, 1, 7, 4, 56, 123_456_000))));
        assertEquals("infinity", PgTemporal.timestampText(PgTemporal.TIMESTAMP_POSITIVE_INFINITY));
        assertEquals("-infinity", PgTemporal.localTimestampText(PgTemporal.TIMESTAMP_NEGATIVE_INFINITY));
    }

    @Test
    void timeIncludesTheEndOfDayAndTrimsTheFraction() {
        assertEquals("00:00:00", PgTemporal.timeText(0));
        assertEquals("24:00:00", PgTemporal.timeText(PgTemporal.TIME_END_OF_DAY));
        assertEquals("23:59:59.999999", PgTemporal.timeText(PgTemporal.TIME_END_OF_DAY - 1));
        assertEquals("12:34:56.5", PgTemporal.timeText(((12 * 60 + 34) * 60 + 56) * 1_000_000L + 500_000));
        assertThrows(IllegalArgumentException.class, () -> PgTemporal.timeText(PgTemporal.TIME_END_OF_DAY + 1));
    }

    /**
     * Years 1 to 9999 are printed without java.time's formatter: the text must stay what
     * LocalDate, LocalDateTime and Instant print, so random days and instants of the whole range, its
     * ends and every fraction shape (none, milliseconds, microseconds, whole minutes) are compared.
     */
    @Test
    void isoTextEqualsJavaTimesOwn() {
        java.util.SplittableRandom random = new java.util.SplittableRandom(20261208L);
        long first = days(1, 1, 1);
        long last = days(9999, 12, 31);
        java.util.List<Long> micros = new java.util.ArrayList<>(java.util.List.of(first * 86_400_000_000L, (last + 1) * 86_400_000_000L - 1, 0L, -1L, 1L,
                951_782_400_000_000L, 4_107_542_400_000_000L - 1));
        for (int i = 0; i < 200_000; i++) {
            long day = random.nextLong(first, last + 1);
            long ofDay = switch (i % 4) {
                case 0 -> random.nextLong(86_400_000_000L);
                case 1 -> random.nextLong(86_400L) * 1_000_000L;
                case 2 -> random.nextLong(86_400_000L) * 1_000L;
                default -> random.nextLong(1_440L) * 60_000_000L;
            };
            micros.add(day * 86_400_000_000L + ofDay);
        }
        for (long m : micros) {
            long days = Math.floorDiv(m, 86_400_000_000L);
            java.time.Instant instant = java.time.Instant.ofEpochSecond(Math.floorDiv(m, 1_000_000L), Math.floorMod(m, 1_000_000L) * 1000L);
            assertEquals(instant.toString(), PgTemporal.timestampText(m), "timestamptz " + m);
            assertEquals(LocalDateTime.ofInstant(instant, ZoneOffset.UTC).toString(), PgTemporal.localTimestampText(m), "timestamp " + m);
            assertEquals(LocalDate.ofEpochDay(days).toString(), PgTemporal.dateText(days), "date " + days);
        }
    }
}

package dev.understudy.capture;

import dev.understudy.schemas.PgTemporal;
import io.debezium.connector.postgresql.PostgresValueConverter;
import io.debezium.data.SpecialValueDecimal;
import org.junit.jupiter.api.Test;
import org.postgresql.PGStatement;
import org.postgresql.util.PGInterval;

import java.math.BigDecimal;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/**
 * Each conversion reads every form the connector hands over (snapshot: JDBC values and strings;
 * streaming: the pgoutput text parsed into java.time and pgjdbc values) to the same Avro value, and
 * the text forms are PostgreSQL's own output.
 */
class ExactValueConverterTest {
    private static long micros(LocalDateTime t) {
        return t.toEpochSecond(ZoneOffset.UTC) * 1_000_000L + t.getNano() / 1000L;
    }

    @Test
    void datesFromTextJavaTimeAndJdbcAgree() {
        int bc = (int) LocalDate.of(-4712, 1, 1).toEpochDay();
        assertEquals(bc, ExactValueConverter.date("4713-01-01 BC"));
        assertEquals(bc, ExactValueConverter.date(LocalDate.of(-4712, 1, 1)));
        assertEquals((int) LocalDate.of(5874897, 12, 31).toEpochDay(), ExactValueConverter.date("5874897-12-31"));
        assertEquals(PgTemporal.DATE_POSITIVE_INFINITY, ExactValueConverter.date("infinity"));
        assertEquals(PgTemporal.DATE_NEGATIVE_INFINITY, ExactValueConverter.date("-infinity"));
        assertEquals(PgTemporal.DATE_POSITIVE_INFINITY, ExactValueConverter.date(PostgresValueConverter.POSITIVE_INFINITY_LOCAL_DATE));
        assertEquals(PgTemporal.DATE_NEGATIVE_INFINITY, ExactValueConverter.date(PostgresValueConverter.NEGATIVE_INFINITY_LOCAL_DATE));
        assertEquals(PgTemporal.DATE_POSITIVE_INFINITY, ExactValueConverter.date(new java.sql.Date(PGStatement.DATE_POSITIVE_INFINITY)));
        assertEquals(PgTemporal.DATE_NEGATIVE_INFINITY, ExactValueConverter.date(new java.sql.Date(PGStatement.DATE_NEGATIVE_INFINITY)));
        // A java.sql.Date of a BC date (pgjdbc sets era, year, month and day on a GregorianCalendar).
        java.util.GregorianCalendar cal = new java.util.GregorianCalendar();
        cal.clear();
        cal.set(java.util.Calendar.ERA, java.util.GregorianCalendar.BC);
        cal.set(4713, java.util.Calendar.JANUARY, 1);
        assertEquals(bc, ExactValueConverter.date(new java.sql.Date(cal.getTimeInMillis())));
    }

    @Test
    void timestampsFromTextAndJavaTimeAgree() {
        long max = micros(LocalDateTime.of(294247, 1, 10, 4, 0, 54, 775_805_000));
        assertEquals(max, ExactValueConverter.timestamp("294247-01-10 04:00:54.775805"));
        long bc = micros(LocalDateTime.of(-4713, 11, 24, 0, 0));
        assertEquals(bc, ExactValueConverter.timestamp("4714-11-24 00:00:00 BC"));
        assertEquals(PgTemporal.TIMESTAMP_POSITIVE_INFINITY, ExactValueConverter.timestamp(PostgresValueConverter.POSITIVE_INFINITY_INSTANT));
        assertEquals(PgTemporal.TIMESTAMP_NEGATIVE_INFINITY, ExactValueConverter.timestamp("-infinity"));
        // timestamptz: a snapshot string in the JDBC session's zone, with an LMT offset in seconds and BC.
        assertEquals(bc, ExactValueConverter.timestamptz("4714-11-24 05:53:28+05:53:28 BC"));
        assertEquals(max, ExactValueConverter.timestamptz("294247-01-10 04:00:54.775805+00"));
        // As a snapshot in Asia/Kolkata reads it: the local time alone would overflow.
        assertEquals(max, ExactValueConverter.timestamptz("294247-01-10 09:30:54.775805+05:30"));
        assertEquals(micros(LocalDateTime.of(2024, 3, 1, 7, 4, 56, 123_456_000)),
                ExactValueConverter.timestamptz("2024-03-01 12:34:56.123456+05:30"));
        assertEquals(micros(LocalDateTime.of(2024, 3, 1, 7, 4, 56, 123_456_000)),
                ExactValueConverter.timestamptz(OffsetDateTime.of(2024, 3, 1, 7, 4, 56, 123_456_000, ZoneOffset.UTC)));
        assertEquals(PgTemporal.TIMESTAMP_POSITIVE_INFINITY,
                ExactValueConverter.timestamptz(PostgresValueConverter.POSITIVE_INFINITY_OFFSET_DATE_TIME));
        assertEquals(PgTemporal.TIMESTAMP_NEGATIVE_INFINITY, ExactValueConverter.timestamptz("-infinity"));
    }

    @Test
    void valuesBeyondTheAvroTypeAreMarkedNotThrown() {
        // PostgreSQL's latest timestamps (to 294276 AD) exceed microseconds since 1970 in a long; the
        // registered converter returns the marker, which the capture turns into a dead letter.
        java.util.Map<String, io.debezium.spi.converter.CustomConverter.Converter> converters = new java.util.HashMap<>();
        for (String type : new String[]{"timestamp", "timestamptz", "interval"}) {
            new ExactValueConverter().converterFor(column(type), (schema, converter) -> converters.put(type, converter));
        }
        Object marker = converters.get("timestamp").convert("294276-12-31 23:59:59.999999");
        assertEquals(ExactValueConverter.UNCARRIED_TIMESTAMP, marker);
        assertEquals(true, ExactValueConverter.uncarried(ExactValueConverter.TIMESTAMP, marker).contains("294247"));
        assertEquals(ExactValueConverter.UNCARRIED_TIMESTAMP, converters.get("timestamptz").convert("294247-01-10 04:00:54.775806+00"));
        assertEquals(ExactValueConverter.UNCARRIED_TIMESTAMP,
                converters.get("timestamptz").convert(java.time.OffsetDateTime.of(294247, 1, 10, 4, 0, 54, 775_807_000, ZoneOffset.UTC)));
        assertEquals(PgTemporal.TIMESTAMP_POSITIVE_INFINITY, converters.get("timestamptz").convert("infinity"));
        Object text = converters.get("interval").convert(new Object());
        assertEquals(true, ExactValueConverter.uncarried(ExactValueConverter.TEXT, text).contains("java.lang.Object"));
        assertEquals(null, ExactValueConverter.uncarried(ExactValueConverter.TEXT, "1 day"));
    }

    private static io.debezium.spi.converter.RelationalColumn column(String type) {
        return new io.debezium.spi.converter.RelationalColumn() {
            public String name() {
                return "c";
            }

            public String dataCollection() {
                return "public.t";
            }

            public String typeName() {
                return type;
            }

            public int jdbcType() {
                return java.sql.Types.OTHER;
            }

            public int nativeType() {
                return 0;
            }

            public String typeExpression() {
                return type;
            }

            public java.util.OptionalInt length() {
                return java.util.OptionalInt.empty();
            }

            public java.util.OptionalInt scale() {
                return java.util.OptionalInt.empty();
            }

            public boolean isOptional() {
                return true;
            }

            public Object defaultValue() {
                return null;
            }

            public boolean hasDefaultValue() {
                return false;
            }
        };
    }

    @Test
    void timeReachesTwentyFourHours() {
        assertEquals(PgTemporal.TIME_END_OF_DAY, ExactValueConverter.time("24:00:00"));
        assertEquals(1L, ExactValueConverter.time("00:00:00.000001"));
        assertThrows(IllegalArgumentException.class, () -> ExactValueConverter.time("24:00:00.000001"));
    }

    @Test
    void intervalsPrintAsPostgresDoes() throws Exception {
        // Each: PostgreSQL's output (IntervalStyle postgres), parsed by pgjdbc as the connector does, printed back.
        for (String text : new String[]{"1 day", "00:00:00.000001", "1 mon", "-1 days +02:03:04.5", "178000000 years",
                "1 year 2 mons 3 days 04:05:06.789", "-1 years -2 mons", "2147483647:00:00", "-2147483647 days", "00:00:00",
                "1 day -00:00:01", "-00:00:00.5", "3 mons -1 days"}) {
            assertEquals(text, ExactValueConverter.text(new PGInterval(text)), text);
        }
    }

    @Test
    void decimalsKeepScaleAndSpecialValues() {
        assertEquals("NaN", ExactValueConverter.text(SpecialValueDecimal.NOT_A_NUMBER));
        assertEquals("Infinity", ExactValueConverter.text(SpecialValueDecimal.POSITIVE_INF));
        assertEquals("-Infinity", ExactValueConverter.text(SpecialValueDecimal.NEGATIVE_INF));
        assertEquals("1.50", ExactValueConverter.text(new SpecialValueDecimal(new BigDecimal("1.50"))));
        assertEquals("10000000000000000000000000000000", ExactValueConverter.text(new BigDecimal("1E+31")));
    }

    @Test
    void malformedTextIsRejected() {
        // Thrown here; the registered converter turns them into markers (previous test).
        assertThrows(java.time.DateTimeException.class, () -> ExactValueConverter.date("2024-13-01"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ExactValueConverter.timestamptz("2024-01-01 00:00:00"));
        assertEquals(true, e.getMessage().contains("'2024-01-01 00:00:00'"), e.getMessage());
    }
}

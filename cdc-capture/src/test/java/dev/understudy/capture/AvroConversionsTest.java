package dev.understudy.capture;

import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.OffsetDateTime;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.Random;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

class AvroConversionsTest {
    private static long slow(String text) {
        Instant i = OffsetDateTime.parse(text, DateTimeFormatter.ISO_OFFSET_DATE_TIME).toInstant();
        return i.getEpochSecond() * 1_000_000L + i.getNano() / 1000L;
    }

    @Test
    void fastZonedTimestampParseAgreesWithJavaTimeOnDebeziumRendering() {
        Random random = new Random(42);
        for (int i = 0; i < 200_000; i++) {
            // years 0001..9999, any microsecond; rendered as Debezium does (UTC, ISO_OFFSET_DATE_TIME)
            long seconds = -62_135_596_800L + (long) (random.nextDouble() * (253_402_300_799L + 62_135_596_800L));
            int nanos = random.nextInt(4) == 0 ? 0 : random.nextInt(1_000_000) * 1000;
            String text = OffsetDateTime.ofInstant(Instant.ofEpochSecond(seconds, nanos), ZoneOffset.UTC)
                    .format(DateTimeFormatter.ISO_OFFSET_DATE_TIME);
            assertEquals(slow(text), AvroConversions.zonedTimestampMicros(text), text);
        }
    }

    @Test
    void otherShapesFallBackToJavaTime() {
        for (String text : new String[]{"2024-03-01T12:34:56+05:30", "2024-03-01T12:34:56.1Z", "2024-03-01T12:34:56.123456789Z",
                "+10000-01-01T00:00:00Z", "2024-02-29T23:59:59.999999Z", "1969-12-31T23:59:59.999999Z"}) {
            assertEquals(slow(text), AvroConversions.zonedTimestampMicros(text), text);
        }
    }

    @Test
    void invalidTextIsRejectedNotMisread() {
        assertThrows(RuntimeException.class, () -> AvroConversions.zonedTimestampMicros("2023-02-29T00:00:00Z"));
        assertThrows(RuntimeException.class, () -> AvroConversions.zonedTimestampMicros("2023-13-01T00:00:00Z"));
    }
}

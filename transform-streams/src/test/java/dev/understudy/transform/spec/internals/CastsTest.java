package dev.understudy.transform.spec.internals;

import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.util.Utf8;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.LocalDate;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CastsTest {
    private static final Schema TEXT = Schema.createUnion(Schema.create(Schema.Type.NULL), Schema.create(Schema.Type.STRING));
    private static final Schema LONG = Schema.create(Schema.Type.LONG);
    private static final Schema TS = LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG));

    @Test
    void textToNumbersExactlyOrNotAtAll() throws Casts.Failure {
        assertEquals(42, Casts.convert(new Utf8(" 42 "), TEXT, Casts.To.INT));
        assertEquals(42, Casts.convert("42.000", TEXT, Casts.To.INT), "a numeric column arrives as decimal text");
        assertEquals(9_000_000_000L, Casts.convert("9000000000", TEXT, Casts.To.LONG));
        assertEquals(2.5, Casts.convert("2.5", TEXT, Casts.To.DOUBLE));
        assertThrows(Casts.Failure.class, () -> Casts.convert("2.5", TEXT, Casts.To.INT));
        assertThrows(Casts.Failure.class, () -> Casts.convert("9000000000", TEXT, Casts.To.INT));
        assertThrows(Casts.Failure.class, () -> Casts.convert("abc", TEXT, Casts.To.LONG));
        assertThrows(Casts.Failure.class, () -> Casts.convert(Double.NaN, Schema.create(Schema.Type.DOUBLE), Casts.To.LONG));
    }

    @Test
    void nullIsNotAFailure() throws Casts.Failure {
        assertNull(Casts.convert(null, TEXT, Casts.To.INT));
    }

    @Test
    void booleansAcceptPostgresSpellings() throws Casts.Failure {
        assertEquals(true, Casts.convert("t", TEXT, Casts.To.BOOLEAN));
        assertEquals(false, Casts.convert("No", TEXT, Casts.To.BOOLEAN));
        assertThrows(Casts.Failure.class, () -> Casts.convert("maybe", TEXT, Casts.To.BOOLEAN));
    }

    @Test
    void datesAndTimestampsFromIsoText() throws Casts.Failure {
        assertEquals((int) LocalDate.parse("1815-12-10").toEpochDay(), Casts.convert("1815-12-10", TEXT, Casts.To.DATE));
        Instant i = Instant.parse("2024-03-01T10:15:30.123456Z");
        long micros = i.getEpochSecond() * 1_000_000L + 123_456L;
        assertEquals(micros, Casts.convert("2024-03-01T10:15:30.123456Z", TEXT, Casts.To.TIMESTAMP_MICROS));
        assertEquals(micros, Casts.convert("2024-03-01T11:15:30.123456+01:00", TEXT, Casts.To.TIMESTAMP_MICROS));
        assertEquals(micros, Casts.convert(micros, TS, Casts.To.TIMESTAMP_MICROS), "already a timestamp");
        assertEquals(micros, Casts.convert("2024-03-01T10:15:30.123456", TEXT, Casts.To.LOCAL_TIMESTAMP_MICROS));
        Casts.Failure f = assertThrows(Casts.Failure.class, () -> Casts.convert("yesterday", TEXT, Casts.To.DATE));
        assertTrue(f.getMessage().contains("cannot convert 'yesterday' to date"), f.getMessage());
    }

    @Test
    void toTextUsesTheCanonicalRendering() throws Casts.Failure {
        assertEquals("7", Casts.convert(7L, LONG, Casts.To.STRING));
        assertEquals("2023-11-14T22:13:20Z", Casts.convert(1_700_000_000_000_000L, TS, Casts.To.STRING));
    }
}

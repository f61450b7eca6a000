package dev.understudy.pipeline;

import dev.understudy.schemas.KeyJson;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;

import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The sweep rebuilds keys from the writer's bookkeeping form; the round trip must be exact. */
class GenerationSweepTest {
    private static final Schema KEY = SchemaBuilder.record("k").fields()
            .requiredString("order_number")
            .requiredLong("tenant")
            .requiredInt("region")
            .name("day").type(LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT))).noDefault()
            .name("at").type(LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG))).noDefault()
            .requiredBoolean("active")
            .endRecord();

    @Test
    void keysRoundTripThroughTheBookkeepingJson() {
        GenericRecord key = new GenericData.Record(KEY);
        key.put("order_number", "PO-7 \"quoted\" \\ back");
        key.put("tenant", 9_000_000_000L);
        key.put("region", -3);
        key.put("day", (int) LocalDate.of(1969, 12, 30).toEpochDay());
        key.put("at", ChronoUnit.MICROS.between(Instant.EPOCH, Instant.parse("2026-11-21T08:15:30.123456Z")));
        key.put("active", true);

        String json = KeyJson.encode(key);
        GenericRecord back = KeyJson.decode(json, KEY, "public.t");

        assertEquals(json, KeyJson.encode(back));
        assertEquals(0, GenericData.get().compare(key, back, KEY), key + " vs " + back);
    }

    @Test
    void aKeyTypeItCannotRebuildIsNamed() {
        Schema bytesKey = SchemaBuilder.record("k").fields().requiredBytes("digest").endRecord();
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> KeyJson.decode("{\"digest\":\"\\\\x00ff\"}", bytesKey, "public.blobs"));
        assertTrue(e.getMessage().contains("Key column digest of public.blobs"), e.getMessage());
    }
}

package dev.understudy.schemas;

import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class KeyJsonTest {
    private static final Schema KEY = SchemaBuilder.record("Key").namespace("understudy.public.t").fields()
            .requiredString("tenant")
            .requiredLong("id")
            .name("day").type(LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT))).noDefault()
            .endRecord();

    private static GenericRecord key(String tenant, long id, int day) {
        GenericRecord k = new GenericData.Record(KEY);
        k.put("tenant", tenant);
        k.put("id", id);
        k.put("day", day);
        return k;
    }

    @Test
    void aKeyRoundTripsThroughItsJsonWhateverItsText() {
        for (String tenant : List.of("a", "quote \" and backslash \\", "line\nbreak\ttab\r", "\u0001control", "ünïcödé 🚀")) {
            GenericRecord k = key(tenant, -42, 19_000);
            String json = KeyJson.encode(k);
            assertEquals(k, KeyJson.decode(json, KEY, "public.t"), json);
        }
        assertEquals("{\"tenant\":\"a\",\"id\":7,\"day\":\"2022-01-08\"}", KeyJson.encode(key("a", 7, 19_000)));
    }

    @Test
    void aKeyReadAsTextFromSqlHasTheSameJsonAsItsRecord() {
        // verify reads keys as col::text; repair and the sweep look them up in the writer's bookkeeping,
        // which holds the record's JSON: both must be written alike, control characters included.
        for (String tenant : List.of("plain", "line\nbreak", "tab\there", "q\"uote")) {
            GenericRecord k = key(tenant, 9, 0);
            String fromText = KeyJson.encode(List.of("tenant", "id", "day"), new boolean[]{false, true, false},
                    new String[]{tenant, "9", "1970-01-01"});
            assertEquals(KeyJson.encode(k), fromText);
        }
    }
}

package dev.understudy.transform;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.util.Utf8;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class UsersMappingTest {
    private final UsersMapping mapping = new UsersMapping();

    @Test
    void keySchemaIsTheTargetCapturesKeySchema() {
        assertEquals(Fixtures.USERS_KEY, mapping.targetKeySchema());
        assertEquals(Fixtures.CONTRACT, mapping.targetValueSchema());
        assertEquals("public.users", mapping.sourceTable());
        assertEquals("public.users", mapping.targetTable());
    }

    @Test
    void mapsDecodedUtf8TextToStrings() {
        GenericRecord legacy = Fixtures.legacyRow(3L, null, null, 5L);
        legacy.put("name", new Utf8("Ada"));
        GenericRecord row = mapping.targetRow(legacy);
        assertEquals("Ada", row.get("full_name"));
        assertEquals(5L, row.get("created_at"));
        assertTrue(GenericData.get().validate(mapping.targetValueSchema(), row));
    }

    @Test
    void droppedLegacyColumnFailsNamingIt() {
        Schema withoutName = SchemaBuilder.record("Value").namespace("understudy.public.users").fields()
                .name("id").type().optional().longType()
                .name("email").type().optional().stringType()
                .name("created_at").type().optional().longType()
                .endRecord();
        GenericData.Record legacy = new GenericData.Record(withoutName);
        legacy.put("id", 1L);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> mapping.targetRow(legacy));
        assertTrue(e.getMessage().contains("no column 'name'"), e.getMessage());
    }

    @Test
    void nullKeyColumnFails() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> mapping.targetKey(Fixtures.legacyRow(null, "Ada", null, null)));
        assertTrue(e.getMessage().contains("'id'"), e.getMessage());
    }

    @Test
    void defaultMappingsHoldTheUsersMapping() {
        assertEquals(1, Migrations.defaultMappings().size());
        assertSame(UsersMapping.class, Migrations.defaultMappings().get(0).getClass());
    }
}

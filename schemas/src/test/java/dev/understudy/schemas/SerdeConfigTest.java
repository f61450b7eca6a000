package dev.understudy.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.errors.SerializationException;
import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Subject name strategies, auto-register and use-latest-version, as Confluent's serializers apply them. */
class SerdeConfigTest {
    private static final Schema V1 = SchemaBuilder.record("User").namespace("com.example").fields()
            .requiredLong("id").optionalString("name").endRecord();
    private static final Schema V2 = SchemaBuilder.record("User").namespace("com.example").fields()
            .requiredLong("id").optionalString("name").optionalString("email").endRecord();

    private static GenericRecord user(Schema schema, long id) {
        GenericData.Record r = new GenericData.Record(schema);
        r.put("id", id);
        r.put("name", "Ada");
        return r;
    }

    @Test
    void strategiesNameSubjectsLikeConfluent() {
        assertEquals("orders-value", SubjectNameStrategy.TOPIC.subject("orders", false, V1));
        assertEquals("orders-key", SubjectNameStrategy.TOPIC.subject("orders", true, V1));
        assertEquals("com.example.User", SubjectNameStrategy.RECORD.subject("orders", false, V1));
        assertEquals("orders-com.example.User", SubjectNameStrategy.TOPIC_RECORD.subject("orders", false, V1));
        assertEquals(SubjectNameStrategy.TOPIC_RECORD, SubjectNameStrategy.parse("topic-record"));
        assertEquals(SubjectNameStrategy.RECORD, SubjectNameStrategy.parse("RecordNameStrategy"));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> SubjectNameStrategy.parse("by-topic"));
        assertTrue(e.getMessage().contains("topic, record or topic_record"), e.getMessage());
    }

    @Test
    void serializerRegistersUnderTheStrategysSubject() {
        InMemoryRegistryClient registry = new InMemoryRegistryClient(new SerdeConfig(SubjectNameStrategy.RECORD, true, false));
        byte[] bytes = new AvroSerializer(registry, false).serialize("orders", user(V1, 1));
        assertTrue(registry.latest("com.example.User").isPresent());
        assertTrue(registry.latest("orders-value").isEmpty());
        assertEquals(registry.latest("com.example.User").get().id(), WireFormat.schemaId(bytes, "test"));
    }

    @Test
    void withoutAutoRegisterAnUnregisteredSchemaIsRefusedNamingSubjectAndFix() {
        InMemoryRegistryClient registry = new InMemoryRegistryClient(new SerdeConfig(SubjectNameStrategy.TOPIC, false, false));
        SerializationException e = assertThrows(SerializationException.class,
                () -> new AvroSerializer(registry, false).serialize("orders", user(V1, 1)));
        assertTrue(e.getMessage().contains("'orders-value'") && e.getMessage().contains("auto-registration is off"), e.getMessage());
        int id = registry.register("orders-value", V1);
        assertEquals(id, WireFormat.schemaId(new AvroSerializer(registry, false).serialize("orders", user(V1, 2)), "test"));
    }

    @Test
    void useLatestVersionWritesWithTheLatestSchemaMatchingFieldsByName() {
        InMemoryRegistryClient registry = new InMemoryRegistryClient(new SerdeConfig(SubjectNameStrategy.TOPIC, false, true));
        registry.register("orders-value", V1);
        int latest = registry.register("orders-value", V2);
        byte[] bytes = new AvroSerializer(registry, false).serialize("orders", user(V1, 7));
        assertEquals(latest, WireFormat.schemaId(bytes, "test"));
        GenericRecord read = new AvroDeserializer(registry).deserialize("orders", bytes);
        assertEquals(V2, read.getSchema());
        assertEquals(7L, read.get("id"));
        assertEquals("Ada", read.get("name").toString());
        assertEquals(null, read.get("email"));
    }

    @Test
    void compatibilityFollowsConfluentRulesAndExplainsFieldRuleAndFix() {
        Schema required = SchemaBuilder.record("User").namespace("com.example").fields()
                .requiredLong("id").optionalString("name").requiredString("email").endRecord();
        List<String> messages = Compatibility.check("BACKWARD", required, List.of(V1));
        List<String> explained = Compatibility.explain(messages);
        assertEquals(1, explained.size(), explained.toString());
        assertTrue(explained.get(0).contains("READER_FIELD_MISSING_DEFAULT_VALUE"), explained.get(0));
        assertTrue(explained.get(0).contains("'email'"), explained.get(0));
        assertTrue(explained.get(0).contains("fix: give field 'email' a default"), explained.get(0));
        // An optional field with a default is a backward-compatible addition; FORWARD accepts both.
        assertEquals(List.of(), Compatibility.check("BACKWARD", V2, List.of(V1)));
        assertEquals(List.of(), Compatibility.check("FORWARD", required, List.of(V1)));
        assertThrows(IllegalArgumentException.class, () -> Compatibility.check("SIDEWAYS", V2, List.of(V1)));
    }
}

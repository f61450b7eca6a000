package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.transform.spec.SpecTableMapping;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.util.Utf8;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static dev.understudy.transform.Fixtures.PREFIX;
import static dev.understudy.transform.Fixtures.TABLE;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The shipped example spec does exactly what the coded reference mapping does. */
class SpecUsersParityTest {
    /** Surefire runs in the module directory; the examples live at the repository root. */
    static final Path EXAMPLE = Path.of("..", "examples", "users", "v1.2_add_birthdate_to_users.yaml");

    private final UsersMapping coded = new UsersMapping();

    @TempDir
    Path stateDir;

    private static List<GenericRecord> inputs() {
        List<GenericRecord> rows = new ArrayList<>();
        rows.add(Fixtures.legacyRow(1L, "Ada Lovelace", "ada@example.com", 1_700_000_123_456_789L));
        rows.add(Fixtures.legacyRow(2L, null, null, null));
        rows.add(Fixtures.legacyRow(Long.MAX_VALUE, "", "", -1L));
        GenericRecord decoded = Fixtures.legacyRow(3L, null, null, 0L);
        decoded.put("name", new Utf8("Grace")); // what the Avro decoder hands over for text
        decoded.put("email", new Utf8("grace@example.com"));
        rows.add(decoded);
        return rows;
    }

    @Test
    void exampleLoadsAndFitsTheLegacyTable() {
        MigrationSpec spec = MigrationSpec.load(EXAMPLE);
        assertEquals("v1.2_add_birthdate_to_users", spec.migration());
        assertEquals("1.2", spec.flyway());
        assertEquals(Map.of("users", "public.users"), spec.sources());
        assertEquals(List.of(), spec.validate(Map.of(TABLE, Fixtures.LEGACY_ROW)));
    }

    @Test
    void sameSchemasByteIdenticalKeysAndEqualRows() {
        List<TableMapping> mappings = Migrations.fromSpec(EXAMPLE);
        assertEquals(1, mappings.size());
        SpecTableMapping spec = (SpecTableMapping) mappings.get(0);
        assertEquals(coded.sourceTable(), spec.sourceTable());
        assertEquals(coded.targetTable(), spec.targetTable());
        assertEquals(coded.targetKeySchema(), spec.targetKeySchema());
        assertEquals(coded.targetValueSchema(), spec.targetValueSchema());

        InMemoryRegistryClient registry = new InMemoryRegistryClient();
        Serializer<GenericRecord> keys = AvroSerde.keys(registry).serializer();
        Serializer<GenericRecord> values = AvroSerde.values(registry).serializer();
        String topic = Topics.newSchema(PREFIX, TABLE);
        for (GenericRecord in : inputs()) {
            assertArrayEquals(keys.serialize(topic, coded.targetKey(in)), keys.serialize(topic, spec.targetKey(in)), in.toString());
            GenericRecord expected = coded.targetRow(in);
            GenericRecord actual = spec.targetRow(in);
            assertEquals(expected, actual, in.toString());
            assertTrue(GenericData.get().validate(spec.targetValueSchema(), actual));
            assertArrayEquals(values.serialize(topic, expected), values.serialize(topic, actual), in.toString());
            assertTrue(spec.includes(in));
        }
        // Delete images carry only the key columns, and the legacy record key is keyed the same way.
        GenericRecord keyOnly = Fixtures.legacyRow(9L, null, null, null);
        assertArrayEquals(keys.serialize(topic, coded.targetKey(keyOnly)), keys.serialize(topic, spec.targetKey(keyOnly)));
        assertArrayEquals(keys.serialize(topic, coded.targetKey(Fixtures.key(9))), keys.serialize(topic, spec.targetKey(Fixtures.key(9))));
    }

    @Test
    void sameRecordsOnTheNewSchemaTopic() {
        List<List<TestRecord<byte[], byte[]>>> outputs = new ArrayList<>();
        for (List<TableMapping> mappings : List.of(Migrations.defaultMappings(), Migrations.fromSpec(EXAMPLE))) {
            InMemoryRegistryClient registry = new InMemoryRegistryClient();
            StreamsBuilder builder = new StreamsBuilder();
            MigrationTopology.addTo(builder, PREFIX, mappings, registry);
            try (TopologyTestDriver driver = new TopologyTestDriver(builder.build(),
                    Fixtures.driverProperties(stateDir.resolve(String.valueOf(outputs.size()))))) {
                TestInputTopic<GenericRecord, GenericRecord> legacy = driver.createInputTopic(Topics.legacy(PREFIX, TABLE),
                        AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
                long lsn = 100;
                for (GenericRecord row : inputs()) {
                    legacy.pipeInput(Fixtures.key((Long) row.get("id")), Fixtures.legacyChange(null, row, "c", lsn++, 5L, false));
                }
                legacy.pipeInput(Fixtures.key(1), Fixtures.legacyChange(Fixtures.legacyRow(1L, null, null, null), null, "d", lsn, 6L, false));
                TestOutputTopic<byte[], byte[]> out = driver.createOutputTopic(Topics.newSchema(PREFIX, TABLE),
                        new ByteArrayDeserializer(), new ByteArrayDeserializer());
                outputs.add(out.readRecordsToList());
            }
        }
        List<TestRecord<byte[], byte[]>> fromCode = outputs.get(0);
        List<TestRecord<byte[], byte[]>> fromSpec = outputs.get(1);
        assertEquals(5, fromCode.size());
        assertEquals(fromCode.size(), fromSpec.size());
        for (int i = 0; i < fromCode.size(); i++) {
            assertArrayEquals(fromCode.get(i).key(), fromSpec.get(i).key(), "key " + i);
            assertArrayEquals(fromCode.get(i).value(), fromSpec.get(i).value(), "value " + i);
            assertEquals(fromCode.get(i).headers(), fromSpec.get(i).headers(), "headers " + i);
        }
    }
}

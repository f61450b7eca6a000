package dev.understudy.transform.spec;

import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.util.Utf8;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Value conversions between Avro and CEL, on each Avro type a legacy row can carry. */
class SpecTableMappingTest {
    private static final Schema DATE = LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT));

    private static final Schema LEGACY = SchemaBuilder.record("Value").namespace("understudy.public.things").fields()
            .name("id").type().optional().longType()
            .name("name").type().optional().stringType()
            .name("born").type(nullable(DATE)).withDefault(null)
            .name("score").type().optional().floatType()
            .name("active").type().optional().booleanType()
            .name("data").type().optional().bytesType()
            .name("amount").type().optional().stringType()
            .name("small").type().optional().intType()
            .endRecord();

    private static final String CONTRACT = """
            {"type": "record", "name": "things", "namespace": "test", "fields": [
              {"name": "id", "type": "long"},
              {"name": "next_day", "type": ["null", {"type": "int", "logicalType": "date"}], "default": null},
              {"name": "name_length", "type": ["null", "int"], "default": null},
              {"name": "double_score", "type": ["null", "double"], "default": null},
              {"name": "one", "type": ["null", "double"], "default": null},
              {"name": "flag", "type": ["null", "boolean"], "default": null},
              {"name": "data", "type": ["null", "bytes"], "default": null},
              {"name": "data_size", "type": ["null", "long"], "default": null},
              {"name": "amount", "type": ["null", "double"], "default": null},
              {"name": "born", "type": ["null", {"type": "int", "logicalType": "date"}], "default": null},
              {"name": "small", "type": ["null", "long"], "default": null},
              {"name": "label", "type": "string"}
            ]}
            """;

    private static final List<String> SPEC = List.of(
            "migration: v3_things",
            "flyway: \"3\"",
            "sources:",
            "  things: { table: public.things }",
            "targets:",
            "  things:",
            "    table: public.things",
            "    from: things",
            "    contract: things.avsc",
            "    key: [id]",
            "    filter: \"active == true\"",
            "    columns:",
            "      id: { column: id }",
            "      next_day: { expression: \"born == null ? born : born + 1\" }",
            "      name_length: { expression: \"size(name)\" }",
            "      double_score: { expression: \"score * 2.0\" }",
            "      one: { expression: \"1\" }",
            "      flag: { expression: \"active && score > 1.0\" }",
            "      data: { column: data }",
            "      data_size: { expression: \"size(data)\" }",
            "      amount: { cast: { column: amount, to: double, onFailure: null } }",
            "      born: { column: born }",
            "      small: { column: small }",
            "      label: { default: \"thing\" }");

    @TempDir
    Path dir;

    private MigrationSpec spec;

    private static Schema nullable(Schema s) {
        return Schema.createUnion(Schema.create(Schema.Type.NULL), s);
    }

    @BeforeEach
    void load() throws IOException {
        Files.writeString(dir.resolve("things.avsc"), CONTRACT);
        Path file = dir.resolve("things.yaml");
        Files.writeString(file, String.join("\n", SPEC) + "\n");
        spec = MigrationSpec.load(file);
    }

    private static GenericRecord row(boolean active) {
        GenericData.Record r = new GenericData.Record(LEGACY);
        r.put("id", 1L);
        r.put("name", new Utf8("Ada"));
        r.put("born", 100);
        r.put("score", 1.5f);
        r.put("active", active);
        r.put("data", ByteBuffer.wrap(new byte[]{1, 2, 3}));
        r.put("amount", new Utf8("12.50"));
        r.put("small", 7);
        return r;
    }

    @Test
    void fitsTheLegacyTable() {
        assertEquals(List.of(), spec.validate(Map.of("public.things", LEGACY)));
    }

    @Test
    void convertsEachTypeBothWays() {
        SpecTableMapping mapping = spec.mappings().get(0);
        GenericRecord out = mapping.targetRow(row(true));
        assertEquals(101, out.get("next_day"), "date in CEL as days, back as an Avro int");
        assertEquals(3, out.get("name_length"), "CEL int back to an Avro int");
        assertEquals(3.0, out.get("double_score"), "float widened to CEL double");
        assertEquals(1.0, out.get("one"), "CEL int into a double column");
        assertEquals(true, out.get("flag"));
        assertEquals(ByteBuffer.wrap(new byte[]{1, 2, 3}), out.get("data"));
        assertEquals(3L, out.get("data_size"), "bytes reach CEL as bytes");
        assertEquals(12.5, out.get("amount"), "numeric text cast to double");
        assertEquals(100, out.get("born"));
        assertEquals(7L, out.get("small"), "int copied into a long column");
        assertEquals("thing", out.get("label"));
        assertTrue(GenericData.get().validate(mapping.targetValueSchema(), out));
    }

    @Test
    void filterReadsTheRow() {
        SpecTableMapping mapping = spec.mappings().get(0);
        assertTrue(mapping.includes(row(true)));
        assertFalse(mapping.includes(row(false)));
        GenericRecord unknown = row(true);
        unknown.put("active", null);
        assertFalse(mapping.includes(unknown), "null == true is false");
    }

    @Test
    void evaluationErrorNamesTheExpression() {
        GenericRecord noName = row(true);
        noName.put("name", null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> spec.mappings().get(0).targetRow(noName));
        assertTrue(e.getMessage().contains("things.yaml:15: targets.things.columns.name_length.expression: 'size(name)' failed on a row of public.things"),
                e.getMessage());
    }

    @Test
    void nullKeyColumnFailsNamingIt() {
        GenericRecord noId = row(true);
        noId.put("id", null);
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> spec.mappings().get(0).targetKey(noId));
        assertTrue(e.getMessage().contains("Column 'id' of public.things is null"), e.getMessage());
    }
}

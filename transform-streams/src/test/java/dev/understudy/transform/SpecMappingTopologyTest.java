package dev.understudy.transform;

import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.spec.CastFailedException;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.util.Utf8;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;

import static dev.understudy.transform.Fixtures.PREFIX;
import static dev.understudy.transform.Fixtures.TIMESTAMP_MICROS;
import static dev.understudy.transform.Fixtures.nullable;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Each kind of column source of a spec, end to end through the migration topology. */
class SpecMappingTopologyTest {
    private static final String SOURCE = "public.people";
    private static final long CREATED_AT = 1_700_000_123_456_789L;

    /** The legacy people row as the legacy capture builds it: every column nullable. */
    private static final Schema LEGACY_ROW = SchemaBuilder.record("Value").namespace("understudy.public.people").fields()
            .name("id").type().optional().longType()
            .name("name").type().optional().stringType()
            .name("email").type().optional().stringType()
            .name("age_text").type().optional().stringType()
            .name("created_at").type(nullable(TIMESTAMP_MICROS)).withDefault(null)
            .endRecord();
    private static final Schema LEGACY_ENVELOPE = ChangeEnvelope.of("public", "people", LEGACY_ROW);
    private static final Schema LEGACY_KEY = KeySchemas.of("public", "people",
            List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));

    @TempDir
    Path dir;

    private TopologyTestDriver driver;
    private InMemoryRegistryClient registry;
    private TestInputTopic<GenericRecord, GenericRecord> legacy;
    private TestOutputTopic<byte[], byte[]> deadLetters;

    @AfterEach
    void tearDown() {
        if (driver != null) {
            driver.close();
        }
    }

    /** A spec with targets public.people (everything) and, when {@code filter} is given, public.people_with_email. */
    private void start(String onFailure, String filter, String extraColumnsForPeople) throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/specs/people.avsc")) {
            Files.write(dir.resolve("people.avsc"), in.readAllBytes());
        }
        List<String> columns = List.of(
                "    columns:",
                "      id: { column: id }",
                "      full_name: { column: name }",
                "      email: { column: email }",
                "      tier: { default: \"standard\" }",
                "      name_upper: { expression: \"name == null ? name : name.upperAscii()\" }",
                "      age: { cast: { column: age_text, to: int, onFailure: " + onFailure + " } }",
                "      created_at: { column: created_at }");
        StringBuilder yaml = new StringBuilder(String.join("\n",
                "migration: v2.0_people",
                "flyway: \"2.0\"",
                "sources:",
                "  people: { table: public.people }",
                "targets:",
                "  people:",
                "    table: public.people",
                "    from: people",
                "    contract: people.avsc",
                "    key: [id]",
                String.join("\n", columns).replace("created_at: { column: created_at }", extraColumnsForPeople))).append('\n');
        if (filter != null) {
            yaml.append(String.join("\n",
                    "  with_email:",
                    "    table: public.people_with_email",
                    "    from: people",
                    "    contract: people.avsc",
                    "    key: [id]",
                    "    filter: \"" + filter + "\"",
                    String.join("\n", columns))).append('\n');
        }
        Path spec = dir.resolve("people.yaml");
        Files.writeString(spec, yaml.toString());
        registry = new InMemoryRegistryClient();
        StreamsBuilder builder = new StreamsBuilder();
        MigrationTopology.addTo(builder, PREFIX, Migrations.fromSpec(spec), registry);
        driver = new TopologyTestDriver(builder.build(), Fixtures.driverProperties(dir.resolve("state")));
        legacy = driver.createInputTopic(Topics.legacy(PREFIX, SOURCE), AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        deadLetters = driver.createOutputTopic(Topics.deadLetter(PREFIX), new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    private TestOutputTopic<GenericRecord, GenericRecord> rows(String table) {
        return driver.createOutputTopic(Topics.newSchema(PREFIX, table), AvroSerde.keys(registry).deserializer(),
                AvroSerde.values(registry).deserializer());
    }

    private static GenericRecord key(long id) {
        GenericData.Record k = new GenericData.Record(LEGACY_KEY);
        k.put("id", id);
        return k;
    }

    private static GenericRecord row(Long id, String name, String email, String ageText) {
        GenericData.Record r = new GenericData.Record(LEGACY_ROW);
        r.put("id", id);
        r.put("name", name == null ? null : new Utf8(name));
        r.put("email", email);
        r.put("age_text", ageText);
        r.put("created_at", CREATED_AT);
        return r;
    }

    private void pipe(long id, GenericRecord before, GenericRecord after, String op, long lsn) {
        legacy.pipeInput(key(id), Fixtures.envelope(LEGACY_ENVELOPE, before, after, op, Fixtures.source("legacy", lsn, 7L, false)));
    }

    @Test
    void copyRenameDefaultExpressionAndCast() throws IOException {
        start("dead-letter", null, "created_at: { column: created_at }");
        pipe(1, null, row(1L, "Ada", "ada@example.com", " 36 "), "c", 100);

        TestRecord<GenericRecord, GenericRecord> out = rows(SOURCE).readRecord();
        assertEquals(1L, out.key().get("id"));
        GenericRecord r = out.value();
        assertEquals(1L, r.get("id"), "copy");
        assertEquals("Ada", r.get("full_name").toString(), "rename");
        assertEquals("ada@example.com", r.get("email").toString(), "copy");
        assertEquals("standard", r.get("tier").toString(), "default");
        assertEquals("ADA", r.get("name_upper").toString(), "expression");
        assertEquals(36, r.get("age"), "cast text to int");
        assertEquals(CREATED_AT, r.get("created_at"), "copy of a timestamp keeps its microseconds");
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void expressionSeesNullAsCelNull() throws IOException {
        start("dead-letter", null, "created_at: { column: created_at }");
        pipe(2, null, row(2L, null, null, null), "c", 100);

        GenericRecord r = rows(SOURCE).readValue();
        assertNull(r.get("name_upper"));
        assertNull(r.get("full_name"));
        assertNull(r.get("age"), "a null source is not a failed cast");
    }

    @Test
    void castFailureWithDeadLetterPolicyDeadLettersTheRecordAndGoesOn() throws IOException {
        start("dead-letter", null, "created_at: { column: created_at }");
        TestOutputTopic<GenericRecord, GenericRecord> rows = rows(SOURCE);
        pipe(1, null, row(1L, "Ada", null, "thirty-six"), "c", 100);
        pipe(2, null, row(2L, "Grace", null, "40"), "c", 101);

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        String message = header(dead.headers(), DeadLetterFields.ERROR);
        assertTrue(message.contains("column 'age_text' of public.people: cannot convert 'thirty-six' to int"), message);
        assertTrue(message.contains("people.yaml:17: targets.people.columns.age.cast"), message);
        assertEquals(CastFailedException.class.getName(), header(dead.headers(), DeadLetterFields.EXCEPTION));
        GenericRecord next = rows.readValue();
        assertEquals(2L, next.get("id"));
        assertEquals(40, next.get("age"));
        assertTrue(rows.isEmpty());
    }

    @Test
    void castFailureWithNullPolicySetsNull() throws IOException {
        start("null", null, "created_at: { column: created_at }");
        pipe(1, null, row(1L, "Ada", null, "99999999999"), "c", 100);

        GenericRecord r = rows(SOURCE).readValue();
        assertNull(r.get("age"), "out of int range: null by policy");
        assertEquals("Ada", r.get("full_name").toString());
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void castFailureWithFailPolicyFailsTheTaskNamingTheRecord() throws IOException {
        start("fail", null, "created_at: { column: created_at }");
        StreamsException e = assertThrows(StreamsException.class, () -> pipe(1, null, row(1L, "Ada", null, "n/a"), "c", 100));
        String message = messages(e);
        assertTrue(message.contains("topic 'understudy.legacy.public.people' partition 0 offset 0"), message);
        assertTrue(message.contains("cannot convert 'n/a' to int"), message);
        assertTrue(message.contains("onFailure: fail"), message);
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void filterIncludesAndExcludesWithATombstoneAndASplitFeedsBothTargets() throws IOException {
        start("dead-letter", "email != null", "created_at: { column: created_at }");
        TestOutputTopic<GenericRecord, GenericRecord> all = rows(SOURCE);
        TestOutputTopic<GenericRecord, GenericRecord> withEmail = rows("public.people_with_email");

        pipe(1, null, row(1L, "Ada", "ada@example.com", "36"), "c", 100);
        TestRecord<GenericRecord, GenericRecord> included = withEmail.readRecord();
        assertEquals(1L, included.key().get("id"));
        assertEquals("ada@example.com", included.value().get("email").toString());

        // The row loses its email: it leaves the filtered target, which may hold it, so a tombstone.
        pipe(1, null, row(1L, "Ada", null, "36"), "u", 200);
        TestRecord<GenericRecord, GenericRecord> excluded = withEmail.readRecord();
        assertEquals(1L, excluded.key().get("id"));
        assertNull(excluded.value());
        assertEquals("d", ChangeHeaders.getString(excluded.headers(), ChangeHeaders.OP));
        assertEquals(200L, ChangeHeaders.getLong(excluded.headers(), ChangeHeaders.VERSION, -1));
        assertTrue(withEmail.isEmpty());

        // The unfiltered target of the same source saw both versions as rows.
        List<GenericRecord> both = all.readValuesToList();
        assertEquals(2, both.size());
        assertNull(both.get(1).get("email"));
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void deleteIsATombstoneForFilteredTargetsToo() throws IOException {
        start("dead-letter", "email != null", "created_at: { column: created_at }");
        TestOutputTopic<GenericRecord, GenericRecord> withEmail = rows("public.people_with_email");
        // A key-only before image, as PostgreSQL logs a delete under the default replica identity.
        pipe(5, row(5L, null, null, null), null, "d", 300);
        TestRecord<GenericRecord, GenericRecord> out = withEmail.readRecord();
        assertEquals(5L, out.key().get("id"));
        assertNull(out.value());
    }

    @Test
    void unknownSourceColumnIsFoundOnTheFirstRecordWithTheValidationMessage() throws IOException {
        start("dead-letter", null, "created_at: { column: created_on }");
        pipe(1, null, row(1L, "Ada", null, "36"), "c", 100);

        pipe(2, null, row(2L, "Grace", null, "40"), "c", 101);

        String expected = "people.yaml:18: targets.people.columns.created_at.column: unknown column 'created_on' in legacy table "
                + "public.people; use one of its columns [id, name, email, age_text, created_at]. Did you mean 'created_at'?";
        List<TestRecord<byte[], byte[]>> dead = deadLetters.readRecordsToList();
        assertEquals(2, dead.size(), "each record of the mismatched schema, with the same message");
        for (TestRecord<byte[], byte[]> d : dead) {
            String message = header(d.headers(), DeadLetterFields.ERROR);
            assertTrue(message.contains(expected), message);
        }
        assertTrue(rows(SOURCE).isEmpty());
    }

    private static String messages(Throwable e) {
        StringBuilder sb = new StringBuilder();
        for (Throwable t = e; t != null; t = t.getCause()) {
            sb.append(t.getMessage()).append('\n');
        }
        return sb.toString();
    }

    private static String header(Headers headers, String name) {
        return headers.lastHeader(name) == null ? null : new String(headers.lastHeader(name).value(), StandardCharsets.UTF_8);
    }
}

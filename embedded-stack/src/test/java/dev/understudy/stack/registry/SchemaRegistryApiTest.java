package dev.understudy.stack.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.Schema;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.nio.charset.StandardCharsets;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Routing and error mapping of the registry API, without a server in between. */
class SchemaRegistryApiTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String CT = SchemaRegistryApi.CONTENT_TYPE;
    private static final String USER_V1 = "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"t\","
            + "\"fields\":[{\"name\":\"id\",\"type\":\"long\"}]}";
    /** USER_V1 spelt differently: same schema once parsed. */
    private static final String USER_V1_SPACED = "{ \"namespace\": \"t\", \"name\": \"User\", \"type\": \"record\",\n"
            + "  \"fields\": [ { \"type\": \"long\", \"name\": \"id\" } ] }";
    private static final String USER_V2 = "{\"type\":\"record\",\"name\":\"User\",\"namespace\":\"t\","
            + "\"fields\":[{\"name\":\"id\",\"type\":\"long\"},{\"name\":\"email\",\"type\":[\"null\",\"string\"],\"default\":null}]}";

    private final SchemaRegistryApi api = new SchemaRegistryApi(new InMemorySchemaStore());

    @Test
    void rootAnswersEmptyObject() throws Exception {
        assertOk(get("/"), "{}");
        assertOk(get(""), "{}");
    }

    @Test
    void unknownPathsAnswerPlain404() throws Exception {
        for (String path : List.of("/nope", "/subjects/a/other", "/schemas", "/schemas/ids", "/schemas/ids/abc",
                "/subjects/a/versions/1/other", "/schemas/ids/1/other")) {
            assertError(get(path), 404, 404);
        }
    }

    @Test
    void wrongMethodOnKnownPathAnswers405() throws Exception {
        assertError(send("DELETE", "/subjects", CT, null), 405, 405);
        assertError(send("PUT", "/subjects/a/versions", CT, "{}"), 405, 405);
        assertError(send("POST", "/schemas/ids/1", CT, "{}"), 405, 405);
        assertError(get("/subjects/a"), 405, 405);
    }

    @Test
    void newEndpointsRouteAndRefuseLikeConfluent() throws Exception {
        assertError(send("DELETE", "/config", CT, null), 405, 405);
        assertError(send("POST", "/mode", CT, "{}"), 405, 405);
        assertError(get("/compatibility/subjects/a/versions"), 405, 405);
        assertError(send("PUT", "/subjects/a/versions/1", CT, "{}"), 405, 405);
        for (String path : List.of("/config/a/b", "/mode/a/b", "/compatibility/x", "/compatibility/subjects/a/other",
                "/subjects/a/versions/1/referencedby/x")) {
            assertError(get(path), 404, 404);
        }
        assertError(send("PUT", "/config", CT, "{\"level\":\"FULL\"}"), 422, 42203);
        assertError(send("PUT", "/mode", CT, "{\"mode\":1}"), 422, 42204);
        assertError(send("PUT", "/config/bad%01subject", CT, "{\"compatibility\":\"FULL\"}"), 422, 42208);
        assertOk(send("PUT", "/config", CT, "{\"compatibility\":\"full\"}"), "{\"compatibility\":\"full\"}");
        assertOk(get("/config"), "{\"compatibilityLevel\":\"FULL\"}");
        assertOk(get("/mode"), "{\"mode\":\"READWRITE\"}");
    }

    @Test
    void queryParametersAreReadAsConfluentReadsThem() throws Exception {
        registerId("q-value", USER_V1);
        assertOk(send("DELETE", "/subjects/q-value", CT, null), "[1]");
        assertOk(get("/subjects"), "[]");
        assertOk(get("/subjects?deleted=TRUE"), "[\"q-value\"]");
        assertOk(get("/subjects?deleted=yes"), "[]");
        assertOk(get("/subjects/q-value/versions?deleted=true&other=1"), "[1]");
        assertOk(send("DELETE", "/subjects/q-value?permanent=true", CT, null), "[1]");
        assertOk(get("/subjects?deleted=true"), "[]");
    }

    @Test
    void verboseCompatibilityReportsAnUnparsableSchemaAsIncompatible() throws Exception {
        registerId("c-value", USER_V1);
        SchemaRegistryApi.Response verbose = assertStatus(send("POST", "/compatibility/subjects/c-value/versions/latest?verbose=true",
                CT, registration("{\"type\":\"recrod\"}")), 200);
        JsonNode body = body(verbose);
        assertFalse(body.get("is_compatible").asBoolean());
        assertTrue(body.get("messages").get(0).asText().startsWith("Invalid schema"), body.toString());
        assertError(send("POST", "/compatibility/subjects/c-value/versions/latest", CT, registration("{\"type\":\"recrod\"}")),
                422, 42201);
        assertOk(send("POST", "/compatibility/subjects/c-value/versions?verbose=true", CT, registration(USER_V2)),
                "{\"is_compatible\":true,\"messages\":[]}");
    }

    @Test
    void registersWithCanonicalisationAndSharedIds() throws Exception {
        int id = registerId("users-value", USER_V1);
        assertEquals(1, id, "ids start at 1");
        assertEquals(id, registerId("users-value", USER_V1_SPACED), "same schema, other spelling: same id, no new version");
        assertEquals(id, registerId("other-value", USER_V1), "same schema under another subject keeps its id");
        int id2 = registerId("users-value", USER_V2);
        assertEquals(2, id2);
        assertEquals(id, registerId("users-value", USER_V1), "an older live version is found, not re-added");

        assertOk(get("/subjects/users-value/versions"), "[1,2]");
        assertOk(get("/subjects/other-value/versions"), "[1]");
        assertOk(get("/subjects"), "[\"other-value\",\"users-value\"]");

        String canonical = new Schema.Parser().parse(USER_V1).toString();
        JsonNode v1 = body(assertStatus(get("/subjects/users-value/versions/1"), 200));
        assertEquals("users-value", v1.get("subject").asText());
        assertEquals(1, v1.get("version").asInt());
        assertEquals(id, v1.get("id").asInt());
        assertEquals(canonical, v1.get("schema").asText());
        assertFalse(v1.has("schemaType"), "Confluent omits schemaType for Avro");

        for (String latest : List.of("latest", "-1", "LATEST")) {
            JsonNode v = body(assertStatus(get("/subjects/users-value/versions/" + latest), 200));
            assertEquals(2, v.get("version").asInt(), latest);
            assertEquals(id2, v.get("id").asInt(), latest);
        }
        SchemaRegistryApi.Response raw = assertStatus(get("/subjects/users-value/versions/1/schema"), 200);
        assertEquals(canonical, raw.body());
    }

    @Test
    void schemasById() throws Exception {
        int id = registerId("a-value", USER_V1);
        registerId("b-value", USER_V1);
        String canonical = new Schema.Parser().parse(USER_V1).toString();

        JsonNode byId = body(assertStatus(get("/schemas/ids/" + id), 200));
        assertEquals(canonical, byId.get("schema").asText());
        assertEquals(canonical, assertStatus(get("/schemas/ids/" + id + "/schema"), 200).body());
        assertOk(get("/schemas/ids/" + id + "/subjects"), "[\"a-value\",\"b-value\"]");
        assertOk(get("/schemas/ids/" + id + "/versions"),
                "[{\"subject\":\"a-value\",\"version\":1},{\"subject\":\"b-value\",\"version\":1}]");
        assertOk(get("/schemas/types"), "[\"AVRO\"]");

        JsonNode missing = assertError(get("/schemas/ids/42"), 404, 40403);
        assertEquals("Schema 42 not found", missing.get("message").asText());
        assertError(get("/schemas/ids/42/schema"), 404, 40403);
    }

    @Test
    void lookupUnderSubject() throws Exception {
        int id = registerId("users-value", USER_V1);

        JsonNode found = body(assertStatus(send("POST", "/subjects/users-value", CT, registration(USER_V1_SPACED)), 200));
        assertEquals("users-value", found.get("subject").asText());
        assertEquals(1, found.get("version").asInt());
        assertEquals(id, found.get("id").asInt());
        assertEquals(new Schema.Parser().parse(USER_V1).toString(), found.get("schema").asText());

        JsonNode noSubject = assertError(send("POST", "/subjects/nope", CT, registration(USER_V1)), 404, 40401);
        assertEquals("Subject 'nope' not found.", noSubject.get("message").asText());
        JsonNode noSchema = assertError(send("POST", "/subjects/users-value", CT, registration(USER_V2)), 404, 40403);
        assertEquals("Schema not found", noSchema.get("message").asText());
    }

    @Test
    void subjectAndVersionErrors() throws Exception {
        registerId("users-value", USER_V1);
        JsonNode noSubject = assertError(get("/subjects/nope/versions"), 404, 40401);
        assertEquals("Subject 'nope' not found.", noSubject.get("message").asText());
        assertError(get("/subjects/nope/versions/1"), 404, 40401);
        assertError(get("/subjects/nope/versions/latest"), 404, 40401);

        JsonNode noVersion = assertError(get("/subjects/users-value/versions/99"), 404, 40402);
        assertEquals("Version 99 not found.", noVersion.get("message").asText());
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-2", "abc", "1.5", "99999999999"})
    void invalidVersionsAnswer42202(String version) throws Exception {
        registerId("users-value", USER_V1);
        JsonNode error = assertError(get("/subjects/users-value/versions/" + version), 422, 42202);
        assertTrue(error.get("message").asText().contains("'" + version + "'"), error.toString());
    }

    @Test
    void invalidSchemasAnswer42201() throws Exception {
        JsonNode unparsable = assertError(send("POST", "/subjects/s/versions", CT, registration("{\"type\":\"recrod\"}")),
                422, 42201);
        assertTrue(unparsable.get("message").asText().startsWith("Invalid schema"), unparsable.toString());
        assertError(send("POST", "/subjects/s/versions", CT, registration("not json at all")), 422, 42201);
        assertError(send("POST", "/subjects/s/versions", CT, "{\"schemaType\":\"AVRO\"}"), 422, 42201);

        ObjectNode protobuf = JSON.createObjectNode().put("schema", "syntax = \"proto3\";").put("schemaType", "PROTOBUF");
        JsonNode type = assertError(send("POST", "/subjects/s/versions", CT, protobuf.toString()), 422, 42201);
        assertTrue(type.get("message").asText().contains("PROTOBUF"), type.toString());

        ObjectNode avroTyped = JSON.createObjectNode().put("schema", "\"string\"").put("schemaType", "AVRO");
        assertStatus(send("POST", "/subjects/s/versions", CT, avroTyped.toString()), 200);

        ObjectNode withReference = JSON.createObjectNode().put("schema", "\"string\"");
        withReference.putArray("references").addObject().put("name", "x").put("subject", "y").put("version", 1);
        assertError(send("POST", "/subjects/s/versions", CT, withReference.toString()), 422, 42201);
        ObjectNode emptyReferences = JSON.createObjectNode().put("schema", "\"int\"");
        emptyReferences.putArray("references");
        // Another subject: "int" after "string" is not BACKWARD compatible.
        assertStatus(send("POST", "/subjects/s2/versions", CT, emptyReferences.toString()), 200);

    }

    @Test
    void malformedBodiesAnswer400() throws Exception {
        assertError(send("POST", "/subjects/s/versions", CT, "{\"schema\": "), 400, 400);
        assertError(send("POST", "/subjects/s/versions", CT, "[1]"), 400, 400);
        assertError(send("POST", "/subjects/s/versions", CT, null), 400, 400);
    }

    @Test
    void contentTypes() throws Exception {
        for (String type : List.of(CT, "application/json", "application/json; charset=utf-8",
                "application/vnd.schemaregistry+json", "application/octet-stream")) {
            assertStatus(send("POST", "/subjects/s/versions", type, registration(USER_V1)), 200);
        }
        assertStatus(send("POST", "/subjects/s/versions", null, registration(USER_V1)), 200);
        assertError(send("POST", "/subjects/s/versions", "text/plain", registration(USER_V1)), 415, 415);
    }

    @Test
    void subjectsArePercentDecodedPerSegment() throws Exception {
        registerId("a b/c+d", USER_V1);
        assertOk(send("GET", "/subjects/", null, null), "[\"a b/c+d\"]");
        assertOk(get("/subjects/a%20b%2Fc+d/versions"), "[1]");
        assertOk(get("/subjects/a%20b%2Fc%2Bd/versions"), "[1]");
        assertError(get("/subjects/a%2/versions"), 400, 400);
        assertError(send("POST", "/subjects/bad%01subject/versions", CT, registration(USER_V1)), 422, 42208);
    }

    @Test
    void storeFailuresAnswer50001() throws Exception {
        SchemaRegistryApi failing = new SchemaRegistryApi(new LogSchemaStore(new FailingLog(new SchemaStoreException("disk on fire"))));
        SchemaRegistryApi.Response storeError = failing.handle(new SchemaRegistryApi.Request("POST", "/subjects/s/versions", CT,
                registration(USER_V1).getBytes(StandardCharsets.UTF_8)));
        assertEquals(500, storeError.status());
        JsonNode body = JSON.readTree(storeError.body());
        assertEquals(50001, body.get("error_code").asInt());
        assertTrue(body.get("message").asText().contains("disk on fire"), body.toString());

        SchemaRegistryApi buggy = new SchemaRegistryApi(new LogSchemaStore(new FailingLog(new IllegalStateException("a bug"))));
        SchemaRegistryApi.Response bug = buggy.handle(new SchemaRegistryApi.Request("PUT", "/config", CT,
                "{\"compatibility\":\"FULL\"}".getBytes(StandardCharsets.UTF_8)));
        assertEquals(500, bug.status());
        assertEquals(50001, JSON.readTree(bug.body()).get("error_code").asInt());
    }

    /** Fails every write: as a log on an unreachable Kafka would. */
    private record FailingLog(RuntimeException failure) implements RegistryLog {
        @Override
        public void start(java.util.function.Consumer<RegistryRecord> applier) {
        }

        @Override
        public void append(RegistryRecord record) {
            throw failure;
        }
    }

    private int registerId(String subject, String schema) throws Exception {
        String encoded = java.net.URLEncoder.encode(subject, StandardCharsets.UTF_8).replace("+", "%20");
        JsonNode body = body(assertStatus(send("POST", "/subjects/" + encoded + "/versions", CT, registration(schema)), 200));
        assertEquals(1, body.size(), "registration answers {\"id\": N} only: " + body);
        return body.get("id").asInt();
    }

    private static String registration(String schema) {
        return JSON.createObjectNode().put("schema", schema).toString();
    }

    private SchemaRegistryApi.Response get(String path) {
        return send("GET", path, null, null);
    }

    private SchemaRegistryApi.Response send(String method, String path, String contentType, String body) {
        return api.handle(new SchemaRegistryApi.Request(method, path, contentType,
                body == null ? null : body.getBytes(StandardCharsets.UTF_8)));
    }

    private static SchemaRegistryApi.Response assertStatus(SchemaRegistryApi.Response response, int status) {
        assertEquals(status, response.status(), response.body());
        return response;
    }

    private static void assertOk(SchemaRegistryApi.Response response, String json) throws Exception {
        assertStatus(response, 200);
        assertEquals(JSON.readTree(json), JSON.readTree(response.body()));
    }

    private static JsonNode assertError(SchemaRegistryApi.Response response, int status, int errorCode) throws Exception {
        assertEquals(status, response.status(), response.body());
        JsonNode body = JSON.readTree(response.body());
        assertEquals(errorCode, body.get("error_code").asInt(), response.body());
        assertTrue(body.get("message").isTextual() && !body.get("message").asText().isEmpty(), response.body());
        assertEquals(2, body.size(), "error bodies hold error_code and message only: " + body);
        return body;
    }

    private static JsonNode body(SchemaRegistryApi.Response response) throws Exception {
        return JSON.readTree(response.body());
    }
}

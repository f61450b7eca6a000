package dev.understudy.stack.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.understudy.stack.EmbeddedKafka;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.avro.AvroSchema;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.RestService;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.entities.Schema;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.entities.SubjectVersion;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.entities.requests.RegisterSchemaRequest;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.exceptions.RestClientException;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestInfo;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.CsvSource;
import org.junit.jupiter.params.provider.ValueSource;

import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicInteger;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The registry's REST API as Confluent's own client sees it: statuses, error codes and bodies of
 * every endpoint, delete-then-register sequences and every compatibility level, driven through the
 * Confluent client classes (RestService, RestClientException) and, where the client hides the body,
 * through plain HTTP.
 *
 * <p>The expectations are those of Confluent Platform 7.x (7.5 to 7.9, the line of the client 7.5.3
 * used here), taken from the Confluent schema-registry sources: {@code rest.exceptions.Errors} for
 * codes and messages, {@code SubjectsResource}, {@code SubjectVersionsResource}, {@code SchemasResource},
 * {@code CompatibilityResource}, {@code ConfigResource}, {@code ModeResource} and
 * {@code KafkaSchemaRegistry} for behaviour. Confluent 8.x answers an incompatible schema with error
 * code 40901 instead of 409; against an external registry either is accepted.
 *
 * <p>By default the suite starts the embedded registry on an embedded Kafka. With
 * {@code -Dregistry.url=http://host:8081} it runs against that registry instead (a real Confluent
 * registry, Karapace, Redpanda or Apicurio's Confluent API): every subject name carries a per-run
 * prefix, so it can run against a shared registry, and the two tests that change the global
 * compatibility level or mode run only against the embedded registry.
 */
class ConfluentConformanceIT {
    private static final ObjectMapper JSON = new ObjectMapper();
    private static final String EXTERNAL_URL = System.getProperty("registry.url", "").trim();
    private static final String RUN = "conformance-" + UUID.randomUUID().toString().substring(0, 8) + "-";
    private static final Map<String, String> HEADERS = RestService.DEFAULT_REQUEST_PROPERTIES;
    private static final AtomicInteger SUBJECTS = new AtomicInteger();

    @TempDir
    static Path workDir;
    private static EmbeddedKafka kafka;
    private static EmbeddedSchemaRegistry embedded;
    private static String url;
    private static RestService client;
    private static final HttpClient HTTP = HttpClient.newHttpClient();

    @BeforeAll
    static void start() {
        long started = System.nanoTime();
        if (EXTERNAL_URL.isEmpty()) {
            kafka = EmbeddedKafka.start(workDir);
            embedded = EmbeddedSchemaRegistry.startOnKafka(0, kafka.bootstrapServers());
            url = embedded.url();
        } else {
            url = EXTERNAL_URL.endsWith("/") ? EXTERNAL_URL.substring(0, EXTERNAL_URL.length() - 1) : EXTERNAL_URL;
        }
        client = new RestService(url);
        System.out.printf("Conformance suite against %s (%s), ready in %d ms%n", url,
                embedded == null ? "external" : "embedded, on Kafka", (System.nanoTime() - started) / 1_000_000);
    }

    @AfterAll
    static void stop() {
        if (embedded != null) {
            embedded.close();
        }
        if (kafka != null) {
            kafka.close();
        }
    }

    // ---- Schemas used below: one record type, its fields varied. ----

    /** A record "Conf" with the given fields, each "name:type" or "name:type=default" (string defaults). */
    private static String record(String... fields) {
        StringBuilder json = new StringBuilder("{\"type\":\"record\",\"name\":\"Conf\",\"namespace\":\"conformance\",\"fields\":[");
        for (int i = 0; i < fields.length; i++) {
            String[] nameType = fields[i].split(":", 2);
            String[] typeDefault = nameType[1].split("=", 2);
            json.append(i == 0 ? "" : ",").append("{\"name\":\"").append(nameType[0]).append("\",\"type\":\"")
                    .append(typeDefault[0]).append('"');
            if (typeDefault.length == 2) {
                json.append(",\"default\":").append(typeDefault[0].equals("string") ? "\"" + typeDefault[1] + "\"" : typeDefault[1]);
            }
            json.append('}');
        }
        return json.append("]}").toString();
    }

    private static final String V1 = record("a:string");
    private static final String V2 = record("a:string", "b:string=x");
    private static final String V3 = record("a:string", "b:string=x", "e:string=y");

    private static String subject(TestInfo test) {
        return RUN + test.getTestMethod().orElseThrow().getName() + "-" + SUBJECTS.incrementAndGet() + "-value";
    }

    private static String canonical(String schema) {
        return new AvroSchema(schema).canonicalString();
    }

    private static RestClientException expectError(int status, int errorCode, ThrowingCall call) {
        RestClientException e = assertThrows(RestClientException.class, call::run);
        assertEquals(status, e.getStatus(), e.getMessage());
        assertEquals(errorCode, e.getErrorCode(), e.getMessage());
        return e;
    }

    /** The message the server sent, without the client's "; error code: N" suffix. */
    private static String serverMessage(RestClientException e) {
        String message = e.getMessage();
        int suffix = message.lastIndexOf("; error code: ");
        return suffix < 0 ? message : message.substring(0, suffix);
    }

    @FunctionalInterface
    private interface ThrowingCall {
        void run() throws Exception;
    }

    private static void setLevel(String subject, String level) throws Exception {
        assertEquals(level, client.updateCompatibility(level, subject).getCompatibilityLevel());
    }

    private record Http(int status, String contentType, String body) {
        JsonNode json() throws Exception {
            return JSON.readTree(body);
        }
    }

    private static Http http(String method, String path, String body) throws Exception {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(url + path))
                .header("Content-Type", "application/vnd.schemaregistry.v1+json");
        request.method(method, body == null ? HttpRequest.BodyPublishers.noBody() : HttpRequest.BodyPublishers.ofString(body));
        HttpResponse<String> response = HTTP.send(request.build(), HttpResponse.BodyHandlers.ofString());
        return new Http(response.statusCode(), response.headers().firstValue("Content-Type").orElse(""), response.body());
    }

    private static String encode(String subject) {
        return URLEncoder.encode(subject, StandardCharsets.UTF_8).replace("+", "%20");
    }

    private static String schemaBody(String schema) {
        return JSON.createObjectNode().put("schema", schema).toString();
    }

    // ---- Registration and reading ----

    @Test
    void schemaTypesIncludeAvro() throws Exception {
        assertTrue(client.getSchemaTypes().contains("AVRO"));
    }

    @Test
    void registrationAnswersTheIdAndVersionsCountFromOne(TestInfo test) throws Exception {
        String subject = subject(test);
        int id1 = client.registerSchema(V1, subject);
        int id2 = client.registerSchema(V2, subject);
        assertNotEquals(id1, id2);
        assertEquals(List.of(1, 2), client.getAllVersions(subject));
        Schema v2 = client.getVersion(subject, 2);
        assertEquals(subject, v2.getSubject());
        assertEquals(2, v2.getVersion());
        assertEquals(id2, v2.getId());
        assertEquals(canonical(V2), v2.getSchema());
        assertTrue(client.getAllSubjects().contains(subject));

        Http raw = http("POST", "/subjects/" + encode(subject) + "/versions", schemaBody(V2));
        assertEquals(200, raw.status());
        assertTrue(raw.contentType().startsWith("application/vnd.schemaregistry.v1+json"), raw.contentType());
        assertEquals(id2, raw.json().get("id").asInt());
    }

    @Test
    void theSameSchemaSpeltDifferentlyIsTheSameVersion(TestInfo test) throws Exception {
        String subject = subject(test);
        int id = client.registerSchema(V1, subject);
        String respelt = "{ \"namespace\" : \"conformance\", \"fields\" : [ {\"type\":\"string\", \"name\":\"a\"} ],"
                + " \"name\" : \"Conf\", \"type\" : \"record\" }";
        assertEquals(id, client.registerSchema(respelt, subject));
        assertEquals(List.of(1), client.getAllVersions(subject), "no new version");
    }

    @Test
    void theSameSchemaUnderAnotherSubjectKeepsItsId(TestInfo test) throws Exception {
        String first = subject(test);
        String second = subject(test);
        int id = client.registerSchema(V3, first);
        assertEquals(id, client.registerSchema(V3, second));
        assertEquals(1, client.getVersion(second, 1).getVersion());
        List<String> subjects = client.getAllSubjectsById(id);
        assertTrue(subjects.containsAll(List.of(first, second)), subjects.toString());
        List<SubjectVersion> versions = client.getAllVersionsById(id);
        assertTrue(versions.stream().anyMatch(v -> v.getSubject().equals(second) && v.getVersion() == 1), versions.toString());
    }

    @Test
    void latestAndMinusOneNameTheHighestLiveVersion(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        int id2 = client.registerSchema(V2, subject);
        assertEquals(id2, client.getLatestVersion(subject).getId());
        JsonNode minusOne = http("GET", "/subjects/" + encode(subject) + "/versions/-1", null).json();
        assertEquals(2, minusOne.get("version").asInt());
        assertEquals(canonical(V2), client.getLatestVersionSchemaOnly(subject));
        assertEquals(canonical(V1), client.getVersionSchemaOnly(subject, 1));
    }

    @Test
    void unknownSubjectIs40401(TestInfo test) throws Exception {
        String subject = subject(test);
        RestClientException e = expectError(404, 40401, () -> client.getAllVersions(subject));
        assertEquals("Subject '" + subject + "' not found.", serverMessage(e));
        expectError(404, 40401, () -> client.getVersion(subject, 1));
        expectError(404, 40401, () -> client.getLatestVersion(subject));
    }

    @Test
    void unknownVersionIs40402(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        RestClientException e = expectError(404, 40402, () -> client.getVersion(subject, 7));
        assertEquals("Version 7 not found.", serverMessage(e));
    }

    @ParameterizedTest
    @ValueSource(strings = {"0", "-2", "abc"})
    void invalidVersionIs42202(String version, TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        Http response = http("GET", "/subjects/" + encode(subject) + "/versions/" + version, null);
        assertEquals(422, response.status(), response.body());
        assertEquals(42202, response.json().get("error_code").asInt());
        assertTrue(response.json().get("message").asText().contains(version), response.body());
    }

    @Test
    void invalidSchemaIs42201(TestInfo test) throws Exception {
        String subject = subject(test);
        RestClientException e = expectError(422, 42201, () -> client.registerSchema("{\"type\":\"recrod\"}", subject));
        assertTrue(serverMessage(e).startsWith("Invalid schema"), e.getMessage());
    }

    @Test
    void errorBodiesHoldErrorCodeAndMessage(TestInfo test) throws Exception {
        Http response = http("GET", "/subjects/" + encode(subject(test)) + "/versions", null);
        assertEquals(404, response.status());
        assertTrue(response.contentType().startsWith("application/vnd.schemaregistry.v1+json"), response.contentType());
        JsonNode body = response.json();
        assertEquals(Set.of("error_code", "message"), Set.copyOf(iterable(body.fieldNames())));
        assertEquals(40401, body.get("error_code").asInt());
    }

    private static <T> List<T> iterable(java.util.Iterator<T> iterator) {
        List<T> list = new java.util.ArrayList<>();
        iterator.forEachRemaining(list::add);
        return list;
    }

    @Test
    void lookupFindsTheVersionOrAnswers40401Or40403(TestInfo test) throws Exception {
        String subject = subject(test);
        int id = client.registerSchema(V1, subject);
        Schema found = client.lookUpSubjectVersion(V1, subject, false);
        assertEquals(1, found.getVersion());
        assertEquals(id, found.getId());
        assertEquals(subject, found.getSubject());
        RestClientException noSchema = expectError(404, 40403, () -> client.lookUpSubjectVersion(V3, subject, false));
        assertEquals("Schema not found", serverMessage(noSchema));
        String missing = subject(test);
        RestClientException noSubject = expectError(404, 40401, () -> client.lookUpSubjectVersion(V1, missing, false));
        assertEquals("Subject '" + missing + "' not found.", serverMessage(noSubject));
    }

    @Test
    void schemasById(TestInfo test) throws Exception {
        String subject = subject(test);
        int id = client.registerSchema(record("a:string", "id_probe:string=" + subject), subject);
        assertEquals(canonical(record("a:string", "id_probe:string=" + subject)), client.getId(id).getSchemaString());
        assertEquals(canonical(record("a:string", "id_probe:string=" + subject)), client.getOnlySchemaById(id));
        assertEquals(List.of(subject), client.getAllSubjectsById(id));
        List<SubjectVersion> versions = client.getAllVersionsById(id);
        assertEquals(1, versions.size());
        assertEquals(subject, versions.get(0).getSubject());
        assertEquals(1, versions.get(0).getVersion());

        RestClientException unknown = expectError(404, 40403, () -> client.getId(Integer.MAX_VALUE - 1));
        assertEquals("Schema " + (Integer.MAX_VALUE - 1) + " not found", serverMessage(unknown));
    }

    @Test
    void referencedByIsEmptyWithoutReferences(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        assertEquals(List.of(), client.getReferencedBy(subject, 1));
        expectError(404, 40402, () -> client.getReferencedBy(subject, 9));
    }

    // ---- Deletes ----

    @Test
    void softDeletedVersionsAreHiddenUnlessAskedFor(TestInfo test) throws Exception {
        String subject = subject(test);
        int id = client.registerSchema(V1, subject);
        client.registerSchema(V2, subject);
        assertEquals(1, client.deleteSchemaVersion(HEADERS, subject, "1"));
        assertEquals(List.of(2), client.getAllVersions(subject));
        assertEquals(List.of(1, 2), client.getAllVersions(HEADERS, subject, true));
        expectError(404, 40402, () -> client.getVersion(subject, 1));
        assertEquals(id, client.getVersion(subject, 1, true).getId(), "?deleted=true reads it");
        assertEquals(canonical(V1), client.getId(id).getSchemaString(), "the id still resolves");
        assertEquals(1, client.lookUpSubjectVersion(V1, subject, true).getVersion(), "lookup with ?deleted=true");
        expectError(404, 40403, () -> client.lookUpSubjectVersion(V1, subject, false));
    }

    @Test
    void deletingAVersionTwiceIs40406(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        client.registerSchema(V2, subject);
        client.deleteSchemaVersion(HEADERS, subject, "1");
        RestClientException e = expectError(404, 40406, () -> client.deleteSchemaVersion(HEADERS, subject, "1"));
        assertEquals("Subject '" + subject + "' Version 1 was soft deleted.Set permanent=true to delete permanently",
                serverMessage(e));
    }

    @Test
    void permanentlyDeletingALiveVersionIs40407(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        RestClientException e = expectError(404, 40407, () -> client.deleteSchemaVersion(HEADERS, subject, "1", true));
        assertEquals("Subject '" + subject + "' Version 1 was not deleted first before being permanently deleted",
                serverMessage(e));
    }

    @Test
    void permanentVersionDeleteAfterASoftOne(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        client.registerSchema(V2, subject);
        assertEquals(1, client.deleteSchemaVersion(HEADERS, subject, "1"));
        assertEquals(1, client.deleteSchemaVersion(HEADERS, subject, "1", true));
        assertEquals(List.of(2), client.getAllVersions(HEADERS, subject, true));
        expectError(404, 40402, () -> client.getVersion(subject, 1, true));
        expectError(404, 40402, () -> client.deleteSchemaVersion(HEADERS, subject, "1"));
    }

    @Test
    void softDeletedSubjectsAreListedOnlyWithDeleted(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        client.registerSchema(V2, subject);
        assertEquals(List.of(1, 2), client.deleteSubject(HEADERS, subject));
        assertFalse(client.getAllSubjects().contains(subject));
        assertTrue(client.getAllSubjects(true).contains(subject));
        expectError(404, 40401, () -> client.getAllVersions(subject));
        assertEquals(List.of(1, 2), client.getAllVersions(HEADERS, subject, true));
    }

    @Test
    void softDeletingASubjectTwiceIs40404(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        client.deleteSubject(HEADERS, subject);
        RestClientException e = expectError(404, 40404, () -> client.deleteSubject(HEADERS, subject));
        assertEquals("Subject '" + subject + "' was soft deleted.Set permanent=true to delete permanently", serverMessage(e));
    }

    @Test
    void permanentlyDeletingALiveSubjectIs40405(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        RestClientException e = expectError(404, 40405, () -> client.deleteSubject(HEADERS, subject, true));
        assertEquals("Subject '" + subject + "' was not deleted first before being permanently deleted", serverMessage(e));
    }

    @Test
    void deletingAnUnknownSubjectIs40401(TestInfo test) throws Exception {
        String subject = subject(test);
        expectError(404, 40401, () -> client.deleteSubject(HEADERS, subject));
        expectError(404, 40401, () -> client.deleteSchemaVersion(HEADERS, subject, "1"));
    }

    @Test
    void reRegisteringAfterASoftSubjectDeleteMakesTheNextVersionWithTheSameId(TestInfo test) throws Exception {
        String subject = subject(test);
        int id1 = client.registerSchema(V1, subject);
        client.registerSchema(V2, subject);
        client.deleteSubject(HEADERS, subject);
        assertEquals(id1, client.registerSchema(V1, subject));
        assertEquals(List.of(3), client.getAllVersions(subject), "versions are not reused after a soft delete");
        assertEquals(List.of(1, 2, 3), client.getAllVersions(HEADERS, subject, true));
    }

    @Test
    void reRegisteringASoftDeletedVersionMakesANewVersion(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        int id2 = client.registerSchema(V2, subject);
        client.deleteSchemaVersion(HEADERS, subject, "2");
        assertEquals(id2, client.registerSchema(V2, subject));
        assertEquals(List.of(1, 3), client.getAllVersions(subject));
        assertEquals(id2, client.registerSchema(V2, subject), "a live schema is found, not added again");
        assertEquals(List.of(1, 3), client.getAllVersions(subject));
    }

    @Test
    void afterAPermanentSubjectDeleteVersionsStartAgainAtOne(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        client.registerSchema(V2, subject);
        client.deleteSubject(HEADERS, subject);
        assertEquals(List.of(1, 2), client.deleteSubject(HEADERS, subject, true));
        assertFalse(client.getAllSubjects(true).contains(subject));
        expectError(404, 40401, () -> client.getAllVersions(HEADERS, subject, true));
        client.registerSchema(V2, subject);
        assertEquals(List.of(1), client.getAllVersions(subject));
    }

    // ---- Compatibility ----

    /**
     * History: version 1 {a, c} (no defaults), version 2 {a, b="x"}, registered at NONE; then the
     * subject's level is set and the candidate is checked against all versions and registered.
     * Non-transitive levels compare with version 2 only, transitive ones with both.
     */
    @ParameterizedTest(name = "{0}: {1} -> compatible={2}")
    @CsvSource(delimiter = '|', value = {
        "NONE                | z:int                          | true",
        "NONE                | a:int                          | true",
        "BACKWARD            | a:string,b:string=x,e:string=y | true",
        "BACKWARD            | a:string,b:string=x,e:string   | false",
        "BACKWARD_TRANSITIVE | a:string,b:string=x,e:string=y | true",
        "BACKWARD_TRANSITIVE | a:string,b:string              | false",
        "FORWARD             | a:string,b:string=x,e:string=y | true",
        "FORWARD             | b:string=x,e:string=y          | false",
        "FORWARD_TRANSITIVE  | a:string,c:string,b:string=x   | true",
        "FORWARD_TRANSITIVE  | a:string,b:string=x,e:string=y | false",
        "FULL                | a:string,b:string=x,e:string=y | true",
        "FULL                | a:string,b:string=x,e:string   | false",
        "FULL_TRANSITIVE     | a:string,c:string=z,b:string=x | true",
        "FULL_TRANSITIVE     | a:string,b:string=x,e:string=y | false",
    })
    void compatibilityLevels(String level, String candidateFields, boolean compatible, TestInfo test) throws Exception {
        String subject = subject(test);
        setLevel(subject, "NONE");
        client.registerSchema(record("a:string", "c:string"), subject);
        client.registerSchema(record("a:string", "b:string=x"), subject);
        setLevel(subject, level);
        String candidate = record(candidateFields.split(","));

        RegisterSchemaRequest request = new RegisterSchemaRequest();
        request.setSchema(candidate);
        List<String> messages = client.testCompatibility(request, subject, null, false, true);
        assertEquals(compatible, messages.isEmpty(), messages.toString());
        Http raw = http("POST", "/compatibility/subjects/" + encode(subject) + "/versions?verbose=true", schemaBody(candidate));
        assertEquals(200, raw.status(), raw.body());
        assertEquals(compatible, raw.json().get("is_compatible").asBoolean(), raw.body());
        assertEquals(messages.size(), raw.json().get("messages").size());

        if (compatible) {
            assertTrue(client.registerSchema(candidate, subject) > 0);
            assertEquals(3, client.getLatestVersion(subject).getVersion());
        } else {
            assertTrue(messages.get(messages.size() - 1).contains("compatibility: '" + level + "'"), messages.toString());
            RestClientException e = assertThrows(RestClientException.class, () -> client.registerSchema(candidate, subject));
            assertEquals(409, e.getStatus(), e.getMessage());
            assertTrue(e.getErrorCode() == 409 || (embedded == null && e.getErrorCode() == 40901), e.getMessage());
            assertTrue(serverMessage(e).startsWith("Schema being registered is incompatible with an earlier schema for subject \""
                    + subject + "\", details: [{errorType:"), e.getMessage());
            assertEquals(List.of(1, 2), client.getAllVersions(subject), "nothing registered");
        }
    }

    @Test
    void compatibilityAgainstOneVersion(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        client.registerSchema(V2, subject);
        String candidate = record("a:string", "b:string");
        assertEquals(List.of(), client.testCompatibility(candidate, subject, "latest"));
        assertEquals(List.of(), client.testCompatibility(candidate, subject, "2"));
        RegisterSchemaRequest request = new RegisterSchemaRequest();
        request.setSchema(candidate);
        List<String> messages = client.testCompatibility(request, subject, "1", false, true);
        assertTrue(messages.get(0).contains("READER_FIELD_MISSING_DEFAULT_VALUE"), messages.toString());
        Http plain = http("POST", "/compatibility/subjects/" + encode(subject) + "/versions/1", schemaBody(candidate));
        assertEquals(JSON.readTree("{\"is_compatible\":false}"), plain.json(), "no messages unless verbose");
    }

    @Test
    void compatibilityErrors(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        expectError(404, 40402, () -> client.testCompatibility(V2, subject, "5"));
        expectError(422, 42202, () -> client.testCompatibility(V2, subject, "zero"));
        expectError(422, 42201, () -> client.testCompatibility("{\"type\":\"recrod\"}", subject, "latest"));
        String fresh = subject(test);
        assertEquals(List.of(), client.testCompatibility(V2, fresh, "latest"), "nothing to be incompatible with");
    }

    // ---- Config ----

    @Test
    void subjectCompatibilityLevel(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        RestClientException none = expectError(404, 40408, () -> client.getConfig(HEADERS, subject, false));
        assertEquals("Subject '" + subject + "' does not have subject-level compatibility configured", serverMessage(none));
        String global = client.getConfig(null).getCompatibilityLevel();
        assertEquals(global, client.getConfig(HEADERS, subject, true).getCompatibilityLevel(), "defaultToGlobal");

        setLevel(subject, "FULL");
        assertEquals("FULL", client.getConfig(subject).getCompatibilityLevel());
        Http put = http("PUT", "/config/" + encode(subject), "{\"compatibility\":\"FORWARD\"}");
        assertEquals(JSON.readTree("{\"compatibility\":\"FORWARD\"}"), put.json());
        assertEquals("FORWARD", client.deleteConfig(subject).getCompatibilityLevel(), "DELETE answers the old level");
        expectError(404, 40408, () -> client.getConfig(HEADERS, subject, false));
        expectError(404, 40401, () -> client.deleteConfig(subject));
    }

    @Test
    void invalidCompatibilityLevelIs42203(TestInfo test) throws Exception {
        String subject = subject(test);
        RestClientException e = expectError(422, 42203, () -> client.updateCompatibility("SIDEWAYS", subject));
        assertEquals("Invalid compatibility level. Valid values are none, backward, forward, full, backward_transitive,"
                + " forward_transitive, and full_transitive", serverMessage(e));
    }

    @Test
    void globalCompatibilityLevel() throws Exception {
        assumeTrue(embedded != null, "changes the global level: embedded registry only");
        assertEquals("BACKWARD", client.getConfig(null).getCompatibilityLevel(), "Confluent's default");
        try {
            assertEquals("FULL", client.updateCompatibility("FULL", null).getCompatibilityLevel());
            assertEquals("FULL", client.getConfig(null).getCompatibilityLevel());
        } finally {
            client.updateCompatibility("BACKWARD", null);
        }
    }

    // ---- Mode ----

    @Test
    void readOnlySubjectRefusesWritesWith42205(TestInfo test) throws Exception {
        String subject = subject(test);
        client.registerSchema(V1, subject);
        RestClientException none = expectError(404, 40409, () -> client.getMode(subject, false));
        assertEquals("Subject '" + subject + "' does not have subject-level mode configured", serverMessage(none));
        assertEquals("READWRITE", client.getMode(subject, true).getMode(), "defaultToGlobal");

        assertEquals("READONLY", client.setMode("READONLY", subject).getMode());
        assertEquals("READONLY", client.getMode(subject, false).getMode());
        assertEquals(client.getVersion(subject, 1).getId(), client.registerSchema(V1, subject),
                "an already registered schema is still answered");
        RestClientException refused = expectError(422, 42205, () -> client.registerSchema(V2, subject));
        assertEquals("Subject " + subject + " is in read-only mode", serverMessage(refused));
        expectError(422, 42205, () -> client.deleteSchemaVersion(HEADERS, subject, "1"));
        assertEquals(1, client.getLatestVersion(subject).getVersion(), "reads still work");

        assertEquals("READONLY", client.deleteSubjectMode(subject).getMode());
        assertTrue(client.registerSchema(V2, subject) > 0);
        expectError(404, 40401, () -> client.deleteSubjectMode(subject));
    }

    @Test
    void invalidModeIs42204(TestInfo test) throws Exception {
        String subject = subject(test);
        expectError(422, 42204, () -> client.setMode("SLEEPY", subject));
    }

    @Test
    void globalReadOnlyMode(TestInfo test) throws Exception {
        assumeTrue(embedded != null, "changes the global mode: embedded registry only");
        String subject = subject(test);
        assertEquals("READWRITE", client.getMode().getMode());
        try {
            client.setMode("READONLY", null);
            expectError(422, 42205, () -> client.registerSchema(V1, subject));
            client.setMode("READWRITE", subject);
            assertTrue(client.registerSchema(V1, subject) > 0, "a subject-level READWRITE overrides the global READONLY");
        } finally {
            client.setMode("READWRITE", null);
        }
    }

    // ---- Odd subject names ----

    @Test
    void subjectNamesAreEncodedAndDecoded(TestInfo test) throws Exception {
        String subject = subject(test) + " with/slash+plus";
        int id = client.registerSchema(V1, subject);
        assertEquals(id, client.getLatestVersion(subject).getId());
        assertTrue(client.getAllSubjects().contains(subject));
    }
}

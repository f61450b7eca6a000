package dev.understudy.stack.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.RegistryClient;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.io.UncheckedIOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The registry over real HTTP, on a loopback port: transport, headers and the pipeline's client. */
class EmbeddedSchemaRegistryTest {
    private static final ObjectMapper JSON = new ObjectMapper();
    private final HttpClient http = HttpClient.newHttpClient();
    private EmbeddedSchemaRegistry registry;

    @BeforeEach
    void start() {
        registry = EmbeddedSchemaRegistry.start();
    }

    @AfterEach
    void stop() {
        registry.close();
    }

    @Test
    void servesOnLoopback() {
        assertEquals("http://127.0.0.1:" + registry.port(), registry.url());
        assertTrue(registry.port() > 0);
    }

    @Test
    void worksWithThePipelinesClient() {
        Schema v1 = SchemaBuilder.record("Order").namespace("shop").fields().requiredLong("id").endRecord();
        Schema v2 = SchemaBuilder.record("Order").namespace("shop").fields().requiredLong("id")
                .optionalString("note").endRecord();
        RegistryClient client = new ConfluentRegistryClient(registry.url());
        int id1 = client.register("shop.order-value", v1);
        int id2 = client.register("shop.order-value", v2);
        assertEquals(id1 + 1, id2);
        // A second client has no cache: the answers come from the registry.
        RegistryClient fresh = new ConfluentRegistryClient(registry.url());
        assertEquals(v1, fresh.byId(id1));
        assertEquals(id1, fresh.register("shop.order-value", v1));
        assertEquals(id1, fresh.register("other subject/with slash", v1));
        Optional<RegistryClient.Registered> latest = fresh.latest("shop.order-value");
        assertTrue(latest.isPresent());
        assertEquals(2, latest.get().version());
        assertEquals(id2, latest.get().id());
        assertEquals(v2, latest.get().schema());
        assertEquals(Optional.empty(), fresh.latest("missing"));
        assertEquals(2, registry.store().usesOf(id1, false).size());
    }

    @Test
    void answersWithTheRegistryMediaType() throws Exception {
        HttpResponse<String> ok = get("/subjects");
        assertEquals(200, ok.statusCode());
        assertEquals(SchemaRegistryApi.CONTENT_TYPE, ok.headers().firstValue("Content-Type").orElse(""));
        assertEquals("[]", ok.body());

        HttpResponse<String> missing = get("/subjects/x/versions");
        assertEquals(404, missing.statusCode());
        assertEquals(SchemaRegistryApi.CONTENT_TYPE, missing.headers().firstValue("Content-Type").orElse(""));
        JsonNode error = JSON.readTree(missing.body());
        assertEquals(40401, error.get("error_code").asInt());
        assertEquals("Subject 'x' not found.", error.get("message").asText());

        HttpResponse<String> wrongType = http.send(HttpRequest.newBuilder(URI.create(registry.url() + "/subjects/x/versions"))
                .header("Content-Type", "text/plain").POST(HttpRequest.BodyPublishers.ofString("{\"schema\":\"\\\"int\\\"\"}"))
                .build(), HttpResponse.BodyHandlers.ofString());
        assertEquals(415, wrongType.statusCode());
    }

    @Test
    void busyPortIsReportedWithItsNumber() {
        UncheckedIOException e = assertThrows(UncheckedIOException.class, () -> EmbeddedSchemaRegistry.start(registry.port()));
        assertTrue(e.getMessage().contains("127.0.0.1:" + registry.port()), e.getMessage());
    }

    @Test
    void closeIsIdempotent() {
        registry.close();
        registry.close();
        assertThrows(java.io.IOException.class, () -> get("/"));
    }

    private HttpResponse<String> get(String path) throws Exception {
        return http.send(HttpRequest.newBuilder(URI.create(registry.url() + path)).GET().build(),
                HttpResponse.BodyHandlers.ofString());
    }
}

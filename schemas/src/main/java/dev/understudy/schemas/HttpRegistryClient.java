package dev.understudy.schemas;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.Schema;

import java.io.IOException;
import java.net.URI;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Schema Registry client over the Confluent REST API v1
 * (https://docs.confluent.io/platform/current/schema-registry/develop/api.html).
 * Ids are cached both ways: an id never changes meaning, and registering the same schema under the
 * same subject always returns the same id, so each is asked for once per process.
 */
public final class HttpRegistryClient implements RegistryClient {
    static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    private static final ObjectMapper JSON = new ObjectMapper();

    private final String baseUrl;
    private final HttpClient http;
    private final Map<Integer, Schema> byId = new ConcurrentHashMap<>();
    private final Map<String, Map<Schema, Integer>> idsBySubject = new ConcurrentHashMap<>();

    public HttpRegistryClient(String baseUrl) {
        this.baseUrl = baseUrl.endsWith("/") ? baseUrl.substring(0, baseUrl.length() - 1) : baseUrl;
        this.http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    }

    public String baseUrl() {
        return baseUrl;
    }

    @Override
    public int register(String subject, Schema schema) {
        Map<Schema, Integer> ids = idsBySubject.computeIfAbsent(subject, s -> new ConcurrentHashMap<>());
        Integer cached = ids.get(schema);
        if (cached != null) {
            return cached;
        }
        ObjectNode body = JSON.createObjectNode();
        body.put("schema", schema.toString());
        JsonNode response = send("POST", "/subjects/" + encode(subject) + "/versions", body.toString(),
                "registering a schema under subject '" + subject + "'");
        int id = response.get("id").asInt();
        ids.put(schema, id);
        byId.putIfAbsent(id, schema);
        return id;
    }

    @Override
    public Schema byId(int id) {
        Schema cached = byId.get(id);
        if (cached != null) {
            return cached;
        }
        JsonNode response = send("GET", "/schemas/ids/" + id, null, "fetching schema id " + id);
        Schema schema = new Schema.Parser().parse(response.get("schema").asText());
        byId.putIfAbsent(id, schema);
        return schema;
    }

    @Override
    public Optional<Registered> latest(String subject) {
        try {
            JsonNode r = send("GET", "/subjects/" + encode(subject) + "/versions/latest", null,
                    "reading the latest version of subject '" + subject + "'");
            Schema schema = new Schema.Parser().parse(r.get("schema").asText());
            return Optional.of(new Registered(r.get("subject").asText(), r.get("version").asInt(), r.get("id").asInt(), schema));
        } catch (RegistryException e) {
            if (e.httpStatus() == 404) {
                return Optional.empty();
            }
            throw e;
        }
    }

    private JsonNode send(String method, String path, String body, String what) {
        HttpRequest.Builder request = HttpRequest.newBuilder(URI.create(baseUrl + path))
                .timeout(Duration.ofSeconds(30))
                .header("Accept", CONTENT_TYPE + ", application/json");
        if (body != null) {
            request.header("Content-Type", CONTENT_TYPE).method(method, HttpRequest.BodyPublishers.ofString(body));
        } else {
            request.method(method, HttpRequest.BodyPublishers.noBody());
        }
        HttpResponse<String> response;
        try {
            response = http.send(request.build(), HttpResponse.BodyHandlers.ofString());
        } catch (IOException e) {
            throw new RegistryException("Schema registry at " + baseUrl + " is unreachable while " + what
                    + ": " + e + ". Check the registry URL and that the registry is running.", -1, -1, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new RegistryException("Interrupted while " + what, -1, -1, e);
        }
        JsonNode json;
        try {
            json = response.body().isEmpty() ? JSON.createObjectNode() : JSON.readTree(response.body());
        } catch (IOException e) {
            throw new RegistryException("Schema registry at " + baseUrl + " answered " + response.statusCode()
                    + " with a body that is not JSON while " + what, response.statusCode(), -1, e);
        }
        if (response.statusCode() / 100 != 2) {
            int code = json.path("error_code").asInt(-1);
            throw new RegistryException("Schema registry at " + baseUrl + " refused " + what + ": HTTP "
                    + response.statusCode() + ", error " + code + ": " + json.path("message").asText(""),
                    response.statusCode(), code, null);
        }
        return json;
    }

    private static String encode(String s) {
        return URLEncoder.encode(s, StandardCharsets.UTF_8).replace("+", "%20");
    }
}

package dev.understudy.stack.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.apache.avro.Schema;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * The Confluent Schema Registry REST API v1
 * (https://docs.confluent.io/platform/current/schema-registry/develop/api.html), the part of it the
 * pipeline and the usual serializers use, as a function from request to response. It knows nothing
 * of HTTP servers (see {@link EmbeddedSchemaRegistry}) nor of storage (see {@link SchemaStore}).
 *
 * <p>Implemented: {@code GET /}, {@code GET /subjects}, {@code POST /subjects/{subject}} (lookup),
 * {@code GET|POST /subjects/{subject}/versions}, {@code GET /subjects/{subject}/versions/{version}[/schema]},
 * {@code GET /schemas/ids/{id}[/schema|/subjects|/versions]} and {@code GET /schemas/types}.
 * Avro only. Unknown paths answer 404, known paths with another method 405.
 */
final class SchemaRegistryApi {
    private static final Logger LOG = LoggerFactory.getLogger(SchemaRegistryApi.class);

    /** The media type of every response, and the preferred one for request bodies. */
    static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    /** Request body types Confluent's resources accept (their @Consumes lists). */
    private static final Set<String> ACCEPTED_BODY_TYPES = Set.of(CONTENT_TYPE, "application/vnd.schemaregistry+json",
            "application/json", "application/octet-stream");
    static final String AVRO = "AVRO";
    private static final int LATEST = -1;
    private static final int MAX_SCHEMA_IN_MESSAGE = 200;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** An HTTP request as the API sees it: the path is still percent-encoded, the body raw bytes. */
    record Request(String method, String rawPath, String contentType, byte[] body) {
        Request {
            Objects.requireNonNull(method, "method");
            Objects.requireNonNull(rawPath, "rawPath");
            body = body == null ? new byte[0] : body;
        }
    }

    /** A response: status and a JSON body, always of type {@link #CONTENT_TYPE}. */
    record Response(int status, String body) {
    }

    private final SchemaStore store;

    SchemaRegistryApi(SchemaStore store) {
        this.store = Objects.requireNonNull(store, "store");
    }

    Response handle(Request request) {
        try {
            return route(request);
        } catch (ApiError e) {
            return error(e.status(), e.errorCode(), e.getMessage());
        } catch (SchemaStoreException e) {
            LOG.error("Schema store failed on {} {}", request.method(), request.rawPath(), e);
            return error(500, ApiError.STORE_ERROR, "Error in the backend data store: " + e.getMessage());
        } catch (RuntimeException e) {
            LOG.error("Unexpected failure on {} {}", request.method(), request.rawPath(), e);
            return error(500, ApiError.STORE_ERROR, "Error in the schema registry: " + e);
        }
    }

    static Response error(int status, int errorCode, String message) {
        ObjectNode body = JSON.createObjectNode();
        body.put("error_code", errorCode);
        body.put("message", message);
        return new Response(status, body.toString());
    }

    private Response route(Request request) {
        List<String> path = segments(request.rawPath());
        String method = request.method().toUpperCase(Locale.ROOT);
        if (path.isEmpty()) {
            requireMethod(method, "GET");
            return ok(JSON.createObjectNode());
        }
        switch (path.get(0)) {
            case "subjects":
                return subjects(method, path, request);
            case "schemas":
                return schemas(method, path);
            default:
                throw ApiError.notFound();
        }
    }

    private Response subjects(String method, List<String> path, Request request) {
        if (path.size() == 1) {
            requireMethod(method, "GET");
            ArrayNode subjects = JSON.createArrayNode();
            store.subjects().forEach(subjects::add);
            return ok(subjects);
        }
        String subject = path.get(1);
        if (path.size() == 2) {
            requireMethod(method, "POST");
            return lookup(subject, request);
        }
        if (!path.get(2).equals("versions") || path.size() > 5 || (path.size() == 5 && !path.get(4).equals("schema"))) {
            throw ApiError.notFound();
        }
        if (path.size() == 3) {
            if (method.equals("POST")) {
                return register(subject, request);
            }
            requireMethod(method, "GET");
            List<Integer> versions = store.versions(subject).orElseThrow(() -> ApiError.subjectNotFound(subject));
            ArrayNode array = JSON.createArrayNode();
            versions.forEach(array::add);
            return ok(array);
        }
        requireMethod(method, "GET");
        RegisteredSchema registered = version(subject, path.get(3));
        if (path.size() == 5) {
            return raw(registered.schema());
        }
        return ok(describe(registered, true));
    }

    private Response schemas(String method, List<String> path) {
        if (path.size() == 2 && path.get(1).equals("types")) {
            requireMethod(method, "GET");
            return ok(JSON.createArrayNode().add(AVRO));
        }
        if (path.size() < 3 || path.size() > 4 || !path.get(1).equals("ids")
                || (path.size() == 4 && !Set.of("schema", "subjects", "versions").contains(path.get(3)))) {
            throw ApiError.notFound();
        }
        int id;
        try {
            id = Integer.parseInt(path.get(2));
        } catch (NumberFormatException e) {
            // Confluent's Jersey resource takes {id} as an integer; anything else matches no resource.
            throw ApiError.notFound();
        }
        requireMethod(method, "GET");
        StoredSchema stored = store.schemaById(id).orElseThrow(() -> ApiError.schemaNotFound(id));
        if (path.size() == 3) {
            ObjectNode body = JSON.createObjectNode();
            putSchemaType(body, stored.schemaType());
            body.put("schema", stored.schema());
            return ok(body);
        }
        switch (path.get(3)) {
            case "schema":
                return raw(stored.schema());
            case "subjects": {
                ArrayNode subjects = JSON.createArrayNode();
                store.usesOf(id).stream().map(RegisteredSchema::subject).distinct().forEach(subjects::add);
                return ok(subjects);
            }
            case "versions": {
                ArrayNode versions = JSON.createArrayNode();
                for (RegisteredSchema use : store.usesOf(id)) {
                    versions.addObject().put("subject", use.subject()).put("version", use.version());
                }
                return ok(versions);
            }
            default:
                throw ApiError.notFound();
        }
    }

    /**
     * POST /subjects/{subject}/versions. Registering a schema a live version of the subject already
     * holds returns that version's id and creates nothing; an identical schema under another subject
     * keeps its id (Confluent API docs, "Register a new schema under the specified subject").
     */
    private Response register(String subject, Request request) {
        if (subject.isEmpty() || subject.chars().anyMatch(Character::isISOControl)) {
            throw ApiError.invalidSubject(subject);
        }
        String schema = canonicalSchema(request);
        RegisteredSchema registered = store.register(subject, AVRO, schema);
        LOG.debug("Subject '{}' version {} has schema id {}", subject, registered.version(), registered.id());
        ObjectNode body = JSON.createObjectNode();
        body.put("id", registered.id());
        return ok(body);
    }

    /** POST /subjects/{subject}: which version of the subject holds this schema. */
    private Response lookup(String subject, Request request) {
        String schema = canonicalSchema(request);
        if (store.versions(subject).isEmpty()) {
            throw ApiError.subjectNotFound(subject);
        }
        RegisteredSchema registered = store.lookup(subject, AVRO, schema).orElseThrow(ApiError::schemaNotFound);
        return ok(describe(registered, true));
    }

    /** {version} is a version number, "latest", or -1 (also latest); anything else is 42202. */
    private RegisteredSchema version(String subject, String versionText) {
        int version = parseVersion(versionText);
        if (store.versions(subject).isEmpty()) {
            throw ApiError.subjectNotFound(subject);
        }
        if (version == LATEST) {
            return store.latest(subject).orElseThrow(() -> ApiError.subjectNotFound(subject));
        }
        return store.version(subject, version).orElseThrow(() -> ApiError.versionNotFound(version));
    }

    static int parseVersion(String text) {
        if (text.trim().equalsIgnoreCase("latest")) {
            return LATEST;
        }
        int version;
        try {
            version = Integer.parseInt(text.trim());
        } catch (NumberFormatException e) {
            throw ApiError.invalidVersion(text);
        }
        if (version == LATEST) {
            return LATEST;
        }
        if (version < 1) {
            throw ApiError.invalidVersion(text);
        }
        return version;
    }

    /**
     * The schema of a registration or lookup body, {@code {"schema": "...", "schemaType": "AVRO"}},
     * parsed by Avro and canonicalised to Avro's own rendering ({@link Schema#toString()}), as the
     * Confluent registry does; that canonical text is what identifies a schema.
     */
    private static String canonicalSchema(Request request) {
        JsonNode body = jsonBody(request);
        JsonNode type = body.get("schemaType");
        if (type != null && !type.isNull() && !AVRO.equalsIgnoreCase(type.asText())) {
            throw ApiError.invalidSchema("Unsupported schema type '" + type.asText() + "': this registry stores Avro"
                    + " schemas only; send \"schemaType\": \"AVRO\" or leave it out");
        }
        JsonNode references = body.get("references");
        if (references != null && !references.isNull() && !(references.isArray() && references.isEmpty())) {
            throw ApiError.invalidSchema("Schema references are not supported by this registry; define the"
                    + " referenced named types inside the schema instead");
        }
        JsonNode schemaNode = body.get("schema");
        if (schemaNode == null || !schemaNode.isTextual() || schemaNode.asText().isBlank()) {
            throw ApiError.invalidSchema("Invalid schema: the request body needs a \"schema\" field holding the Avro"
                    + " schema as a JSON string, e.g. {\"schema\": \"\\\"string\\\"\"}");
        }
        String text = schemaNode.asText();
        try {
            return new Schema.Parser().parse(text).toString();
        } catch (RuntimeException e) {
            throw ApiError.invalidSchema("Invalid schema " + abbreviate(text) + ", details: " + e.getMessage());
        }
    }

    private static JsonNode jsonBody(Request request) {
        String contentType = request.contentType();
        if (contentType != null && !contentType.isBlank()) {
            String mediaType = contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
            if (!ACCEPTED_BODY_TYPES.contains(mediaType)) {
                throw ApiError.unsupportedMediaType(contentType);
            }
        }
        if (request.body().length == 0) {
            throw ApiError.badRequest("The request has no body; send {\"schema\": \"<Avro schema as a JSON string>\"}");
        }
        JsonNode body;
        try {
            body = JSON.readTree(request.body());
        } catch (IOException e) {
            String detail = e instanceof JsonProcessingException p ? p.getOriginalMessage() : e.getMessage();
            throw ApiError.badRequest("The request body is not valid JSON: " + detail);
        }
        if (body == null || !body.isObject()) {
            throw ApiError.badRequest("The request body must be a JSON object such as {\"schema\": \"...\"}");
        }
        return body;
    }

    private static ObjectNode describe(RegisteredSchema registered, boolean withSchema) {
        ObjectNode body = JSON.createObjectNode();
        body.put("subject", registered.subject());
        body.put("version", registered.version());
        body.put("id", registered.id());
        putSchemaType(body, registered.schemaType());
        if (withSchema) {
            body.put("schema", registered.schema());
        }
        return body;
    }

    /** Confluent leaves schemaType out for Avro, the default type, and names every other type. */
    private static void putSchemaType(ObjectNode body, String schemaType) {
        if (!AVRO.equals(schemaType)) {
            body.put("schemaType", schemaType);
        }
    }

    private static void requireMethod(String method, String allowed) {
        if (!method.equals(allowed)) {
            throw ApiError.methodNotAllowed();
        }
    }

    private static Response ok(JsonNode body) {
        return new Response(200, body.toString());
    }

    /** The /schema endpoints answer with the schema document itself, not wrapped in an object. */
    private static Response raw(String schema) {
        return new Response(200, schema);
    }

    /**
     * Splits a raw path into percent-decoded segments. Segments are decoded one by one, after
     * splitting, so that a subject may contain an encoded slash; '+' stays '+' (it only means a
     * space in form data, not in paths). One trailing slash is ignored.
     */
    static List<String> segments(String rawPath) {
        String path = rawPath.startsWith("/") ? rawPath.substring(1) : rawPath;
        if (path.endsWith("/")) {
            path = path.substring(0, path.length() - 1);
        }
        List<String> segments = new ArrayList<>();
        if (path.isEmpty()) {
            return segments;
        }
        for (String segment : path.split("/", -1)) {
            segments.add(percentDecode(segment));
        }
        return segments;
    }

    private static String percentDecode(String segment) {
        if (segment.indexOf('%') < 0) {
            return segment;
        }
        try {
            // URLDecoder decodes form data, where '+' means a space; keep a literal '+' as it is.
            return URLDecoder.decode(segment.replace("+", "%2B"), StandardCharsets.UTF_8);
        } catch (IllegalArgumentException e) {
            throw ApiError.badRequest("Malformed percent-encoding in path segment '" + segment + "'");
        }
    }

    private static String abbreviate(String schema) {
        return schema.length() <= MAX_SCHEMA_IN_MESSAGE ? schema : schema.substring(0, MAX_SCHEMA_IN_MESSAGE) + "...";
    }
}

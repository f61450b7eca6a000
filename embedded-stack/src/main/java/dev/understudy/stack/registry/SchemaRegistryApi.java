package dev.understudy.stack.registry;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.net.URLDecoder;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;

/**
 * The Confluent Schema Registry REST API v1
 * (https://docs.confluent.io/platform/current/schema-registry/develop/api.html), the part of it the
 * pipeline and the usual serializers use, as a function from request to response. It knows nothing
 * of HTTP servers (see {@link EmbeddedSchemaRegistry}) nor of storage (see {@link SchemaStore}).
 *
 * <p>Implemented: {@code GET /}; {@code GET /subjects[?deleted]}; {@code POST /subjects/{s}[?deleted]}
 * (lookup); {@code DELETE /subjects/{s}[?permanent]}; {@code GET|POST /subjects/{s}/versions};
 * {@code GET|DELETE /subjects/{s}/versions/{v}}, {@code GET .../{v}/schema}, {@code GET .../{v}/referencedby};
 * {@code GET /schemas/ids/{id}[/schema|/subjects|/versions]}; {@code GET /schemas/types};
 * {@code POST /compatibility/subjects/{s}/versions[/{v}][?verbose]}; {@code GET|PUT /config},
 * {@code GET|PUT|DELETE /config/{s}}; {@code GET|PUT /mode}, {@code GET|PUT|DELETE /mode/{s}}.
 * Avro only, without schema references. Unknown paths answer 404, known paths with another method 405.
 */
final class SchemaRegistryApi {
    private static final Logger LOG = LoggerFactory.getLogger(SchemaRegistryApi.class);

    /** The media type of every response, and the preferred one for request bodies. */
    static final String CONTENT_TYPE = "application/vnd.schemaregistry.v1+json";
    /** Request body types Confluent's resources accept (their @Consumes lists). */
    private static final Set<String> ACCEPTED_BODY_TYPES = Set.of(CONTENT_TYPE, "application/vnd.schemaregistry+json",
            "application/json", "application/octet-stream");
    static final String AVRO = "AVRO";
    static final int LATEST = -1;
    private static final int MAX_SCHEMA_IN_MESSAGE = 200;
    private static final ObjectMapper JSON = new ObjectMapper();

    /** An HTTP request as the API sees it: the path is still percent-encoded, the body raw bytes. */
    record Request(String method, String rawPath, String rawQuery, String contentType, byte[] body) {
        Request {
            Objects.requireNonNull(method, "method");
            Objects.requireNonNull(rawPath, "rawPath");
            body = body == null ? new byte[0] : body;
        }

        /** A request whose path may carry a query ({@code /subjects?deleted=true}). */
        Request(String method, String pathAndQuery, String contentType, byte[] body) {
            this(method, pathAndQuery.contains("?") ? pathAndQuery.substring(0, pathAndQuery.indexOf('?')) : pathAndQuery,
                    pathAndQuery.contains("?") ? pathAndQuery.substring(pathAndQuery.indexOf('?') + 1) : null,
                    contentType, body);
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
        Map<String, String> query = query(request.rawQuery());
        String method = request.method().toUpperCase(Locale.ROOT);
        if (path.isEmpty()) {
            requireMethod(method, "GET");
            return ok(JSON.createObjectNode());
        }
        switch (path.get(0)) {
            case "subjects":
                return subjects(method, path, query, request);
            case "schemas":
                return schemas(method, path, query);
            case "compatibility":
                return compatibility(method, path, query, request);
            case "config":
                return config(method, path, query, request);
            case "mode":
                return mode(method, path, query, request);
            default:
                throw ApiError.notFound();
        }
    }

    private Response subjects(String method, List<String> path, Map<String, String> query, Request request) {
        boolean deleted = flag(query, "deleted");
        if (path.size() == 1) {
            requireMethod(method, "GET");
            return ok(strings(store.subjects(deleted)));
        }
        String subject = path.get(1);
        if (path.size() == 2) {
            if (method.equals("DELETE")) {
                return ok(integers(store.deleteSubject(subject, flag(query, "permanent"))));
            }
            requireMethod(method, "POST");
            return lookup(subject, deleted, request);
        }
        if (!path.get(2).equals("versions") || path.size() > 5
                || (path.size() == 5 && !Set.of("schema", "referencedby").contains(path.get(4)))) {
            throw ApiError.notFound();
        }
        if (path.size() == 3) {
            if (method.equals("POST")) {
                return register(subject, request);
            }
            requireMethod(method, "GET");
            List<Integer> versions = store.versions(subject, deleted);
            if (versions.isEmpty()) {
                throw ApiError.subjectNotFound(subject);
            }
            return ok(integers(versions));
        }
        String versionText = path.get(3);
        if (path.size() == 4 && method.equals("DELETE")) {
            return ok(JSON.getNodeFactory().numberNode(store.deleteVersion(subject, versionText, flag(query, "permanent"))));
        }
        requireMethod(method, "GET");
        if (path.size() == 5 && path.get(4).equals("referencedby")) {
            // Confluent looks the version up with deleted versions included, then lists the ids of
            // schemas referencing it. This registry refuses schema references, so none can.
            version(subject, versionText, true);
            return ok(JSON.createArrayNode());
        }
        RegisteredSchema registered = version(subject, versionText, deleted);
        if (path.size() == 5) {
            return raw(registered.schema());
        }
        return ok(describe(registered, true));
    }

    private Response schemas(String method, List<String> path, Map<String, String> query) {
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
        // SchemasResource: an unknown id is "Schema <id> not found" for the schema itself, and the
        // plain "Schema not found" for its subjects and versions.
        StoredSchema stored = store.schemaById(id).orElseThrow(() -> path.size() == 4
                && !path.get(3).equals("schema") ? ApiError.schemaNotFound() : ApiError.schemaNotFound(id));
        if (path.size() == 3) {
            ObjectNode body = JSON.createObjectNode();
            putSchemaType(body, stored.schemaType());
            body.put("schema", stored.schema());
            return ok(body);
        }
        List<RegisteredSchema> uses = store.usesOf(id, flag(query, "deleted"));
        switch (path.get(3)) {
            case "schema":
                return raw(stored.schema());
            case "subjects":
                // Only live versions count, unless ?deleted=true; a known id whose versions are all
                // soft-deleted answers an empty list.
                return ok(strings(uses.stream().map(RegisteredSchema::subject).distinct().toList()));
            case "versions": {
                ArrayNode versions = JSON.createArrayNode();
                for (RegisteredSchema use : uses) {
                    versions.addObject().put("subject", use.subject()).put("version", use.version());
                }
                return ok(versions);
            }
            default:
                throw ApiError.notFound();
        }
    }

    /**
     * POST /compatibility/subjects/{subject}/versions/{version} and (against every live version, as
     * the subject's level decides) POST /compatibility/subjects/{subject}/versions. Answers
     * {@code {"is_compatible": bool}}, with {@code "messages"} when {@code ?verbose=true}
     * (Confluent's CompatibilityResource and CompatibilityCheckResponse).
     */
    private Response compatibility(String method, List<String> path, Map<String, String> query, Request request) {
        if (path.size() < 4 || path.size() > 5 || !path.get(1).equals("subjects") || !path.get(3).equals("versions")) {
            throw ApiError.notFound();
        }
        requireMethod(method, "POST");
        String subject = path.get(2);
        String version = path.size() == 5 ? path.get(4) : null;
        if (version != null) {
            parseVersion(version);
        }
        SchemaRequest schema = schemaRequest(request);
        boolean verbose = flag(query, "verbose");
        List<String> reasons;
        try {
            reasons = store.incompatibilities(subject, version, schema.type(), schema.schema());
        } catch (ApiError e) {
            // An unparsable schema is reported as incompatible when verbose, else as 42201.
            if (!verbose || e.errorCode() != ApiError.INVALID_SCHEMA) {
                throw e;
            }
            reasons = List.of(e.getMessage());
        }
        ObjectNode body = JSON.createObjectNode();
        body.put("is_compatible", reasons.isEmpty());
        if (verbose) {
            body.set("messages", strings(reasons));
        }
        return ok(body);
    }

    /**
     * GET|PUT /config, GET|PUT|DELETE /config/{subject} (Confluent's ConfigResource): GET answers
     * {@code {"compatibilityLevel": L}}, PUT takes and echoes {@code {"compatibility": L}}, DELETE
     * answers the level it removed.
     */
    private Response config(String method, List<String> path, Map<String, String> query, Request request) {
        if (path.size() > 2) {
            throw ApiError.notFound();
        }
        String subject = path.size() == 2 ? path.get(1) : null;
        switch (method) {
            case "GET": {
                String level = subject == null ? store.compatibilityInScope(null)
                        : flag(query, "defaultToGlobal") ? store.compatibilityInScope(subject)
                        : store.compatibility(subject).orElseThrow(() -> ApiError.subjectCompatibilityNotConfigured(subject));
                return ok(JSON.createObjectNode().put("compatibilityLevel", level));
            }
            case "PUT": {
                requireValidSubject(subject);
                JsonNode level = jsonBody(request).get("compatibility");
                if (level == null || !level.isTextual()) {
                    throw ApiError.invalidCompatibilityLevel();
                }
                store.setCompatibility(subject, level.asText());
                // Confluent answers with the request as it came (ConfigResource returns the ConfigUpdateRequest).
                return ok(JSON.createObjectNode().put("compatibility", level.asText()));
            }
            case "DELETE": {
                if (subject == null) {
                    throw ApiError.methodNotAllowed();
                }
                // Confluent answers 40401 when the subject has no level of its own to delete.
                String previous = store.deleteCompatibility(subject).orElseThrow(() -> ApiError.subjectNotFound(subject));
                return ok(JSON.createObjectNode().put("compatibilityLevel", previous));
            }
            default:
                throw ApiError.methodNotAllowed();
        }
    }

    /** GET|PUT /mode, GET|PUT|DELETE /mode/{subject} (Confluent's ModeResource), {@code {"mode": M}}. */
    private Response mode(String method, List<String> path, Map<String, String> query, Request request) {
        if (path.size() > 2) {
            throw ApiError.notFound();
        }
        String subject = path.size() == 2 ? path.get(1) : null;
        switch (method) {
            case "GET": {
                String mode = subject == null ? store.modeInScope(null)
                        : flag(query, "defaultToGlobal") ? store.modeInScope(subject)
                        : store.mode(subject).orElseThrow(() -> ApiError.subjectModeNotConfigured(subject));
                return ok(JSON.createObjectNode().put("mode", mode));
            }
            case "PUT": {
                requireValidSubject(subject);
                JsonNode mode = jsonBody(request).get("mode");
                if (mode == null || !mode.isTextual()) {
                    throw ApiError.invalidMode(String.valueOf(mode));
                }
                store.setMode(subject, mode.asText());
                return ok(JSON.createObjectNode().put("mode", mode.asText()));
            }
            case "DELETE": {
                if (subject == null) {
                    throw ApiError.methodNotAllowed();
                }
                String previous = store.deleteMode(subject).orElseThrow(() -> ApiError.subjectNotFound(subject));
                return ok(JSON.createObjectNode().put("mode", previous));
            }
            default:
                throw ApiError.methodNotAllowed();
        }
    }

    /**
     * POST /subjects/{subject}/versions. Registering a schema a live version of the subject already
     * holds returns that version's id and creates nothing; an identical schema under another subject
     * keeps its id (Confluent API docs, "Register a new schema under the specified subject").
     */
    private Response register(String subject, Request request) {
        requireValidSubject(subject);
        SchemaRequest schema = schemaRequest(request);
        RegisteredSchema registered = store.register(subject, schema.type(), schema.schema());
        LOG.debug("Subject '{}' version {} has schema id {}", subject, registered.version(), registered.id());
        ObjectNode body = JSON.createObjectNode();
        body.put("id", registered.id());
        return ok(body);
    }

    /** POST /subjects/{subject}: which version of the subject holds this schema. */
    private Response lookup(String subject, boolean deleted, Request request) {
        SchemaRequest schema = schemaRequest(request);
        Optional<RegisteredSchema> registered = store.lookup(subject, schema.type(), schema.schema(), deleted);
        if (registered.isEmpty()) {
            if (store.versions(subject, deleted).isEmpty()) {
                throw ApiError.subjectNotFound(subject);
            }
            throw ApiError.schemaNotFound();
        }
        return ok(describe(registered.get(), true));
    }

    /**
     * {version} is a version number, "latest", or -1 (also latest); anything else is 42202. "latest"
     * is the highest live version even with ?deleted=true: KafkaSchemaRegistry.get answers -1 with
     * getLatestVersion, which skips deleted versions (then "Version -1 not found.").
     */
    private RegisteredSchema version(String subject, String versionText, boolean deleted) {
        int version = parseVersion(versionText);
        Optional<RegisteredSchema> found = version == LATEST ? store.latest(subject, false)
                : store.version(subject, version, deleted);
        return found.orElseThrow(() -> store.versions(subject, deleted).isEmpty() ? ApiError.subjectNotFound(subject)
                : ApiError.versionNotFound(version));
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

    private record SchemaRequest(String type, String schema) {
    }

    /**
     * The schema of a registration, lookup or compatibility body,
     * {@code {"schema": "...", "schemaType": "AVRO"}}; the store parses and canonicalises it.
     */
    private static SchemaRequest schemaRequest(Request request) {
        JsonNode body = jsonBody(request);
        JsonNode type = body.get("schemaType");
        String schemaType = type == null || type.isNull() ? AVRO : type.asText().toUpperCase(Locale.ROOT);
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
        return new SchemaRequest(schemaType, schemaNode.asText());
    }

    /** As Confluent's QualifiedSubject.isValidSubject: not empty, no control characters. */
    private static void requireValidSubject(String subject) {
        if (subject != null && (subject.isEmpty() || subject.chars().anyMatch(Character::isISOControl))) {
            throw ApiError.invalidSubject(subject);
        }
    }

    /** JAX-RS reads a boolean query parameter with Boolean.valueOf: "true" in any case, else false. */
    private static boolean flag(Map<String, String> query, String name) {
        return Boolean.parseBoolean(query.get(name));
    }

    static Map<String, String> query(String rawQuery) {
        Map<String, String> query = new HashMap<>();
        if (rawQuery == null || rawQuery.isEmpty()) {
            return query;
        }
        for (String pair : rawQuery.split("&")) {
            int eq = pair.indexOf('=');
            String name = URLDecoder.decode(eq < 0 ? pair : pair.substring(0, eq), StandardCharsets.UTF_8);
            String value = eq < 0 ? "" : URLDecoder.decode(pair.substring(eq + 1), StandardCharsets.UTF_8);
            query.putIfAbsent(name, value);
        }
        return query;
    }

    private static ArrayNode strings(List<String> values) {
        ArrayNode array = JSON.createArrayNode();
        values.forEach(array::add);
        return array;
    }

    private static ArrayNode integers(List<Integer> values) {
        ArrayNode array = JSON.createArrayNode();
        values.forEach(array::add);
        return array;
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

    static String abbreviate(String schema) {
        return schema.length() <= MAX_SCHEMA_IN_MESSAGE ? schema : schema.substring(0, MAX_SCHEMA_IN_MESSAGE) + "...";
    }
}

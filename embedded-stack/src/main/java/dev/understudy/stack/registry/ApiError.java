package dev.understudy.stack.registry;

/**
 * A request the registry refuses, answered as {@code {"error_code": errorCode, "message": message}}
 * with HTTP status {@code status}. Codes and messages follow the Confluent registry's
 * {@code io.confluent.kafka.schemaregistry.rest.exceptions.Errors}; plain HTTP errors (404 for an
 * unknown path, 405, 415) carry the HTTP status as error code, as Confluent's Jersey layer does.
 */
final class ApiError extends RuntimeException {
    private static final long serialVersionUID = 1L;

    static final int SUBJECT_NOT_FOUND = 40401;
    static final int VERSION_NOT_FOUND = 40402;
    static final int SCHEMA_NOT_FOUND = 40403;
    static final int INVALID_SCHEMA = 42201;
    static final int INVALID_VERSION = 42202;
    static final int INVALID_SUBJECT = 42208;
    static final int SCHEMA_TOO_LARGE = 42209;
    static final int STORE_ERROR = 50001;

    private final int status;
    private final int errorCode;

    ApiError(int status, int errorCode, String message) {
        super(message, null, false, false);
        this.status = status;
        this.errorCode = errorCode;
    }

    int status() {
        return status;
    }

    int errorCode() {
        return errorCode;
    }

    static ApiError subjectNotFound(String subject) {
        return new ApiError(404, SUBJECT_NOT_FOUND, "Subject '" + subject + "' not found.");
    }

    static ApiError versionNotFound(int version) {
        return new ApiError(404, VERSION_NOT_FOUND, "Version " + version + " not found.");
    }

    /** For a lookup of a schema under a subject (POST /subjects/{subject}). */
    static ApiError schemaNotFound() {
        return new ApiError(404, SCHEMA_NOT_FOUND, "Schema not found");
    }

    static ApiError schemaNotFound(int id) {
        return new ApiError(404, SCHEMA_NOT_FOUND, "Schema " + id + " not found");
    }

    static ApiError invalidSchema(String message) {
        return new ApiError(422, INVALID_SCHEMA, message);
    }

    static ApiError invalidVersion(String version) {
        return new ApiError(422, INVALID_VERSION, "The specified version '" + version + "' is not a valid version id."
                + " Allowed values are between [1, 2^31-1] and the string \"latest\"");
    }

    static ApiError invalidSubject(String subject) {
        return new ApiError(422, INVALID_SUBJECT, "The specified subject '" + subject + "' is not valid.");
    }

    static ApiError notFound() {
        return new ApiError(404, 404, "HTTP 404 Not Found");
    }

    static ApiError methodNotAllowed() {
        return new ApiError(405, 405, "HTTP 405 Method Not Allowed");
    }

    static ApiError unsupportedMediaType(String contentType) {
        return new ApiError(415, 415, "HTTP 415 Unsupported Media Type: '" + contentType + "'; send the body as "
                + SchemaRegistryApi.CONTENT_TYPE + " or application/json");
    }

    static ApiError badRequest(String message) {
        return new ApiError(400, 400, message);
    }
}

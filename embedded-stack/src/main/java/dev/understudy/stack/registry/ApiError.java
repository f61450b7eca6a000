package dev.understudy.stack.registry;

import java.util.List;

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
    static final int SUBJECT_SOFT_DELETED = 40404;
    static final int SUBJECT_NOT_SOFT_DELETED = 40405;
    static final int VERSION_SOFT_DELETED = 40406;
    static final int VERSION_NOT_SOFT_DELETED = 40407;
    static final int SUBJECT_COMPATIBILITY_NOT_CONFIGURED = 40408;
    static final int SUBJECT_MODE_NOT_CONFIGURED = 40409;
    /**
     * Confluent Platform up to 7.x answers an incompatible schema with error code 409, the HTTP status
     * ({@code RestIncompatibleSchemaException.DEFAULT_ERROR_CODE}); 8.x introduced 40901.
     */
    static final int INCOMPATIBLE_SCHEMA = 409;
    static final int INVALID_SCHEMA = 42201;
    static final int INVALID_VERSION = 42202;
    static final int INVALID_COMPATIBILITY_LEVEL = 42203;
    static final int INVALID_MODE = 42204;
    static final int OPERATION_NOT_PERMITTED = 42205;
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

    static ApiError subjectSoftDeleted(String subject) {
        // Confluent's message, missing space included (Errors.SUBJECT_SOFT_DELETED_MESSAGE_FORMAT).
        return new ApiError(404, SUBJECT_SOFT_DELETED, "Subject '" + subject + "' was soft deleted.Set permanent=true to delete permanently");
    }

    static ApiError subjectNotSoftDeleted(String subject) {
        return new ApiError(404, SUBJECT_NOT_SOFT_DELETED, "Subject '" + subject + "' was not deleted first before being permanently deleted");
    }

    static ApiError versionSoftDeleted(String subject, String version) {
        return new ApiError(404, VERSION_SOFT_DELETED, "Subject '" + subject + "' Version " + version
                + " was soft deleted.Set permanent=true to delete permanently");
    }

    static ApiError versionNotSoftDeleted(String subject, String version) {
        return new ApiError(404, VERSION_NOT_SOFT_DELETED, "Subject '" + subject + "' Version " + version
                + " was not deleted first before being permanently deleted");
    }

    static ApiError subjectCompatibilityNotConfigured(String subject) {
        return new ApiError(404, SUBJECT_COMPATIBILITY_NOT_CONFIGURED, "Subject '" + subject
                + "' does not have subject-level compatibility configured");
    }

    static ApiError subjectModeNotConfigured(String subject) {
        return new ApiError(404, SUBJECT_MODE_NOT_CONFIGURED, "Subject '" + subject + "' does not have subject-level mode configured");
    }

    /** As SubjectVersionsResource.register words it, with the checker's reasons as details. */
    static ApiError incompatibleSchema(String subject, List<String> reasons) {
        return new ApiError(409, INCOMPATIBLE_SCHEMA, "Schema being registered is incompatible with an earlier schema for subject \""
                + subject + "\", details: " + reasons);
    }

    static ApiError invalidCompatibilityLevel() {
        return new ApiError(422, INVALID_COMPATIBILITY_LEVEL, "Invalid compatibility level. Valid values are none, backward,"
                + " forward, full, backward_transitive, forward_transitive, and full_transitive");
    }

    static ApiError invalidMode(String mode) {
        return new ApiError(422, INVALID_MODE, "Invalid mode. Valid values are READWRITE and READONLY (got '" + mode
                + "'; this registry does not implement IMPORT or READONLY_OVERRIDE)");
    }

    /** A write to a subject in READONLY mode (Confluent: "Subject x is in read-only mode"). */
    static ApiError readOnly(String subject) {
        return new ApiError(422, OPERATION_NOT_PERMITTED, "Subject " + subject + " is in read-only mode");
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

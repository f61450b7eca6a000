package dev.understudy.schemas;

/** The registry refused a request or could not be reached; the message names the URL, subject or id. */
public class RegistryException extends RuntimeException {
    private final int httpStatus;
    private final int errorCode;

    public RegistryException(String message, int httpStatus, int errorCode, Throwable cause) {
        super(message, cause);
        this.httpStatus = httpStatus;
        this.errorCode = errorCode;
    }

    /** HTTP status, or -1 when the registry could not be reached. */
    public int httpStatus() {
        return httpStatus;
    }

    /** Confluent error code from the response body (e.g. 40401 subject not found), or -1. */
    public int errorCode() {
        return errorCode;
    }
}

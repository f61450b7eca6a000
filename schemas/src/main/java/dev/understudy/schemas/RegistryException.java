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

    /**
     * The one rule, for every stage, of whether a registry failure is the registry's trouble rather
     * than the record's. Only 404 is the record's: it names a schema id or subject that does not exist
     * (Confluent error codes 40401-40403), and asking again will not change that, so the record is
     * dead-lettered. Anything else (no answer, 429 throttling, 5xx, and 401/403 credentials) fails the
     * same way for every record until the registry or its configuration is fixed: the stage must stop
     * or retry without committing, instead of dead-lettering every record that arrives meanwhile.
     */
    public boolean isTransient() {
        return httpStatus != 404;
    }

    /** The transient registry failure among {@code error} and its causes, or null when there is none. */
    public static RegistryException transientCause(Throwable error) {
        for (Throwable t = error; t != null; t = t.getCause()) {
            if (t instanceof RegistryException r) {
                return r.isTransient() ? r : null;
            }
            if (t.getCause() == t) {
                break;
            }
        }
        return null;
    }
}

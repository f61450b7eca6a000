package dev.understudy.stack.registry;

/**
 * The store could not read or write its state. Answered as HTTP 500 with error code 50001, as the
 * Confluent registry does for failures of its backing store.
 */
public class SchemaStoreException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public SchemaStoreException(String message, Throwable cause) {
        super(message, cause);
    }

    public SchemaStoreException(String message) {
        super(message);
    }
}

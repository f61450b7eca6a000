package dev.understudy.transform.spec;

/**
 * A {@code cast} with {@code onFailure: dead-letter} could not convert a value. The migration
 * processor dead-letters every non-transient RuntimeException a mapping throws, so this record
 * goes to the dead-letter topic with its original bytes and the stream goes on.
 */
public final class CastFailedException extends IllegalArgumentException {
    public CastFailedException(String message) {
        super(message);
    }
}

package dev.understudy.transform;

/**
 * A mapping failure that must stop the migration rather than dead-letter the record, e.g. a
 * {@code cast} with {@code onFailure: fail}. The migration processor rethrows it with the record's
 * coordinates, which fails the stream task; the record's offset is not committed, so after the
 * mapping is fixed the application resumes at that record.
 */
public class FatalMappingException extends RuntimeException {
    public FatalMappingException(String message) {
        super(message);
    }
}

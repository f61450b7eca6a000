package dev.understudy.writer;

/**
 * The records of a topic do not fit the target table (a field without a column, a key that is not
 * the primary key, a missing table). This is a deployment error, not a bad record: the writer stops
 * rather than dead-letter every row, and the message says what to change.
 */
public class TableMappingException extends RuntimeException {
    public TableMappingException(String message) {
        super(message);
    }
}

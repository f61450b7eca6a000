package dev.understudy.transform;

/**
 * Headers on records routed to the dead-letter topic ({@link dev.understudy.schemas.Topics#deadLetter}).
 * The names and encodings are those Kafka Streams itself uses for its dead-letter records (KIP-1034,
 * {@code errors.dead.letter.queue.topic.name}), so one consumer can read records dead-lettered by
 * these topologies and by Kafka Streams' own exception handlers alike. Every value is UTF-8 text.
 * The record's key and value are the original bytes, untouched, and its original headers are kept
 * ahead of these, so that once the cause is fixed the record can be re-produced to the topic named
 * in {@link #TOPIC} as it was.
 */
public final class DeadLetterHeaders {
    /** Class name of the exception that stopped the record. */
    public static final String EXCEPTION = "__streams.errors.exception";
    /** Message of that exception: what was wrong with the record. */
    public static final String MESSAGE = "__streams.errors.message";
    /** Stack trace of that exception. */
    public static final String STACKTRACE = "__streams.errors.stacktrace";
    /** Topic the record was read from. */
    public static final String TOPIC = "__streams.errors.topic";
    /** Partition the record was read from, as decimal text. */
    public static final String PARTITION = "__streams.errors.partition";
    /** Offset of the record in that partition, as decimal text. */
    public static final String OFFSET = "__streams.errors.offset";

    private DeadLetterHeaders() {
    }
}

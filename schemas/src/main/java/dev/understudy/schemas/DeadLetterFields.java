package dev.understudy.schemas;

/**
 * Header names of the pipeline's own dead letters ({@link Topics#deadLetter}), written by the writer
 * for changes the target refused and by the capture for changes it could not convert, so that one
 * reader ({@code understudy dlq}) lists both. Values are UTF-8 text. The migration's Kafka Streams
 * stages use Kafka Streams' {@code __streams.errors.*} names instead (transform's
 * {@code DeadLetterHeaders}).
 */
public final class DeadLetterFields {
    /** The topic the change was read from, or (capture) the legacy topic it was bound for. */
    public static final String TOPIC = "understudy.dlq.topic";
    /** Its partition there; -1 when it never reached that topic (capture). */
    public static final String PARTITION = "understudy.dlq.partition";
    /** Its offset there; -1 when it never reached that topic (capture). */
    public static final String OFFSET = "understudy.dlq.offset";
    /** The source LSN of the change. */
    public static final String LSN = "understudy.dlq.lsn";
    /** The change's ordering version (writer). */
    public static final String VERSION = "understudy.dlq.version";
    /** The schema-qualified table: the target table (writer) or the legacy table (capture). */
    public static final String TABLE = "understudy.dlq.table";
    /** The row's primary key as JSON. */
    public static final String KEY = "understudy.dlq.key";
    /** The column whose value could not be carried, when one is to blame (capture). */
    public static final String COLUMN = "understudy.dlq.column";
    /** The stage that dead-lettered the change: {@code capture} or {@code writer} (absent on older writer letters). */
    public static final String STAGE = "understudy.dlq.stage";
    /** The SQLSTATE of the target's refusal (writer). */
    public static final String SQLSTATE = "understudy.dlq.sqlstate";
    /** The error, with what to do about it. */
    public static final String ERROR = "understudy.dlq.error";
    /** When it was dead-lettered, epoch milliseconds. */
    public static final String FAILED_AT_MS = "understudy.dlq.failed_at_ms";

    private DeadLetterFields() {
    }
}

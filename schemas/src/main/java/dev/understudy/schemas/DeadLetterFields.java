package dev.understudy.schemas;

import org.apache.kafka.common.header.Headers;

import java.nio.charset.StandardCharsets;

/**
 * The one vocabulary of dead-letter headers ({@link Topics#deadLetter}), whichever stage wrote the
 * letter: the capture for changes it could not convert, the transform for records it could not
 * migrate or compare, the writer for changes the target refused; one reader ({@code understudy dlq})
 * lists them all. Values are UTF-8 text. The record's key and value are the original bytes and its
 * original headers come first, so that once the cause is fixed it can be re-produced as it was.
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
    /** The stage that dead-lettered the change: {@link #CAPTURE}, {@link #TRANSFORM} or {@link #WRITER} (absent on older writer letters). */
    public static final String STAGE = "understudy.dlq.stage";
    /** Class name of the exception that stopped the record (transform). */
    public static final String EXCEPTION = "understudy.dlq.exception";
    /** Its stack trace (transform). */
    public static final String STACKTRACE = "understudy.dlq.stacktrace";
    /** The SQLSTATE of the target's refusal (writer). */
    public static final String SQLSTATE = "understudy.dlq.sqlstate";
    /** The error, with what to do about it. */
    public static final String ERROR = "understudy.dlq.error";
    /** When it was dead-lettered, epoch milliseconds. */
    public static final String FAILED_AT_MS = "understudy.dlq.failed_at_ms";

    /** {@link #STAGE} of letters written by the capture. */
    public static final String CAPTURE = "capture";
    /** {@link #STAGE} of letters written by the transform's topologies. */
    public static final String TRANSFORM = "transform";
    /** {@link #STAGE} of letters written by the writer. */
    public static final String WRITER = "writer";

    private DeadLetterFields() {
    }

    /**
     * Adds a letter's fields to {@code headers}, the one place they are written: each stage says
     * what it knows, and what it does not know (null) is left out.
     */
    public static Writer onto(Headers headers, String stage) {
        return new Writer(headers).put(STAGE, stage);
    }

    /** Writes the fields of one letter; see {@link #onto}. */
    public static final class Writer {
        private final Headers headers;

        private Writer(Headers headers) {
            this.headers = headers;
        }

        /** Where the change was read from (or, for the capture, bound for), -1 when it never reached the topic. */
        public Writer origin(String topic, int partition, long offset) {
            return put(TOPIC, topic).put(PARTITION, Integer.toString(partition)).put(OFFSET, Long.toString(offset));
        }

        public Writer table(String table) {
            return put(TABLE, table);
        }

        public Writer key(String keyJson) {
            return put(KEY, keyJson);
        }

        public Writer lsn(Long lsn) {
            return put(LSN, lsn == null ? null : lsn.toString());
        }

        public Writer version(Long version) {
            return put(VERSION, version == null ? null : version.toString());
        }

        public Writer column(String column) {
            return put(COLUMN, column);
        }

        public Writer sqlState(String sqlState) {
            return put(SQLSTATE, sqlState);
        }

        public Writer error(String error) {
            return put(ERROR, error);
        }

        /** The exception's class name and stack trace (its message goes in {@link #error}). */
        public Writer exception(String className, String stackTrace) {
            return put(EXCEPTION, className).put(STACKTRACE, stackTrace);
        }

        public Writer failedAt(long epochMillis) {
            return put(FAILED_AT_MS, Long.toString(epochMillis));
        }

        private Writer put(String name, String value) {
            if (value != null) {
                headers.add(name, value.getBytes(StandardCharsets.UTF_8));
            }
            return this;
        }
    }
}

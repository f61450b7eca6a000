package dev.understudy.transform.internals;

import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.schemas.RegistryException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.processor.api.RecordMetadata;
import org.slf4j.Logger;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.util.Optional;

/** Builds dead-letter records and decides which failures are the record's fault. */
public final class DeadLetters {
    private DeadLetters() {
    }

    /**
     * The record to write to the dead-letter topic: the original key and value bytes and headers,
     * plus {@link DeadLetterFields} naming the stage, where it came from and why it was stopped.
     */
    public static Record<Object, Object> record(Record<?, byte[]> input, byte[] rawKey, Where where, Exception error) {
        // Copy: the input's Headers object is shared with the record being processed, and the
        // Processor API forwards exactly the headers object it is given.
        Headers headers = new RecordHeaders(input.headers().toArray());
        headers.remove(ToastFillProcessor.PRIOR_ROW); // internal to the topology, not part of the record
        DeadLetterFields.onto(headers, DeadLetterFields.TRANSFORM)
                .origin(where.topic(), where.partition(), where.offset())
                .error(String.valueOf(error.getMessage()))
                .exception(error.getClass().getName(), stackTrace(error))
                .failedAt(System.currentTimeMillis());
        return new Record<>(rawKey, input.value(), input.timestamp(), headers);
    }

    /** Logs a dead-lettered record with its coordinates and what to do about it. */
    public static void log(Logger log, String stage, Where where, String deadLetterTopic, Exception error) {
        log.error("{}: record at {} was written to dead-letter topic '{}' with its original bytes (its "
                        + "understudy.dlq.* headers name the cause); fix the record's producer or the table mapping, then re-produce it to '{}'. Cause: {}",
                stage, where, deadLetterTopic, where.topic(), error.getMessage(), error);
    }

    /**
     * Whether a failure is transient infrastructure trouble rather than a bad record
     * ({@link RegistryException#isTransient()}, the rule every stage shares). Such a failure must fail
     * the task (so its offsets are not committed and the record is reprocessed after a restart) instead
     * of dead-lettering every record that arrives during an outage.
     */
    public static boolean isTransient(Throwable error) {
        return RegistryException.transientCause(error) != null;
    }

    /** A transient failure, rethrown with the record's coordinates and the fix. */
    public static StreamsException transientFailure(String stage, Where where, RuntimeException error) {
        return new StreamsException(stage + ": cannot process the record at " + where + " because the schema registry failed: "
                + error.getMessage() + ". Check that the registry is reachable; the record's offset was not committed, "
                + "so it is processed again once the application restarts.", error);
    }

    private static String stackTrace(Throwable t) {
        StringWriter sw = new StringWriter();
        t.printStackTrace(new PrintWriter(sw));
        return sw.toString();
    }

    /** Where a record came from; {@code partition}/{@code offset} are -1 when not known. */
    public record Where(String topic, int partition, long offset) {
        public static Where of(Optional<RecordMetadata> metadata, String fallbackTopic) {
            return metadata.map(m -> new Where(m.topic(), m.partition(), m.offset()))
                    .orElseGet(() -> new Where(fallbackTopic, -1, -1L));
        }

        @Override
        public String toString() {
            return "topic '" + topic + "' partition " + partition + " offset " + offset;
        }
    }
}

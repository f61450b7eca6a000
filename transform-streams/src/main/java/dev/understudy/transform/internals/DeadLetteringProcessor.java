package dev.understudy.transform.internals;

import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The one way a processor of the transform gives up on a record: a transient failure (the schema
 * registry, {@link DeadLetters#isTransient}) fails the task, so the record's offset is not committed
 * and it is processed again after a restart; any other failure is the record's, which goes to the
 * dead-letter sink with its original bytes and coordinates, and the stream goes on. Kafka Streams'
 * own handlers (KIP-1033/1034) make the same split between "fail" and "continue after a DLQ record".
 */
public abstract class DeadLetteringProcessor<KIn, VIn> implements Processor<KIn, VIn, Object, Object> {
    private final Logger log = LoggerFactory.getLogger(getClass());
    /** Names the processor in messages: what it does to which table. */
    protected final String stage;
    private final String deadLetterTopic;
    private final String deadLetterSink;
    protected ProcessorContext<Object, Object> context;

    protected DeadLetteringProcessor(String stage, String deadLetterTopic, String deadLetterSink) {
        this.stage = stage;
        this.deadLetterTopic = deadLetterTopic;
        this.deadLetterSink = deadLetterSink;
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.context = context;
    }

    /**
     * Fails the task on a transient {@code error}; otherwise dead-letters {@code record} (whose key
     * bytes are {@code rawKey}) read at {@code where}.
     */
    protected final void deadLetter(Record<?, byte[]> record, byte[] rawKey, DeadLetters.Where where, RuntimeException error) {
        failIfTransient(where, error);
        deadLetterRecord(record, rawKey, where, error);
    }

    /** Fails the task, naming the record at {@code where}, when {@code error} is transient. */
    protected final void failIfTransient(DeadLetters.Where where, RuntimeException error) {
        if (DeadLetters.isTransient(error)) {
            throw DeadLetters.transientFailure(stage, where, error);
        }
    }

    /** Dead-letters {@code record} for an {@code error} known to be the record's own (no transient cause to look for). */
    protected final void deadLetterRecord(Record<?, byte[]> record, byte[] rawKey, DeadLetters.Where where, Exception error) {
        DeadLetters.log(log, stage, where, deadLetterTopic, error);
        context.forward(DeadLetters.record(record, rawKey, where, error), deadLetterSink);
    }
}

package dev.understudy.transform.internals;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.RegistryClient;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns the results of a foreign-key join into records of the new-schema topic, with the same
 * {@link ChangeHeaders} as the single-table path, keyed by the target key serialized for that topic.
 *
 * <p>A store keeps, per driving row (legacy key), the target key it was last emitted under, that
 * record's version and whether it was a tombstone. It runs on the join result's task: a KIP-213
 * join's response is processed in the driving table's partition of the key. The store gives:
 * <ul>
 *   <li>the target key of a driving delete, whose row image may carry only the legacy key;</li>
 *   <li>a tombstone for the old target key when a driving row's target key changes;</li>
 *   <li>no tombstone for a key that has no row (never emitted, or last emitted as a tombstone): a
 *   version-0 tombstone for an order read before its customer would otherwise make the writer drop
 *   that order's version-0 row a moment later;</li>
 *   <li>versions the writer can use. It applies a change only when its version is strictly greater
 *   than the one it applied last for the key. The join's {@code max(driving, joined)} does not always
 *   grow: the two legacy topics are consumed independently, so a driving change with a lower LSN
 *   can be joined after a joined-row change with a higher one, giving the same maximum again (or,
 *   for a driving delete, a lower one), and the writer would drop the newer state. Such a version
 *   is raised to one above the last: still monotone, and never below the LSN of any change the
 *   result reflects. Snapshot-only results (version 0) stay 0, as on the single-table path, so that
 *   a re-read snapshot stays stale for the writer.</li>
 * </ul>
 */
public final class JoinEmitter implements Processor<String, JoinChange, Object, Object> {
    private static final Logger log = LoggerFactory.getLogger(JoinEmitter.class);

    private final String storeName;
    private final String drivingTopic;
    private final String newTopic;
    private final String deadLetterTopic;
    private final String rowSink;
    private final String deadLetterSink;
    private final Serializer<GenericRecord> keys;
    private final String stage;
    private final long generation;
    private ProcessorContext<Object, Object> context;
    private KeyValueStore<String, byte[]> emitted;

    public JoinEmitter(String targetTable, RegistryClient registry, String storeName, String drivingTopic, String newTopic,
                       String deadLetterTopic, String rowSink, String deadLetterSink) {
        this(targetTable, registry, storeName, drivingTopic, newTopic, deadLetterTopic, rowSink, deadLetterSink, 0L);
    }

    /** @param generation the spec generation stamped on every output row ({@link ChangeHeaders#GENERATION}) */
    public JoinEmitter(String targetTable, RegistryClient registry, String storeName, String drivingTopic, String newTopic,
                       String deadLetterTopic, String rowSink, String deadLetterSink, long generation) {
        this.generation = generation;
        this.storeName = storeName;
        this.drivingTopic = drivingTopic;
        this.newTopic = newTopic;
        this.deadLetterTopic = deadLetterTopic;
        this.rowSink = rowSink;
        this.deadLetterSink = deadLetterSink;
        this.keys = AvroSerde.keys(registry).serializer();
        this.stage = "Join of " + targetTable;
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        this.context = context;
        this.emitted = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<String, JoinChange> record) {
        JoinChange change = record.value();
        if (change == null) {
            // A join result without a driving row: driving rows never leave the table (deletes stay
            // as markers), so there is nothing to emit.
            return;
        }
        if (change.error() != null) {
            DeadLetters.Where where = new DeadLetters.Where(drivingTopic, -1, -1L);
            DeadLetters.log(log, stage, where, deadLetterTopic, change.error());
            byte[] key = record.key().getBytes(StandardCharsets.UTF_8);
            Record<byte[], byte[]> original = new Record<>(key, change.drivingEnvelope(), record.timestamp(), new RecordHeaders());
            context.forward(DeadLetters.record(original, key, where, change.error()), deadLetterSink);
            return;
        }
        Last last = Last.of(emitted.get(record.key()));
        long version = change.version();
        if (last != null && version > 0 && version <= last.version) {
            version = last.version + 1;
        }
        if (change.row() == null) {
            if (last == null || last.tombstone) {
                return;
            }
            emit(record, last.targetKey, null, version, change, ChangeEnvelope.OP_DELETE);
            emitted.put(record.key(), Last.encode(last.targetKey, version, true));
            return;
        }
        byte[] targetKey = keys.serialize(newTopic, change.targetKey());
        if (last != null && !last.tombstone && !Arrays.equals(last.targetKey, targetKey)) {
            // The driving row's target key changed: its row under the old key is gone.
            emit(record, last.targetKey, null, version, change, ChangeEnvelope.OP_DELETE);
        }
        emit(record, targetKey, change.row(), version, change, change.op());
        emitted.put(record.key(), Last.encode(targetKey, version, false));
    }

    private void emit(Record<String, JoinChange> record, byte[] targetKey, GenericRecord row, long version, JoinChange change, String op) {
        Headers headers = new RecordHeaders();
        headers.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(version));
        headers.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(change.lsn()));
        headers.add(ChangeHeaders.GENERATION, ChangeHeaders.encodeLong(generation));
        if (change.txId() != null) {
            headers.add(ChangeHeaders.TX_ID, ChangeHeaders.encodeLong(change.txId()));
        }
        if (change.commitOrder() != null) {
            headers.add(ChangeHeaders.COMMIT_ORDER, ChangeHeaders.encodeLong(change.commitOrder()));
        }
        headers.add(ChangeHeaders.OP, op.getBytes(StandardCharsets.UTF_8));
        context.forward(new Record<Object, Object>(targetKey, row, record.timestamp(), headers), rowSink);
    }

    /** What was emitted last for a driving row: {@code version (8) | tombstone (1) | target key bytes}. */
    private record Last(byte[] targetKey, long version, boolean tombstone) {
        static Last of(byte[] stored) {
            if (stored == null) {
                return null;
            }
            ByteBuffer b = ByteBuffer.wrap(stored);
            long version = b.getLong();
            boolean tombstone = b.get() == 1;
            byte[] key = new byte[b.remaining()];
            b.get(key);
            return new Last(key, version, tombstone);
        }

        static byte[] encode(byte[] targetKey, long version, boolean tombstone) {
            return ByteBuffer.allocate(Long.BYTES + 1 + targetKey.length).putLong(version).put((byte) (tombstone ? 1 : 0)).put(targetKey).array();
        }
    }
}

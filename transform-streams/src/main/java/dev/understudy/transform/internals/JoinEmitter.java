package dev.understudy.transform.internals;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.RegistryClient;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

/**
 * Turns the results of a foreign-key join into records of the new-schema topic, with the same
 * {@link ChangeHeaders} as the single-table path, keyed by the target key serialized for that topic.
 *
 * <p>It emits rows, and tombstones for a driving row that keeps its target key but loses its
 * target row (its joined row is gone, its foreign key turned null, or it left the filter). The key
 * a driving row leaves (a new target key, or a delete) is not its business: the driving side's
 * input sends those tombstones, as only it sees every driving change ({@link JoinInputProcessor}).
 *
 * <p>A store keeps, per driving row (legacy key), the target key it was last emitted under and
 * whether that was a tombstone. It runs on the join result's task: a KIP-213 join's response is
 * processed in the driving table's partition of the key. The store gives no tombstone for a key
 * that has no row from this driving row (never emitted, last emitted as a tombstone, or emitted
 * under another key): a version-0 tombstone for an order read before its customer would otherwise
 * make the writer drop that order's version-0 row a moment later.
 *
 * <p>Versions are the result's two ({@link JoinChange}): the driving row's, then the joined row's.
 * Per driving row they never decrease: the join answers for the driving row's current value only,
 * and a joined row's changes reach it in their order.
 */
public final class JoinEmitter extends DeadLetteringProcessor<String, JoinChange> {
    private final String storeName;
    private final String drivingTopic;
    private final String newTopic;
    private final String rowSink;
    private final Serializer<GenericRecord> keys;
    private final ChangeHeaders.Stamp stamp;
    private KeyValueStore<String, byte[]> emitted;

    public JoinEmitter(String targetTable, RegistryClient registry, String storeName, String drivingTopic, String newTopic,
                       String deadLetterTopic, String rowSink, String deadLetterSink) {
        this(targetTable, registry, storeName, drivingTopic, newTopic, deadLetterTopic, rowSink, deadLetterSink, ChangeHeaders.Stamp.NONE);
    }

    /** @param stamp the generation and the target's lineage stamped on every output row ({@link ChangeHeaders.Stamp}) */
    public JoinEmitter(String targetTable, RegistryClient registry, String storeName, String drivingTopic, String newTopic,
                       String deadLetterTopic, String rowSink, String deadLetterSink, ChangeHeaders.Stamp stamp) {
        super("Join of " + targetTable, deadLetterTopic, deadLetterSink);
        this.stamp = stamp;
        this.storeName = storeName;
        this.drivingTopic = drivingTopic;
        this.newTopic = newTopic;
        this.rowSink = rowSink;
        this.keys = AvroSerde.keys(registry).serializer();
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        super.init(context);
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
            byte[] key = record.key().getBytes(StandardCharsets.UTF_8);
            Record<byte[], byte[]> original = new Record<>(key, change.drivingEnvelope(), record.timestamp(), new RecordHeaders());
            deadLetterRecord(original, key, where, change.error());
            return;
        }
        Last last = Last.of(emitted.get(record.key()));
        if (change.targetKey() == null) {
            // The driving row is deleted: the driving side sent the tombstone of its key.
            if (last != null && !last.tombstone) {
                emitted.put(record.key(), Last.encode(last.targetKey, true));
            }
            return;
        }
        byte[] targetKey = keys.serialize(newTopic, change.targetKey());
        if (change.row() == null) {
            if (last == null || last.tombstone || !Arrays.equals(last.targetKey, targetKey)) {
                return;
            }
            emit(record, targetKey, null, change, ChangeEnvelope.OP_DELETE);
            emitted.put(record.key(), Last.encode(targetKey, true));
            return;
        }
        emit(record, targetKey, change.row(), change, change.op());
        emitted.put(record.key(), Last.encode(targetKey, false));
    }

    private void emit(Record<String, JoinChange> record, byte[] targetKey, GenericRecord row, JoinChange change, String op) {
        context.forward(new Record<Object, Object>(targetKey, row, record.timestamp(), ChangeHeaders.forRow(change.version(),
                change.joinedVersion(), change.lsn(), stamp, change.txId(), change.commitOrder(), op)), rowSink);
    }

    /**
     * What was emitted last for a driving row: {@code 8 unused bytes | tombstone (1) | target key bytes}.
     * The first eight bytes once held a version that ordered the emitter's own tombstones; they stay
     * so that stores written then still read.
     */
    private record Last(byte[] targetKey, boolean tombstone) {
        static Last of(byte[] stored) {
            if (stored == null) {
                return null;
            }
            ByteBuffer b = ByteBuffer.wrap(stored, Long.BYTES, stored.length - Long.BYTES);
            boolean tombstone = b.get() == 1;
            byte[] key = new byte[b.remaining()];
            b.get(key);
            return new Last(key, tombstone);
        }

        static byte[] encode(byte[] targetKey, boolean tombstone) {
            return ByteBuffer.allocate(Long.BYTES + 1 + targetKey.length).putLong(0L).put((byte) (tombstone ? 1 : 0)).put(targetKey).array();
        }
    }
}

package dev.understudy.transform.internals;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.transform.ToastPlaceholders;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;

/**
 * Replaces Debezium's placeholders for unchanged TOASTed values with the row's prior values, for
 * one legacy table, before any reader of the table sees the change.
 *
 * <p>Why: PostgreSQL stores large values (text, bytea, jsonb, arrays over about 2 KB after
 * compression) out of line ("TOAST"). An UPDATE that leaves such a value unchanged does not log it
 * unless the column is part of the replica identity (REPLICA IDENTITY FULL); pgoutput then sends the
 * column as kind 'u' (unchanged TOAST datum) and Debezium's PostgreSQL connector puts its
 * {@code unavailable.value.placeholder} in the {@code after} image instead
 * ({@code io.debezium.connector.postgresql.UnchangedToastedPlaceholder}). The capture passes that value
 * through, so without this step the target would receive the placeholder as the column's value.
 *
 * <p>How: the store {@code storeName} holds, per legacy key (as {@link KeyJson#encode}), the last
 * complete envelope of the row (after filling): written on every create, update and snapshot read,
 * replaced by a marker on delete; and the highest LSN of a streamed change of the row, so that a
 * change the capture delivers again after a restart, older than one already handled, is dropped
 * here rather than passed on as the row's newest state. The store is persistent and changelogged, so it survives restarts and
 * rebalances; legacy topics are partitioned by the legacy key, so a key's history is always in the
 * same task's store. An update whose placeholders cannot be filled (no prior row for the key, e.g.
 * the row was captured before the store existed, or the prior row has no value for the column) is
 * dead-lettered: guessing would write a wrong value to the target. That includes an UPDATE that
 * changes the primary key and leaves a TOASTed value unchanged: Debezium emits it as a delete of the
 * old key and a create of the new key (possibly in another partition, so another task's store), and
 * the create's placeholder has no prior row under the new key.
 *
 * <p>The same store tells the readers what the row looked like before the change: every change of a
 * row with a stored prior image is forwarded with that image's envelope bytes in the
 * {@link #PRIOR_ROW} header. PostgreSQL logs only the replica identity in an update's or delete's
 * old image (docs, "ALTER TABLE ... REPLICA IDENTITY"), so with the default identity an update of a
 * non-key column that a target is keyed by does not say which target key the row had; the readers
 * need it to delete the row under the key it leaves ({@link LeftTargetKeys}). The header exists only
 * between processors of this sub-topology: readers build fresh headers for what they produce.
 *
 * <p>Records that cannot be decoded or that are not well-formed changes are passed on unchanged:
 * the readers of the table dead-letter them with their own, more specific messages. Filled records
 * are re-serialized with the writer schema they were read with.
 */
public final class ToastFillProcessor extends DeadLetteringProcessor<byte[], byte[]> {
    private static final Logger log = LoggerFactory.getLogger(ToastFillProcessor.class);
    /** Header holding the envelope bytes of the row's prior image, for the readers of this processor only. */
    public static final String PRIOR_ROW = "understudy.internal.prior-row";

    private final String table;
    private final String storeName;
    private final String legacyTopic;
    private final String filledChild;
    private final Deserializer<GenericRecord> keys;
    private final Deserializer<GenericRecord> values;
    private final Serializer<GenericRecord> valueSerializer;
    private KeyValueStore<String, byte[]> store;

    public ToastFillProcessor(String table, String storeName, RegistryClient registry, String legacyTopic, String deadLetterTopic,
                              String filledChild, String deadLetterSink) {
        super("Filling unchanged TOAST values of " + table, deadLetterTopic, deadLetterSink);
        this.table = table;
        this.storeName = storeName;
        this.legacyTopic = legacyTopic;
        this.filledChild = filledChild;
        this.keys = AvroSerde.keys(registry).deserializer();
        this.values = AvroSerde.values(registry).deserializer();
        this.valueSerializer = AvroSerde.values(registry).serializer();
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        super.init(context);
        this.store = context.getStateStore(storeName);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        if (record.value() == null) {
            // Debezium's tombstone after a delete: the delete event already removed the prior row.
            context.forward(record, filledChild);
            return;
        }
        DeadLetters.Where where = DeadLetters.Where.of(context.recordMetadata(), legacyTopic);
        GenericRecord legacyKey;
        GenericRecord envelope;
        String op;
        Long lsn;
        boolean snapshot;
        try {
            legacyKey = record.key() == null ? null : keys.deserialize(where.topic(), record.key());
            envelope = values.deserialize(where.topic(), record.value());
            op = Envelopes.op(envelope);
            lsn = Envelopes.sourceOptionalLong(Envelopes.source(envelope), "lsn");
            snapshot = Envelopes.sourceFlag(Envelopes.source(envelope), "snapshot");
        } catch (RuntimeException e) {
            failIfTransient(where, e);
            context.forward(record, filledChild); // the readers dead-letter it
            return;
        }
        String storeKey = legacyKey == null ? null : KeyJson.encode(legacyKey);
        Stored stored = storeKey == null ? null : Stored.decode(store.get(storeKey));
        byte[] priorBytes = stored == null ? null : stored.row();
        if (!snapshot && lsn != null && stored != null && lsn < stored.streamedLsn()) {
            // A streamed change older than one already seen for this row: the capture delivers at
            // least once, and after a restart Debezium re-sends from its last flushed offset, so a
            // row's update can arrive again after the row's delete. For one row, streamed LSNs grow
            // in commit order (ChangeHeaders.VERSION), so it is a replay whose original was handled;
            // passing it on would bring a deleted row's image back as the prior row, or dead-letter
            // an update whose unchanged TOAST value has no prior row any more.
            log.debug("{}: skipped the replayed change at {} (LSN {}, a change at LSN {} was seen for key {})", stage, where, lsn,
                    stored.streamedLsn(), storeKey);
            return;
        }
        long streamedLsn = Math.max(stored == null ? -1L : stored.streamedLsn(), snapshot || lsn == null ? -1L : lsn);
        if (ChangeEnvelope.OP_DELETE.equals(op)) {
            if (storeKey != null) {
                // A marker, not a removal: it remembers the delete's LSN for the check above.
                store.put(storeKey, new Stored(streamedLsn, null).encode());
            }
            context.forward(withPrior(record, priorBytes), filledChild);
            return;
        }
        GenericRecord after = Envelopes.isUpsert(op) ? Envelopes.after(envelope) : null;
        if (after == null) {
            context.forward(record, filledChild); // malformed: the readers dead-letter it
            return;
        }
        Record<byte[], byte[]> out = record;
        if (hasPlaceholder(after)) {
            try {
                out = record.withValue(valueSerializer.serialize(where.topic(),
                        fill(envelope, after, priorBytes, legacyKey, where.topic())));
            } catch (RuntimeException e) {
                deadLetter(record, record.key(), where, e);
                return;
            }
        }
        if (storeKey != null) {
            store.put(storeKey, new Stored(streamedLsn, out.value()).encode());
        }
        context.forward(withPrior(out, priorBytes), filledChild);
    }

    /**
     * What the store keeps per legacy row: the highest LSN of a streamed change seen for it (-1 when
     * none: snapshot reads do not count, see {@link ChangeHeaders#VERSION}), and its last complete
     * envelope, or null after a delete. Encoded as {@code 0x01 | lsn (8) | envelope}; a value written
     * before the LSN was kept is the bare envelope, in the Confluent wire format (first byte 0).
     */
    private record Stored(long streamedLsn, byte[] row) {
        private static final byte FORMAT = 1;

        static Stored decode(byte[] bytes) {
            if (bytes == null) {
                return null;
            }
            if (bytes[0] != FORMAT) {
                return new Stored(-1L, bytes);
            }
            ByteBuffer b = ByteBuffer.wrap(bytes);
            b.get();
            long lsn = b.getLong();
            byte[] row = b.hasRemaining() ? new byte[b.remaining()] : null;
            if (row != null) {
                b.get(row);
            }
            return new Stored(lsn, row);
        }

        byte[] encode() {
            return ByteBuffer.allocate(1 + Long.BYTES + (row == null ? 0 : row.length)).put(FORMAT).putLong(streamedLsn)
                    .put(row == null ? new byte[0] : row).array();
        }
    }

    /**
     * The store value this processor keeps for a row read by a snapshot, {@code envelope} being the
     * read's serialized envelope: what {@link #process} stores for it, for a store filled outside
     * the stream ({@link dev.understudy.transform.MigrationSeeds}).
     */
    public static byte[] snapshotRead(byte[] envelope) {
        return new Stored(-1L, envelope).encode();
    }

    /** The record with the prior image in {@link #PRIOR_ROW}, on a copy of its headers (the input's are shared). */
    private static Record<byte[], byte[]> withPrior(Record<byte[], byte[]> record, byte[] priorBytes) {
        if (priorBytes == null) {
            return record;
        }
        Headers headers = new RecordHeaders(record.headers().toArray());
        headers.remove(PRIOR_ROW);
        headers.add(PRIOR_ROW, priorBytes);
        return record.withHeaders(headers);
    }

    private GenericRecord fill(GenericRecord envelope, GenericRecord after, byte[] priorBytes, GenericRecord legacyKey, String topic) {
        GenericRecord prior = priorBytes == null ? null : Envelopes.after(values.deserialize(topic, priorBytes));
        GenericData.Record filled = new GenericData.Record(after.getSchema());
        for (Schema.Field f : after.getSchema().getFields()) {
            Object v = after.get(f.pos());
            if (ToastPlaceholders.isPlaceholder(v)) {
                Object priorValue = prior == null || prior.getSchema().getField(f.name()) == null ? null : prior.get(f.name());
                if (priorValue == null || ToastPlaceholders.isPlaceholder(priorValue)) {
                    throw new UnfillableChangeException(table, legacyKey == null ? "(no record key)" : KeyJson.encode(legacyKey),
                            f.name(), prior != null ? "the prior row has no value for the column"
                                    : ChangeEnvelope.OP_CREATE.equals(envelope.get(ChangeEnvelope.OP).toString())
                                    ? "the change creates the row under this key, which is how Debezium emits the new row of a "
                                    + "primary-key change (a delete of the old key, then a create of the new one), and no prior row "
                                    + "is known under the new key"
                                    : "no prior row for the key is known");
                }
                v = priorValue;
            }
            filled.put(f.pos(), v);
        }
        GenericData.Record out = new GenericData.Record(envelope.getSchema());
        for (Schema.Field f : envelope.getSchema().getFields()) {
            out.put(f.pos(), envelope.get(f.pos()));
        }
        out.put(ChangeEnvelope.AFTER, filled);
        return out;
    }

    private static boolean hasPlaceholder(GenericRecord row) {
        for (Schema.Field f : row.getSchema().getFields()) {
            if (ToastPlaceholders.isPlaceholder(row.get(f.pos()))) {
                return true;
            }
        }
        return false;
    }

    /** An update with a placeholder that no prior value can replace. */
    static final class UnfillableChangeException extends RuntimeException {
        UnfillableChangeException(String table, String key, String column, String why) {
            super("Update of " + table + " key " + key + " has Debezium's placeholder for an unchanged TOASTed value in column '"
                    + column + "' and it cannot be filled: " + why + ". PostgreSQL logs unchanged out-of-line (TOAST) values "
                    + "only for columns of the replica identity; run ALTER TABLE " + table + " REPLICA IDENTITY FULL on the "
                    + "legacy database so updates carry every column, or re-snapshot the table so that every row's full image is known");
        }
    }
}

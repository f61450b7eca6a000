package dev.understudy.transform.internals;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.transform.JoinedTableMapping;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.processor.api.Record;

/**
 * Re-keys one legacy change topic of a joined target into the input of one side of its foreign-key
 * join, keeping the original envelope bytes as the value.
 *
 * <p>KTable stores keep no record headers, so what the writer needs later (the LSN, transaction id
 * and snapshot flag of the change) has to travel inside the table value: the Avro change envelope
 * carries all of it in its source block, so the value is the envelope itself, as read.
 *
 * <p>Deletes are not table tombstones here but stay in the table as the delete envelope (a
 * marker): a KTable tombstone would reach the join without the delete's LSN, and the target's
 * tombstone needs it as its version. The markers stay in the stores (one small record per
 * deleted row) for as long as the application's state does.
 * <ul>
 *   <li>{@link Side#DRIVING}: key = the legacy record key as canonical JSON ({@link KeyJson#encode}),
 *   not the target key: a delete's row image may carry only the legacy key columns, from which a
 *   target key made of other columns cannot be built; {@link JoinEmitter} remembers the target key
 *   each driving row was last emitted under instead;</li>
 *   <li>{@link Side#JOINED}: key = the referenced key, as {@link JoinedTableMapping#joinedKey}.</li>
 * </ul>
 * Undecodable or unmappable records are dead-lettered with their original bytes.
 *
 * <p>The driving side also owns the target keys its rows leave: a driving update that maps the row
 * to another target key, or a driving delete, sends a tombstone for the key the row leaves straight
 * to the new-schema topic (child {@code leftKeySink}), versioned by that driving change
 * ({@link LeftTargetKeys}). Only here is every driving change seen in LSN order: the join itself
 * drops a response computed for a driving value that has since changed (KIP-213's hash check), so
 * a row that takes a temporary key and moves on within a moment may reach {@link JoinEmitter}
 * only in its last state, and a tombstone built there would carry the version of the last change
 * instead of the one that released the key, outranking another row that took the key in between.
 */
public final class JoinInputProcessor extends DeadLetteringProcessor<byte[], byte[]> {
    public enum Side { DRIVING, JOINED }

    private final JoinedTableMapping mapping;
    private final Side side;
    private final String legacyTopic;
    private final String tableInput;
    private final Deserializer<GenericRecord> keys;
    private final Deserializer<GenericRecord> values;
    private final String leftKeySink;
    private final ChangeHeaders.Stamp stamp;
    private final LeftTargetKeys leftKeys;
    private volatile Schema checkedKeySchema;

    /** The joined side, which releases no target keys. */
    public JoinInputProcessor(JoinedTableMapping mapping, Side side, RegistryClient registry, String legacyTopic,
                              String deadLetterTopic, String tableInput, String deadLetterSink) {
        this(mapping, side, registry, legacyTopic, deadLetterTopic, tableInput, deadLetterSink, null, ChangeHeaders.Stamp.NONE);
    }

    /**
     * @param leftKeySink the child that writes tombstones to the new-schema topic (driving side), or null
     * @param stamp       the generation and lineage stamped on those tombstones
     */
    public JoinInputProcessor(JoinedTableMapping mapping, Side side, RegistryClient registry, String legacyTopic,
                              String deadLetterTopic, String tableInput, String deadLetterSink, String leftKeySink, ChangeHeaders.Stamp stamp) {
        super("Join input (" + side.name().toLowerCase() + ") of " + mapping.targetTable() + " from "
                + (side == Side.DRIVING ? mapping.sourceTable() : mapping.joinedTable()), deadLetterTopic, deadLetterSink);
        this.mapping = mapping;
        this.leftKeySink = leftKeySink;
        this.stamp = stamp;
        this.side = side;
        this.legacyTopic = legacyTopic;
        this.tableInput = tableInput;
        this.keys = AvroSerde.keys(registry).deserializer();
        this.values = AvroSerde.values(registry).deserializer();
        this.leftKeys = new LeftTargetKeys(mapping, values);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        DeadLetters.Where where = DeadLetters.Where.of(context.recordMetadata(), legacyTopic);
        if (record.value() == null) {
            // Debezium's tombstone after a delete event: the delete event already became a marker.
            return;
        }
        Object key;
        Record<Object, Object> left;
        try {
            GenericRecord legacyKey = record.key() == null ? null : keys.deserialize(where.topic(), record.key());
            GenericRecord envelope = values.deserialize(where.topic(), record.value());
            key = key(legacyKey, envelope);
            left = side == Side.DRIVING && leftKeySink != null ? leftKey(record, where.topic(), legacyKey, envelope) : null;
        } catch (RuntimeException e) {
            deadLetter(record, record.key(), where, e);
            return;
        }
        if (left != null) {
            context.forward(left, leftKeySink);
        }
        // Fresh headers: the table stores drop them anyway, and the legacy ones must not leak.
        context.forward(new Record<Object, Object>(key, record.value(), record.timestamp()), tableInput);
    }

    /** The tombstone of the target key a driving change makes its row leave, or null. */
    private Record<Object, Object> leftKey(Record<byte[], byte[]> record, String topic, GenericRecord legacyKey, GenericRecord envelope) {
        String op = Envelopes.op(envelope);
        GenericRecord left;
        if (Envelopes.isUpsert(op)) {
            GenericRecord newKey;
            try {
                newKey = mapping.targetKey(Envelopes.requiredAfter(envelope, op));
            } catch (IllegalArgumentException e) {
                newKey = null; // a key column turned null: the joiner dead-letters the change, the old key is left all the same
            }
            left = leftKeys.leftByUpsert(record.headers(), topic, legacyKey, newKey);
        } else {
            left = leftKeys.ofDelete(record.headers(), topic, Envelopes.before(envelope), legacyKey);
        }
        if (left == null) {
            return null;
        }
        GenericRecord source = Envelopes.source(envelope);
        long lsn = Envelopes.sourceLong(source, "lsn");
        long version = Envelopes.sourceFlag(source, "snapshot") ? 0L : lsn;
        return new Record<>(left, null, record.timestamp(), ChangeHeaders.forRow(version, 0L, lsn, stamp,
                Envelopes.sourceOptionalLong(source, "txId"), Envelopes.sourceOptionalLong(source, "commitOrder"), ChangeEnvelope.OP_DELETE));
    }

    private Object key(GenericRecord legacyKey, GenericRecord envelope) {
        String op = Envelopes.op(envelope);
        Envelopes.sourceLong(Envelopes.source(envelope), "lsn"); // the join needs it: fail here, not in the joiner
        GenericRecord row;
        if (Envelopes.isUpsert(op)) {
            row = Envelopes.requiredAfter(envelope, op);
        } else if (ChangeEnvelope.OP_DELETE.equals(op)) {
            GenericRecord before = Envelopes.before(envelope);
            row = before != null ? before : legacyKey;
            if (row == null) {
                throw new MalformedChangeException("Delete has neither a 'before' image nor a record key, so the deleted row cannot be named");
            }
        } else {
            throw Envelopes.unknownOp(op);
        }
        if (side == Side.JOINED) {
            if (legacyKey != null && !legacyKey.getSchema().equals(checkedKeySchema)) {
                // The join looks rows up by the referenced column alone: it must be the whole key.
                mapping.checkJoinedKey(legacyKey.getSchema());
                checkedKeySchema = legacyKey.getSchema();
            }
            return mapping.joinedKey(row);
        }
        if (legacyKey == null) {
            throw new MalformedChangeException("Change of " + mapping.sourceTable() + " has no record key; the join of "
                    + mapping.targetTable() + " keys its driving rows by the legacy primary key");
        }
        return KeyJson.encode(legacyKey);
    }
}

package dev.understudy.transform.internals;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.transform.FatalMappingException;
import dev.understudy.transform.TableMapping;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.streams.processor.api.Record;

import java.util.List;

/**
 * Maps legacy change envelopes of one table to rows of the new schema: an upsert (c, u, r) becomes
 * (target key, target row), a delete becomes (target key, null), a Kafka tombstone; so does an
 * upsert of a row the mapping {@linkplain TableMapping#includes excludes} from its target.
 *
 * <p>A row whose target key changes with an update (the key is copied from columns other than the
 * legacy primary key) also gets a tombstone under the key it leaves, versioned by the same change,
 * found by {@link LeftTargetKeys}; so does a deleted row whose old image lacks the key columns.
 *
 * <p>The input is read as raw bytes and decoded here, with the same deserializer
 * {@link AvroSerde#values} uses, so that a record that cannot be decoded or mapped is
 * dead-lettered with its original bytes instead of failing the stream thread in the source's
 * deserializer. Output goes to one of two named children, which the topology wires as sinks:
 * rows to {@code rowSink} (Avro serde) and failures to {@code deadLetterSink} (byte serde).
 */
public final class MigrationProcessor extends DeadLetteringProcessor<byte[], byte[]> {
    private final TableMapping mapping;
    private final String legacyTopic;
    private final String rowSink;
    private final Deserializer<GenericRecord> keys;
    private final Deserializer<GenericRecord> values;
    private final ChangeHeaders.Stamp stamp;
    private final LeftTargetKeys leftKeys;

    public MigrationProcessor(TableMapping mapping, RegistryClient registry, String legacyTopic, String deadLetterTopic,
                              String rowSink, String deadLetterSink) {
        this(mapping, registry, legacyTopic, deadLetterTopic, rowSink, deadLetterSink, ChangeHeaders.Stamp.NONE);
    }

    /** @param stamp the generation and the target's lineage stamped on every output row ({@link ChangeHeaders.Stamp}) */
    public MigrationProcessor(TableMapping mapping, RegistryClient registry, String legacyTopic, String deadLetterTopic,
                              String rowSink, String deadLetterSink, ChangeHeaders.Stamp stamp) {
        super("Migration of " + mapping.sourceTable() + " to " + mapping.targetTable(), deadLetterTopic, deadLetterSink);
        this.stamp = stamp;
        this.mapping = mapping;
        this.legacyTopic = legacyTopic;
        this.rowSink = rowSink;
        this.keys = AvroSerde.keys(registry).deserializer();
        this.values = AvroSerde.values(registry).deserializer();
        this.leftKeys = new LeftTargetKeys(mapping, values);
    }

    @Override
    public void process(Record<byte[], byte[]> record) {
        DeadLetters.Where where = DeadLetters.Where.of(context.recordMetadata(), legacyTopic);
        if (record.value() == null) {
            // Debezium follows each delete event with a tombstone (tombstones.on.delete) so that log
            // compaction can drop the key; the delete event already produced the target tombstone.
            return;
        }
        List<Record<Object, Object>> out;
        try {
            out = migrate(record, where.topic());
        } catch (FatalMappingException e) {
            // The mapping says this failure must stop the migration (a cast with onFailure: fail):
            // failing the task leaves the offset uncommitted, so the record is processed again once
            // the mapping is fixed and the application restarted.
            throw new StreamsException(stage + ": stopped at the record at " + where + ": " + e.getMessage()
                    + ". Fix the mapping or the legacy row, then restart; processing resumes at this record.", e);
        } catch (RuntimeException e) {
            deadLetter(record, record.key(), where, e);
            return;
        }
        // Outside the try: a failure in the sink (serializing, registering the schema) is not the
        // record's fault and must fail the task rather than be dead-lettered.
        for (Record<Object, Object> r : out) {
            context.forward(r, rowSink);
        }
    }

    /** The records of one legacy change: the tombstone of a key the row left, if any, then its own. */
    private List<Record<Object, Object>> migrate(Record<byte[], byte[]> record, String topic) {
        GenericRecord legacyKey = record.key() == null ? null : keys.deserialize(topic, record.key());
        GenericRecord envelope = values.deserialize(topic, record.value());
        return migrate(legacyKey, envelope, record.headers(), record.timestamp(), topic);
    }

    /**
     * The records of one decoded legacy change, as {@link #process} forwards them to the row sink:
     * (target key, target row or null) with the {@link ChangeHeaders} of the change. Also used for
     * rows read outside the stream ({@link dev.understudy.transform.MigrationSeeds}), which must map
     * exactly as they would here.
     *
     * @param headers the legacy record's headers (the prior image, {@link ToastFillProcessor#PRIOR_ROW}, if any)
     * @throws FatalMappingException when the mapping says the failure must stop the migration
     * @throws RuntimeException      when the change cannot be mapped (the stream dead-letters it)
     */
    public List<Record<Object, Object>> migrate(GenericRecord legacyKey, GenericRecord envelope, Headers headers, long timestamp,
                                                String topic) {
        String op = Envelopes.op(envelope);
        GenericRecord source = Envelopes.source(envelope);
        long lsn = Envelopes.sourceLong(source, "lsn");
        Long txId = Envelopes.sourceOptionalLong(source, "txId");
        Long commitOrder = Envelopes.sourceOptionalLong(source, "commitOrder");
        boolean snapshot = Envelopes.sourceFlag(source, "snapshot");

        GenericRecord targetKey;
        GenericRecord targetRow;
        GenericRecord leftKey = null;
        if (Envelopes.isUpsert(op)) {
            GenericRecord after = Envelopes.requiredAfter(envelope, op);
            targetKey = mapping.targetKey(after);
            leftKey = leftKeys.leftByUpsert(headers, topic, legacyKey, targetKey);
            if (mapping.includes(after)) {
                targetRow = mapping.targetRow(after);
                conform(targetRow, "row", mapping.targetValueSchema());
            } else {
                // Filtered out of this target: a tombstone, because an earlier version of the row may
                // have been in the target. The op header says delete, which is what the target sees.
                targetRow = null;
                op = ChangeEnvelope.OP_DELETE;
            }
        } else if (ChangeEnvelope.OP_DELETE.equals(op)) {
            // PostgreSQL logs only the replica identity of a deleted row, so 'before' may carry the
            // key columns alone, and nothing at all when the table has REPLICA IDENTITY NOTHING;
            // the Kafka key then still names the row, and the prior image names a target key copied
            // from other columns.
            targetKey = leftKeys.ofDelete(headers, topic, Envelopes.before(envelope), legacyKey);
            if (targetKey == null) {
                throw new MalformedChangeException("Delete names no target key: its old image and record key lack a key column of "
                        + mapping.targetTable() + " and no earlier image of the row was read; set REPLICA IDENTITY FULL on "
                        + mapping.sourceTable() + " so deletes carry every column");
            }
            targetRow = null;
        } else {
            throw Envelopes.unknownOp(op);
        }
        conform(targetKey, "key", mapping.targetKeySchema());

        // The Processor API forwards exactly the headers of the forwarded Record; building a fresh
        // set keeps the legacy record's own headers (Debezium's, say) off the new-schema topic.
        long version = snapshot ? 0L : lsn;
        Record<Object, Object> row = new Record<>(targetKey, targetRow, timestamp,
                ChangeHeaders.forRow(version, 0L, lsn, stamp, txId, commitOrder, op));
        if (leftKey == null) {
            return List.of(row);
        }
        Record<Object, Object> left = new Record<>(leftKey, null, timestamp,
                ChangeHeaders.forRow(version, 0L, lsn, stamp, txId, commitOrder, ChangeEnvelope.OP_DELETE));
        return List.of(left, row);
    }

    private void conform(GenericRecord datum, String what, Schema schema) {
        // The sink's serializer would reject a non-conforming datum with an exception that fails the
        // task; checking here turns a mapping bug on one row into a dead-lettered record instead.
        if (!datum.getSchema().equals(schema) || !GenericData.get().validate(schema, datum)) {
            throw new MalformedChangeException("Mapped target " + what + " " + datum + " does not conform to "
                    + schema.getFullName() + "; the table mapping for " + mapping.targetTable() + " produced an invalid " + what);
        }
    }
}

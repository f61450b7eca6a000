package dev.understudy.transform.internals;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.transform.JoinedTableMapping;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Deserializer;

/**
 * One result of a target's foreign-key join: the target row, or a tombstone, with the version and
 * change metadata its record on the new-schema topic carries.
 *
 * <p>The result is ordered for the writer by two versions ({@link dev.understudy.schemas.ChangeHeaders#JOINED_VERSION}):
 * {@code version} is the driving row's (0 for a snapshot row, else its change's LSN) and
 * {@code joinedVersion} the joined row's (the same rule; {@link #NO_JOINED_ROW} when there is none). Which driving row a
 * target key belongs to changes only with driving changes, which PostgreSQL's one WAL orders by
 * LSN; a joined row's change re-emits the rows of the driving rows subscribed to it, and only has
 * to order those re-emissions among themselves. A single {@code max} of the two LSNs would let a
 * joined change processed before a driving change of lower LSN (the two legacy topics are consumed
 * independently) stamp a stale driving state with a version above the change that moved another
 * driving row onto the same target key, and the writer would drop that row.
 * {@code lsn} and {@code txId} are those of the latest change the result reflects (the higher LSN
 * of the two sides); {@code commitOrder} is the higher of the two sides' commit orders (null when
 * neither has one), so the result counts as committed only once both source transactions are.
 *
 * @param drivingEnvelope the driving row's envelope bytes, for dead-lettering
 * @param targetKey       the target key of the driving row; null when the driving row is deleted
 *                        (its target key is then the one it was last emitted under)
 * @param row             the target row; null for a tombstone
 * @param error           the mapping's failure, when the result could not be built (then row is null)
 */
public record JoinChange(byte[] drivingEnvelope, GenericRecord targetKey, GenericRecord row, long version, long joinedVersion,
                         long lsn, Long txId, Long commitOrder, String op, RuntimeException error) {

    /** The joined version of a result that found no joined row (see {@link Functions#join}). */
    public static final long NO_JOINED_ROW = -1L;

    /**
     * The KIP-213 foreign-key extractor and joiner of a mapping. They run inside the join's
     * processors, where an exception fails the task, so both turn failures into values: the
     * extractor into "references nothing", the joiner into a JoinChange carrying the error, which
     * {@link JoinEmitter} dead-letters.
     */
    public static final class Functions {
        private final JoinedTableMapping mapping;
        private final String drivingTopic;
        private final String joinedTopic;
        private final Deserializer<GenericRecord> values;

        public Functions(JoinedTableMapping mapping, RegistryClient registry, String drivingTopic, String joinedTopic) {
            this.mapping = mapping;
            this.drivingTopic = drivingTopic;
            this.joinedTopic = joinedTopic;
            this.values = AvroSerde.values(registry).deserializer();
        }

        /**
         * The referenced key of a driving envelope; null for a delete marker, a row outside the
         * target's filter, a null foreign key, or a row whose key cannot be read. With a left join a
         * null foreign key still produces a result, with no joined row (KIP-962), which the joiner
         * turns into a tombstone: the row may have had a joined row before.
         */
        public String foreignKey(byte[] drivingEnvelope) {
            try {
                GenericRecord envelope = values.deserialize(drivingTopic, drivingEnvelope);
                String op = Envelopes.op(envelope);
                if (!Envelopes.isUpsert(op)) {
                    return null;
                }
                GenericRecord after = Envelopes.requiredAfter(envelope, op);
                return mapping.includes(after) ? mapping.foreignKey(after) : null;
            } catch (RuntimeException e) {
                // The joiner meets the same failure again and reports it with the record.
                return null;
            }
        }

        public JoinChange join(byte[] drivingEnvelope, byte[] joinedEnvelope) {
            if (drivingEnvelope == null) {
                return null;
            }
            try {
                return result(drivingEnvelope, joinedEnvelope);
            } catch (RuntimeException e) {
                return new JoinChange(drivingEnvelope, null, null, 0L, 0L, 0L, null, null, ChangeEnvelope.OP_DELETE, e);
            }
        }

        private JoinChange result(byte[] drivingBytes, byte[] joinedBytes) {
            GenericRecord driving = values.deserialize(drivingTopic, drivingBytes);
            String op = Envelopes.op(driving);
            GenericRecord source = Envelopes.source(driving);
            long lsn = Envelopes.sourceLong(source, "lsn");
            long version = Envelopes.sourceFlag(source, "snapshot") ? 0L : lsn;
            Long txId = Envelopes.sourceOptionalLong(source, "txId");
            Long commitOrder = Envelopes.sourceOptionalLong(source, "commitOrder");

            GenericRecord joinedRow = null;
            // No joined row known (the join has not seen the referenced key, or the foreign key is null):
            // NO_JOINED_ROW, below every joined row's version, so this tombstone never replaces a row that
            // had its joined row at the same driving state. A new generation's re-read can meet a driving
            // row before the joined row it references (the two topics are consumed independently); at the
            // previous generation's version that tombstone would otherwise win by generation and readers
            // would see the row vanish until the joined row arrived.
            long joinedVersion = NO_JOINED_ROW;
            if (joinedBytes != null) {
                GenericRecord joined = values.deserialize(joinedTopic, joinedBytes);
                String joinedOp = Envelopes.op(joined);
                GenericRecord joinedSource = Envelopes.source(joined);
                long joinedLsn = Envelopes.sourceLong(joinedSource, "lsn");
                joinedVersion = Envelopes.sourceFlag(joinedSource, "snapshot") ? 0L : joinedLsn;
                Long joinedCommitOrder = Envelopes.sourceOptionalLong(joinedSource, "commitOrder");
                if (joinedCommitOrder != null && (commitOrder == null || joinedCommitOrder > commitOrder)) {
                    commitOrder = joinedCommitOrder;
                }
                if (joinedVersion > version) {
                    // The joined row changed last: this result is that change's consequence.
                    lsn = joinedLsn;
                    txId = Envelopes.sourceOptionalLong(joinedSource, "txId");
                    op = ChangeEnvelope.OP_UPDATE;
                }
                // A delete marker counts for the version (a deleted customer deletes the projection
                // at the delete's LSN) but is no joined row.
                joinedRow = Envelopes.isUpsert(joinedOp) ? Envelopes.requiredAfter(joined, joinedOp) : null;
            }

            GenericRecord drivingRow = Envelopes.isUpsert(Envelopes.op(driving)) ? Envelopes.requiredAfter(driving, Envelopes.op(driving)) : null;
            GenericRecord targetKey = null;
            if (drivingRow != null) {
                targetKey = mapping.targetKey(drivingRow);
                if (!targetKey.getSchema().equals(mapping.targetKeySchema()) || !GenericData.get().validate(mapping.targetKeySchema(), targetKey)) {
                    throw new MalformedChangeException("Mapped target key " + targetKey + " does not conform to "
                            + mapping.targetKeySchema().getFullName() + "; the table mapping for " + mapping.targetTable() + " produced an invalid key");
                }
            }
            if (drivingRow == null || !mapping.includes(drivingRow) || joinedRow == null
                    || !mapping.joinedKey(joinedRow).equals(mapping.foreignKey(drivingRow))) {
                // Inner-join semantics: no target row without both rows. The last check guards the
                // joiner against a joined value that the foreign key no longer names.
                return new JoinChange(drivingBytes, targetKey, null, version, joinedVersion, lsn, txId, commitOrder, ChangeEnvelope.OP_DELETE, null);
            }
            GenericRecord row = mapping.targetRow(drivingRow, joinedRow);
            if (!row.getSchema().equals(mapping.targetValueSchema()) || !GenericData.get().validate(mapping.targetValueSchema(), row)) {
                throw new MalformedChangeException("Mapped target row " + row + " does not conform to "
                        + mapping.targetValueSchema().getFullName() + "; the table mapping for " + mapping.targetTable() + " produced an invalid row");
            }
            return new JoinChange(drivingBytes, targetKey, row, version, joinedVersion, lsn, txId, commitOrder, op, null);
        }
    }
}

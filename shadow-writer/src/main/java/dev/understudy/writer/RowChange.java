package dev.understudy.writer;

import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ChangeOrder;
import dev.understudy.schemas.KeyJson;
import org.apache.avro.generic.GenericRecord;

import java.util.Objects;

/**
 * One record of a new-schema topic, decoded and addressed to its target table.
 *
 * @param table     the schema-qualified target table, e.g. {@code public.users}
 * @param key       the target primary key
 * @param value     the target row, or null for a delete (the record was a tombstone)
 * @param version   the ordering version from header {@code understudy.version}: 0 for snapshot rows,
 *                  the source LSN for streamed changes; a change applies only over a lower version
 * @param joinedVersion the second part of the ordering version from header {@code understudy.joined_version}
 *                  (0 when absent): a join result's joined-row version, see {@code ChangeHeaders.JOINED_VERSION}
 * @param generation the spec generation from header {@code understudy.generation} (0 when absent)
 * @param lineage   the target key's lineage from header {@code understudy.lineage} (0 when absent): a
 *                  change of a later lineage replaces any of an earlier one, whatever the versions;
 *                  within one, a later generation wins at an equal version ({@link ChangeOrder})
 * @param lsn       the source LSN from header {@code understudy.lsn}, or -1 when absent
 * @param topic     where the record was read from
 * @param partition its partition
 * @param offset    its offset
 * @param rawKey    the key as read from Kafka (Confluent wire format), kept for the dead-letter topic
 * @param rawValue  the value as read from Kafka, or null for a tombstone
 */
public record RowChange(String table, GenericRecord key, GenericRecord value, long version, long joinedVersion, long generation,
                        long lineage, long lsn, String topic, int partition, long offset, byte[] rawKey, byte[] rawValue) {

    /** A change of generation 0. */
    public RowChange(String table, GenericRecord key, GenericRecord value, long version, long lsn,
                     String topic, int partition, long offset, byte[] rawKey, byte[] rawValue) {
        this(table, key, value, version, 0L, 0L, 0L, lsn, topic, partition, offset, rawKey, rawValue);
    }

    /** A change with no joined version (a single-table row) in lineage 0. */
    public RowChange(String table, GenericRecord key, GenericRecord value, long version, long generation, long lsn,
                     String topic, int partition, long offset, byte[] rawKey, byte[] rawValue) {
        this(table, key, value, version, 0L, generation, 0L, lsn, topic, partition, offset, rawKey, rawValue);
    }

    /** This change's place in the order of the changes of its key ({@link ChangeOrder}). */
    public ChangeOrder order() {
        return new ChangeOrder(lineage, version, joinedVersion, generation, isDelete());
    }

    /** The generation and lineage the change carries. */
    public ChangeHeaders.Stamp stamp() {
        return new ChangeHeaders.Stamp(generation, lineage);
    }

    public RowChange {
        Objects.requireNonNull(table, "table");
        Objects.requireNonNull(key, "key");
        Objects.requireNonNull(topic, "topic");
    }

    /** True when this change deletes the row (the record was a tombstone). */
    public boolean isDelete() {
        return value == null;
    }

    /** The key as JSON with fields in key order, e.g. {@code {"id":42}}; the row's identity in bookkeeping. */
    public String keyJson() {
        return KeyJson.encode(key);
    }

    /** {@code topic[partition]@offset}, for messages. */
    public String coordinates() {
        return topic + "[" + partition + "]@" + offset;
    }

    @Override
    public String toString() {
        return "RowChange[" + table + " " + keyJson() + (isDelete() ? " delete" : " upsert") + " version " + version
                + (joinedVersion != 0 ? "/" + joinedVersion : "")
                + (generation != 0 ? " generation " + generation : "")
                + (lineage != 0 ? " lineage " + lineage : "")
                + " from " + coordinates() + "]";
    }
}

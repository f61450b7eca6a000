package dev.understudy.writer;

import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Collection;
import java.util.HashMap;
import java.util.Map;

/**
 * The writer's Kafka positions, kept in the target database ({@value #TABLE}) and written in the
 * same transaction as the rows they cover, so the rows and the position commit together or not at
 * all. On assignment the writer seeks each partition to its stored position: a crash between the
 * database commit and the Kafka offset commit, a rewound or deleted consumer group, or a writer
 * restarted from scratch all resume exactly after the last applied record. Kafka's committed offsets
 * are still written afterwards, for lag monitoring by standard tools; the database is authoritative.
 * <p>
 * A position only moves forward ({@code GREATEST}): a writer evicted from the group mid-batch (a
 * zombie) may still commit its transaction, but never moves the position of its successor back.
 * Its rows are harmless too: the per-row (generation, version) guard takes row locks, so the two
 * never both apply the same change.
 */
final class WriterPositions {
    static final String TABLE = "understudy.writer_position";

    /**
     * {@code commit_order}: with transaction boundaries, the commit order up to which the partition is
     * covered ({@link TransactionAligner}): every record of a source transaction up to it that the
     * partition holds below {@code next_offset} is applied. Null when no release covered it yet.
     */
    private static final String CREATE = "CREATE TABLE IF NOT EXISTS " + TABLE + " (group_id text NOT NULL, topic text NOT NULL, "
            + "partition int NOT NULL, next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), commit_order bigint, "
            + "PRIMARY KEY (group_id, topic, partition))";
    /** Tables made by earlier versions lack the column. */
    private static final String ADD_COMMIT_ORDER = "ALTER TABLE " + TABLE + " ADD COLUMN IF NOT EXISTS commit_order bigint";
    private static final String COMMIT_ORDER_EXISTS = "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(?) "
            + "AND attname = 'commit_order' AND NOT attisdropped)";
    private static final String READ = "SELECT topic, partition, next_offset, commit_order FROM " + TABLE
            + " WHERE group_id = ? AND topic = ANY(?)";
    /** GREATEST ignores nulls (PostgreSQL, "GREATEST and LEAST"): a batch that covers nothing new keeps the stored order. */
    private static final String RECORD = "INSERT INTO " + TABLE + " AS p (group_id, topic, partition, next_offset, commit_order) "
            + "SELECT ?, u.topic, u.partition, u.next_offset, u.commit_order "
            + "FROM unnest(?::text[], ?::int[], ?::bigint[], ?::bigint[]) AS u(topic, partition, next_offset, commit_order) "
            + "ON CONFLICT (group_id, topic, partition) DO UPDATE SET next_offset = GREATEST(p.next_offset, EXCLUDED.next_offset), "
            + "commit_order = GREATEST(p.commit_order, EXCLUDED.commit_order), updated_at = now()";

    /** A partition's stored position, and the commit order it is covered up to (null when none). */
    record Stored(long nextOffset, Long commitOrder) {
    }

    /**
     * The commit order up to which the group applied every source transaction, in every partition of its
     * topics ({@link TransactionAligner}), written with the rows that completed it; verify's catch-up reads
     * it. The writer itself goes by each partition's covered order in {@value #TABLE}.
     */
    static final String TRANSACTION_TABLE = "understudy.writer_transaction";
    private static final String CREATE_TRANSACTION = "CREATE TABLE IF NOT EXISTS " + TRANSACTION_TABLE + " (group_id text PRIMARY KEY, "
            + "commit_order bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())";
    private static final String RECORD_TRANSACTION = "INSERT INTO " + TRANSACTION_TABLE + " AS t (group_id, commit_order) VALUES (?, ?) "
            + "ON CONFLICT (group_id) DO UPDATE SET commit_order = GREATEST(t.commit_order, EXCLUDED.commit_order), updated_at = now()";

    private WriterPositions() {
    }

    /** Creates the table when missing; like the bookkeeping table, skips the DDL when it exists. */
    static void ensureTable(Connection c) throws SQLException {
        BookkeepingTables.createIfMissing(c, TABLE, COMMIT_ORDER_EXISTS, CREATE, ADD_COMMIT_ORDER);
        BookkeepingTables.createIfMissing(c, TRANSACTION_TABLE, BookkeepingTables.TABLE_EXISTS, CREATE_TRANSACTION);
    }

    /** Records the applied commit order in the caller's transaction; it only moves forward. */
    static void recordCommitOrder(Connection c, String groupId, long commitOrder) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(RECORD_TRANSACTION)) {
            ps.setString(1, groupId);
            ps.setLong(2, commitOrder);
            ps.executeUpdate();
        }
    }

    /** Stored positions of {@code partitions}; partitions never written are absent. */
    static Map<TopicPartition, Stored> read(Connection c, String groupId, Collection<TopicPartition> partitions) throws SQLException {
        Map<TopicPartition, Stored> out = new HashMap<>();
        if (partitions.isEmpty()) {
            return out;
        }
        String[] topics = partitions.stream().map(TopicPartition::topic).distinct().toArray(String[]::new);
        try (PreparedStatement ps = c.prepareStatement(READ)) {
            ps.setString(1, groupId);
            ps.setArray(2, c.createArrayOf("text", topics));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    TopicPartition tp = new TopicPartition(rs.getString(1), rs.getInt(2));
                    if (partitions.contains(tp)) {
                        long order = rs.getLong(4);
                        out.put(tp, new Stored(rs.getLong(3), rs.wasNull() ? null : order));
                    }
                }
            }
        }
        return out;
    }

    /** Records {@code next}, with the covered commit orders of {@code covered} (partitions absent there keep theirs), in the caller's transaction. */
    static void record(Connection c, String groupId, Map<TopicPartition, OffsetAndMetadata> next, Map<TopicPartition, Long> covered)
            throws SQLException {
        if (next.isEmpty()) {
            return;
        }
        String[] topics = new String[next.size()];
        Integer[] partitions = new Integer[next.size()];
        Long[] offsets = new Long[next.size()];
        Long[] orders = new Long[next.size()];
        int i = 0;
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : next.entrySet()) {
            topics[i] = e.getKey().topic();
            partitions[i] = e.getKey().partition();
            offsets[i] = e.getValue().offset();
            orders[i] = covered.get(e.getKey());
            i++;
        }
        try (PreparedStatement ps = c.prepareStatement(RECORD)) {
            ps.setString(1, groupId);
            ps.setArray(2, c.createArrayOf("text", topics));
            ps.setArray(3, c.createArrayOf("int4", partitions));
            ps.setArray(4, c.createArrayOf("bigint", offsets));
            ps.setArray(5, c.createArrayOf("bigint", orders));
            ps.executeUpdate();
        }
    }
}

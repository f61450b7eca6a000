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
    static final String TABLE = BookkeepingTables.WRITER_POSITION;

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
    static final String TRANSACTION_TABLE = BookkeepingTables.WRITER_TRANSACTION;
    private static final String RECORD_TRANSACTION = "INSERT INTO " + TRANSACTION_TABLE + " AS t (group_id, commit_order) VALUES (?, ?) "
            + "ON CONFLICT (group_id) DO UPDATE SET commit_order = GREATEST(t.commit_order, EXCLUDED.commit_order), updated_at = now()";

    private WriterPositions() {
    }

    /** Records the applied commit order in the caller's transaction; it only moves forward. */
    static void recordCommitOrder(Connection c, String groupId, long commitOrder) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(RECORD_TRANSACTION)) {
            ps.setString(1, groupId);
            ps.setLong(2, commitOrder);
            ps.executeUpdate();
        }
    }

    /** Every stored next offset of the group, whatever its topics; partitions never written are absent. */
    static Map<TopicPartition, Long> nextOffsets(Connection c, String groupId) throws SQLException {
        Map<TopicPartition, Long> out = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT topic, partition, next_offset FROM " + TABLE + " WHERE group_id = ?")) {
            ps.setString(1, groupId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(new TopicPartition(rs.getString(1), rs.getInt(2)), rs.getLong(3));
                }
            }
        }
        return out;
    }

    /** The group's applied commit order ({@value #TRANSACTION_TABLE}), or null when it recorded none. */
    static Long appliedCommitOrder(Connection c, String groupId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT commit_order FROM " + TRANSACTION_TABLE + " WHERE group_id = ?")) {
            ps.setString(1, groupId);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : null;
            }
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

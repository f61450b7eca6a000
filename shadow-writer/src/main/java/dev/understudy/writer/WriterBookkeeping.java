package dev.understudy.writer;

import dev.understudy.schemas.KeyJson;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.TopicPartition;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.function.UnaryOperator;

/**
 * The writer's tables in the target ({@link BookkeepingTables}: per-key versions, positions, applied
 * commit order, controls) as the rest of the pipeline may use them. The writer owns their layout and
 * every statement on them, so a change to a table is made in this module alone; other modules call
 * these methods instead of writing SQL against the tables.
 * <p>
 * Every method runs on the caller's connection, in auto-commit or in the caller's transaction.
 */
public final class WriterBookkeeping {
    /** SQLSTATE undefined_table: the writer never started on this target, so it created nothing yet. */
    private static final String UNDEFINED_TABLE = "42P01";

    /**
     * The controls every writer of a group reads about once a second.
     *
     * @param paused              stop applying until cleared
     * @param maxRecordsPerSecond records per second for each member; null leaves the member's own setting
     */
    public record Control(boolean paused, Double maxRecordsPerSecond) {
        /** What a group without stored controls runs with: not paused, each member at its own rate setting. */
        public static final Control NONE = new Control(false, null);

        public Control withPaused(boolean paused) {
            return new Control(paused, maxRecordsPerSecond);
        }

        /** These controls with another rate; null leaves each member's own setting. */
        public Control withMaxRecordsPerSecond(Double maxRecordsPerSecond) {
            return new Control(paused, maxRecordsPerSecond);
        }
    }

    /**
     * What the writer holds for one key of one target table: the order of the last change it applied.
     *
     * @param table the target table as {@code schema.table}
     * @param key   the key in the writer's form ({@code KeyJson.encode})
     */
    public record StoredVersion(String table, String key, long lineage, long generation, long version, long joinedVersion,
                                boolean deleted) {
    }

    private WriterBookkeeping() {
    }

    /** The table of per-key versions, to name in messages. */
    public static String versionTable() {
        return BookkeepingTables.ROW_VERSION;
    }

    /** The table of applied positions, to name in messages. */
    public static String positionTable() {
        return BookkeepingTables.WRITER_POSITION;
    }

    /** The table of group controls, to name in messages. */
    public static String controlTable() {
        return BookkeepingTables.WRITER_CONTROL;
    }

    // ---------------------------------------------------------------------------------------------
    // Per-key versions

    /**
     * The stored versions of the keys of {@code table} whose last applied change is of a generation
     * below {@code generation} and not a delete: rows an older generation wrote and {@code generation}
     * has not (yet) written.
     */
    public static List<StoredVersion> olderGenerations(Connection c, String table, long generation) throws SQLException {
        List<StoredVersion> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT " + STORED_VERSION_COLUMNS + " FROM " + BookkeepingTables.ROW_VERSION
                + " WHERE table_name = ? AND generation < ? AND NOT deleted")) {
            ps.setString(1, table);
            ps.setLong(2, generation);
            ps.setFetchSize(10_000);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(storedVersion(rs));
                }
            }
        }
        return out;
    }

    private static final String STORED_VERSION_COLUMNS = "table_name, pk, lineage, generation, version, joined_version, deleted";

    private static StoredVersion storedVersion(ResultSet rs) throws SQLException {
        return new StoredVersion(rs.getString(1), rs.getString(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getLong(6),
                rs.getBoolean(7));
    }

    /**
     * Forgets the versions of {@code keys} of {@code table}, so that the next change of each applies
     * whatever its version (a re-read from the source, which carries version 0, or a delete).
     *
     * @param keys keys in the writer's form ({@code KeyJson.encode})
     */
    public static void forgetVersions(Connection c, String table, Collection<String> keys) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + BookkeepingTables.ROW_VERSION
                + " WHERE table_name = ? AND pk = ANY (?)")) {
            ps.setString(1, table);
            ps.setArray(2, c.createArrayOf("text", keys.toArray()));
            ps.executeUpdate();
        }
    }

    /** Forgets the versions of every key of {@code table}, as {@link #forgetVersions(Connection, String, Collection)}. */
    public static void forgetVersions(Connection c, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + BookkeepingTables.ROW_VERSION + " WHERE table_name = ?")) {
            ps.setString(1, table);
            ps.executeUpdate();
        }
    }

    /** The stored versions of every key, of any table, whose writer's form contains {@code fragment}; by table. */
    public static List<StoredVersion> versionsOfKeysContaining(Connection c, String fragment) throws SQLException {
        List<StoredVersion> out = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT " + STORED_VERSION_COLUMNS + " FROM "
                + BookkeepingTables.ROW_VERSION + " WHERE pk LIKE ? ORDER BY table_name")) {
            ps.setString(1, "%" + fragment.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%");
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(storedVersion(rs));
                }
            }
        }
        return out;
    }

    /**
     * Drops the per-key versions of every table; the next {@link TableApplier} creates the table
     * anew. Only for a target that is rebuilt from nothing (a benchmark's fresh start): afterwards
     * every change applies again, however old.
     */
    public static void dropVersionTable(Connection c) throws SQLException {
        try (Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS " + BookkeepingTables.ROW_VERSION);
        }
    }

    /**
     * The guard statement {@link TableApplier} runs for every batch (it reads and locks the stored
     * versions of the batch's keys), over the keys {@code keys} gives, a {@code text[]} expression
     * (the writer binds {@code ?} to the batch's keys). Parameter 1 is the target table. For measuring
     * the writer's SQL with the rows arriving another way, without a second copy of it.
     */
    public static String guardStatement(String keys) {
        return TableApplier.guardSql(keys);
    }

    /**
     * The version upsert {@link TableApplier} runs for every batch (it records the versions of the
     * changes that win and returns their keys), over the rows of {@code rows}: a FROM item named
     * {@code u} with columns pk, lineage, generation, version, joined_version and deleted (the writer's is an
     * unnest of the batch's arrays). Parameter 1 is the target table.
     */
    public static String versionUpsertStatement(String rows) {
        return TableApplier.versionUpsertSql(rows);
    }

    // ---------------------------------------------------------------------------------------------
    // Positions

    /** One partition's applied position, as a captured row of {@link #positionTable()} carries it. */
    public record Position(String group, String topic, int partition, long nextOffset) {
    }

    /**
     * The position a row image of {@link #positionTable()} holds (a change event's after image, as a
     * capture of the target reads it), or null when the image lacks one of its columns.
     */
    public static Position positionOf(GenericRecord row) {
        Object group = field(row, "group_id");
        Object topic = field(row, "topic");
        Object partition = field(row, "partition");
        Object next = field(row, "next_offset");
        if (group == null || topic == null || !(partition instanceof Number p) || !(next instanceof Number n)) {
            return null;
        }
        return new Position(group.toString(), topic.toString(), p.intValue(), n.longValue());
    }

    private static Object field(GenericRecord row, String name) {
        return row.getSchema().getField(name) == null ? null : row.get(name);
    }

    /**
     * Creates {@link #positionTable()} (and the commit-order table) when missing, so that a capture of
     * the target can include it before the writer's first batch.
     */
    public static void ensurePositionTables(Connection c) throws SQLException {
        BookkeepingTables.ensurePositions(c);
    }

    /**
     * Writes the group's stored positions again, unchanged but for their {@code updated_at}, so that a
     * capture of the target that starts now delivers each of them once. Positions only move forward
     * ({@link WriterPositions}), so this cannot move one back under a running writer.
     *
     * @return the positions rewritten
     */
    public static int republishPositions(Connection c, String groupId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + BookkeepingTables.WRITER_POSITION + " SET updated_at = now() WHERE group_id = ?")) {
            ps.setString(1, groupId);
            return ps.executeUpdate();
        }
    }

    /**
     * The next offset the group's writers will apply, per partition they have applied records of.
     * The writer stores each in the same transaction as the rows below it, so every record before it
     * is applied (or dead-lettered, or superseded).
     *
     * @return empty when no writer ever started on this target (the table does not exist)
     */
    public static Optional<Map<TopicPartition, Long>> appliedPositions(Connection c, String groupId) throws SQLException {
        return unlessNoTable(c, () -> WriterPositions.nextOffsets(c, groupId));
    }

    /**
     * The source commit order up to which the group applied every source transaction (with
     * transaction boundaries on); empty when it recorded none or no writer ever started here.
     */
    public static OptionalLong appliedCommitOrder(Connection c, String groupId) throws SQLException {
        Long order = unlessNoTable(c, () -> WriterPositions.appliedCommitOrder(c, groupId)).orElse(null);
        return order == null ? OptionalLong.empty() : OptionalLong.of(order);
    }

    // ---------------------------------------------------------------------------------------------
    // Controls

    /** The group's controls ({@link Control#NONE} when never set); creates the table when missing. */
    public static Control controls(Connection c, String groupId) throws SQLException {
        BookkeepingTables.ensureControl(c);
        return WriterControl.read(c, groupId).orElse(Control.NONE);
    }

    /** Stores {@code change} applied to the group's controls; returns what the writers now read. */
    public static Control changeControls(Connection c, String groupId, UnaryOperator<Control> change) throws SQLException {
        Control now = change.apply(controls(c, groupId));
        WriterControl.write(c, groupId, now);
        return now;
    }

    private interface Read<T> {
        T run() throws SQLException;
    }

    /** {@code read}'s answer, or empty when its table does not exist; in a transaction, which then goes on. */
    private static <T> Optional<T> unlessNoTable(Connection c, Read<T> read) throws SQLException {
        Savepoint sp = c.getAutoCommit() ? null : c.setSavepoint();
        try {
            T answer = read.run();
            if (sp != null) {
                c.releaseSavepoint(sp);
            }
            return Optional.ofNullable(answer);
        } catch (SQLException e) {
            if (!UNDEFINED_TABLE.equals(e.getSQLState())) {
                throw e;
            }
            if (sp != null) {
                c.rollback(sp);
            }
            return Optional.empty();
        }
    }
}

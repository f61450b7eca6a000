package dev.understudy.writer;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.Set;

/**
 * The writer's own tables in schema {@value #SCHEMA} of the target, every statement that creates or
 * upgrades them, and their creation when missing. The writer is their only owner: other modules go
 * through {@link WriterBookkeeping}.
 * <ul>
 *   <li>{@value #ROW_VERSION}: per target key, the order ({@code ChangeOrder}) of its last applied change
 *   ({@link TableApplier});</li>
 *   <li>{@value #WRITER_POSITION} and {@value #WRITER_TRANSACTION}: each group's applied Kafka
 *   positions and source commit order ({@link WriterPositions});</li>
 *   <li>{@value #WRITER_CONTROL}: each group's pause and rate limit ({@link WriterControl}).</li>
 * </ul>
 */
final class BookkeepingTables {
    static final String SCHEMA = "understudy";
    static final String ROW_VERSION = SCHEMA + ".row_version";
    static final String WRITER_POSITION = SCHEMA + ".writer_position";
    static final String WRITER_TRANSACTION = SCHEMA + ".writer_transaction";
    static final String WRITER_CONTROL = SCHEMA + ".writer_control";

    private static final String CREATE_ROW_VERSION = "CREATE TABLE IF NOT EXISTS " + ROW_VERSION + " ("
            + "table_name text NOT NULL, pk text NOT NULL, version bigint NOT NULL, deleted boolean NOT NULL, "
            + "generation bigint NOT NULL DEFAULT 0, joined_version bigint NOT NULL DEFAULT 0, lineage bigint NOT NULL DEFAULT 0, "
            + "PRIMARY KEY (table_name, pk))";
    /**
     * Bookkeeping tables created before generations (or joined versions, or lineages) existed hold
     * generation-0 rows (with joined version 0) only, of lineage 0, the first lineage of every target
     * ({@code ChangeHeaders.LINEAGE}).
     */
    private static final String ADD_ROW_VERSION_LATER_COLUMNS = "ALTER TABLE " + ROW_VERSION
            + " ADD COLUMN IF NOT EXISTS generation bigint NOT NULL DEFAULT 0, "
            + "ADD COLUMN IF NOT EXISTS joined_version bigint NOT NULL DEFAULT 0, "
            + "ADD COLUMN IF NOT EXISTS lineage bigint NOT NULL DEFAULT 0";
    /** Present means with the lineage column (the newest): older tables get the missing columns added. */
    private static final String ROW_VERSION_PRESENT = "SELECT EXISTS (SELECT 1 FROM pg_attribute "
            + "WHERE attrelid = to_regclass(?) AND attname = 'lineage' AND NOT attisdropped)";

    /**
     * {@code commit_order}: with transaction boundaries, the commit order up to which the partition is
     * covered ({@link TransactionAligner}): every record of a source transaction up to it that the
     * partition holds below {@code next_offset} is applied. Null when no release covered it yet.
     */
    private static final String CREATE_WRITER_POSITION = "CREATE TABLE IF NOT EXISTS " + WRITER_POSITION + " (group_id text NOT NULL, "
            + "topic text NOT NULL, partition int NOT NULL, next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), "
            + "commit_order bigint, PRIMARY KEY (group_id, topic, partition))";
    /** Tables made by earlier versions lack the column. */
    private static final String ADD_WRITER_POSITION_COMMIT_ORDER = "ALTER TABLE " + WRITER_POSITION
            + " ADD COLUMN IF NOT EXISTS commit_order bigint";
    private static final String WRITER_POSITION_PRESENT = "SELECT EXISTS (SELECT 1 FROM pg_attribute WHERE attrelid = to_regclass(?) "
            + "AND attname = 'commit_order' AND NOT attisdropped)";

    private static final String CREATE_WRITER_TRANSACTION = "CREATE TABLE IF NOT EXISTS " + WRITER_TRANSACTION + " (group_id text PRIMARY KEY, "
            + "commit_order bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now())";

    private static final String CREATE_WRITER_CONTROL = "CREATE TABLE IF NOT EXISTS " + WRITER_CONTROL + " (group_id text PRIMARY KEY, "
            + "paused boolean NOT NULL DEFAULT false, max_records_per_second double precision, updated_at timestamptz NOT NULL DEFAULT now())";

    /** The query for {@link #createIfMissing}: does the table exist at all. */
    private static final String TABLE_EXISTS = "SELECT to_regclass(?) IS NOT NULL";

    private BookkeepingTables() {
    }

    /** Creates {@value #ROW_VERSION} when missing, or adds the columns later versions added. */
    static void ensureRowVersion(Connection c) throws SQLException {
        createIfMissing(c, ROW_VERSION, ROW_VERSION_PRESENT, CREATE_ROW_VERSION, ADD_ROW_VERSION_LATER_COLUMNS);
    }

    /** Creates {@value #WRITER_POSITION} (or adds its later column) and {@value #WRITER_TRANSACTION} when missing. */
    static void ensurePositions(Connection c) throws SQLException {
        createIfMissing(c, WRITER_POSITION, WRITER_POSITION_PRESENT, CREATE_WRITER_POSITION, ADD_WRITER_POSITION_COMMIT_ORDER);
        createIfMissing(c, WRITER_TRANSACTION, TABLE_EXISTS, CREATE_WRITER_TRANSACTION);
    }

    /** Creates {@value #WRITER_CONTROL} when missing. */
    static void ensureControl(Connection c) throws SQLException {
        createIfMissing(c, WRITER_CONTROL, TABLE_EXISTS, CREATE_WRITER_CONTROL);
    }

    /**
     * Runs {@code ddl} unless {@code presentQuery} (one boolean column, one {@code ?} bound to
     * {@code table}) says the table is already as needed: the DDL needs CREATE on the database even
     * with IF NOT EXISTS, so a writer role without it still starts against tables made for it.
     */
    private static void createIfMissing(Connection c, String table, String presentQuery, String... ddl) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(presentQuery)) {
            ps.setString(1, table);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) {
                    return;
                }
            }
        }
        Savepoint sp = c.getAutoCommit() ? null : c.setSavepoint();
        try (Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS " + SCHEMA);
            for (String statement : ddl) {
                s.execute(statement);
            }
            if (sp != null) {
                c.releaseSavepoint(sp);
            }
        } catch (SQLException e) {
            // IF NOT EXISTS is not race-free: two connections creating the same object at once can fail
            // with 23505 unique_violation on a catalog index or 42P06/42P07 duplicate schema/table.
            // The object then exists, which is all that is needed.
            if (!Set.of("23505", "42P06", "42P07").contains(SqlErrorClassifier.sqlState(e))) {
                throw e;
            }
            if (sp != null) {
                c.rollback(sp);
            }
        }
    }
}

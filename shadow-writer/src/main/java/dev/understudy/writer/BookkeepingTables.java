package dev.understudy.writer;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.util.Set;

/** Creates the writer's own tables in schema {@value TableApplier#BOOKKEEPING_SCHEMA} of the target when missing. */
final class BookkeepingTables {
    private BookkeepingTables() {
    }

    /**
     * Runs {@code ddl} unless {@code presentQuery} (one boolean column, one {@code ?} bound to
     * {@code table}) says the table is already as needed: the DDL needs CREATE on the database even
     * with IF NOT EXISTS, so a writer role without it still starts against tables made for it.
     */
    static void createIfMissing(Connection c, String table, String presentQuery, String... ddl) throws SQLException {
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
            s.execute("CREATE SCHEMA IF NOT EXISTS " + TableApplier.BOOKKEEPING_SCHEMA);
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

    /** The query for {@link #createIfMissing}: does the table exist at all. */
    static final String TABLE_EXISTS = "SELECT to_regclass(?) IS NOT NULL";
}

package dev.understudy.pipeline;

import dev.understudy.capture.ColumnTypeCheck;

import dev.understudy.schemas.SqlNames;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * Checks that each legacy table a mapping reads exists, has a primary key to key its changes by, and
 * has no column the capture cannot carry exactly ({@link dev.understudy.capture.ColumnTypeCheck}).
 */
public final class SourceTables {
    private SourceTables() {
    }

    /** Refuses the start, listing every problem at once, when {@link #problems} finds any. */
    static void check(PipelineConfig config, List<String> tables) {
        List<String> problems = problems(config, tables);
        if (!problems.isEmpty()) {
            throw new IllegalStateException("Cannot start the pipeline:\n  - " + String.join("\n  - ", problems));
        }
    }

    /**
     * What keeps the pipeline from reading {@code tables} (schema-qualified) on the legacy database of
     * {@code config}, one line each naming the table (and column and type) and the fix: a missing
     * table, no primary key, a column type the capture cannot carry exactly. Empty when none.
     */
    public static List<String> problems(PipelineConfig config, List<String> tables) {
        List<String> problems = new ArrayList<>();
        try (Connection c = DriverManager.getConnection(config.get(PipelineConfig.LEGACY_JDBC_URL),
                config.get(PipelineConfig.LEGACY_USER), config.get(PipelineConfig.LEGACY_PASSWORD));
             PreparedStatement ps = c.prepareStatement("""
                     SELECT c.oid IS NOT NULL AS exists,
                            EXISTS (SELECT 1 FROM pg_constraint k WHERE k.conrelid = c.oid AND k.contype = 'p') AS has_pk
                     FROM (SELECT to_regclass(?) AS oid) r LEFT JOIN pg_class c ON c.oid = r.oid""")) {
            for (String table : tables) {
                ps.setString(1, SqlNames.qualified(table));
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    if (!rs.getBoolean(1)) {
                        problems.add("legacy table " + table + " does not exist in " + config.get(PipelineConfig.LEGACY_JDBC_URL)
                                + "; create it or correct the mapping's source table");
                    } else if (!rs.getBoolean(2)) {
                        problems.add("legacy table " + table + " has no primary key; add one (ALTER TABLE " + table
                                + " ADD PRIMARY KEY (...)) so its changes can be keyed");
                    }
                }
            }
            // Columns whose values the capture cannot carry exactly (docs/types.md): refused here, before
            // anything starts, rather than changed or stopping the capture later.
            problems.addAll(ColumnTypeCheck.problems(c, tables));
        } catch (SQLException e) {
            problems.add("cannot inspect legacy tables: " + e.getMessage() + " (SQLSTATE " + e.getSQLState() + ")");
        }
        return problems;
    }
}

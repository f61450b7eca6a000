package dev.understudy.capture;

import dev.understudy.schemas.SqlNames;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * The columns the capture cannot carry exactly (docs/types.md, "Refused before the start"), found
 * in the catalog before anything starts, so that a migration never begins on a table whose values
 * would change silently or stop the capture mid-stream.
 * <p>
 * Every column of a captured table counts, read by the spec or not: the connector decodes whole rows
 * (pgoutput sends every column), and a value that fails to decode stops the connector ("This
 * connector will be stopped") before any per-record handling sees it.
 * <ul>
 *   <li>{@code time with time zone}: while streaming, the connector parses it with
 *   {@code DateTimeFormat.timeWithTimeZone}, which converts it to UTC (the offset is lost) and
 *   fails on an offset with seconds ({@code 10:00:00-03:06:28}).</li>
 *   <li>{@code interval} without a constraint keeping its values readable: the connector reads it
 *   through pgjdbc's {@code PGInterval}, which reads {@code infinity} and {@code -infinity} as
 *   {@code 00:00:00} and fails on a time part of 2^31 hours or more (its hours are an int).
 *   A CHECK constraint with {@code isfinite(c)} and {@code extract(hour FROM c)} excludes both.</li>
 * </ul>
 */
public final class ColumnTypeCheck {
    private static final String COLUMNS = """
            SELECT a.attname, format_type(a.atttypid, a.atttypmod), t.typname, quote_ident(a.attname),
                   coalesce((SELECT string_agg(pg_get_constraintdef(k.oid), ' ') FROM pg_constraint k
                             WHERE k.conrelid = a.attrelid AND k.contype = 'c' AND a.attnum = ANY(k.conkey) AND k.convalidated), '')
            FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid
            WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped
            ORDER BY a.attnum""";

    private ColumnTypeCheck() {
    }

    /**
     * One problem per column of {@code tables} (schema-qualified) that the capture cannot carry, each
     * naming the table, column and type, why, and the fix; empty when there is none. Tables that do
     * not exist are skipped (reported elsewhere).
     */
    public static List<String> problems(Connection legacy, List<String> tables) throws SQLException {
        List<String> problems = new ArrayList<>();
        try (PreparedStatement ps = legacy.prepareStatement(COLUMNS)) {
            for (String table : tables) {
                ps.setString(1, SqlNames.qualified(table));
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        String problem = problem(table, rs.getString(1), rs.getString(2), rs.getString(3), rs.getString(5),
                                rs.getString(4));
                        if (problem != null) {
                            problems.add(problem);
                        }
                    }
                }
            }
        }
        return problems;
    }

    /**
     * The problem with one column, or null.
     *
     * @param quoted the column name as SQL spells it ({@code quote_ident}), as constraint definitions show it
     * @param checks its validated CHECK constraints' definitions ({@code pg_get_constraintdef})
     */
    static String problem(String table, String column, String type, String typname, String checks, String quoted) {
        String where = "legacy column " + table + "." + column + " has type " + type;
        if (typname.equals("timetz")) {
            return where + ", which the capture cannot carry exactly: Debezium's pgoutput decoding converts it to UTC and"
                    + " drops the offset (and fails on an offset with seconds). Fix: store it as time plus an offset column,"
                    + " or as text (ALTER TABLE " + table + " ALTER COLUMN " + quoted + " TYPE text), or leave the table out of the spec";
        }
        if (typname.equals("interval") && !(checks.contains("isfinite(" + quoted + ")")
                && checks.contains("EXTRACT(hour FROM " + quoted + ")"))) {
            return where + ", whose values the capture carries exactly only when they are finite and their time part is under"
                    + " 2^31 hours: Debezium reads intervals through pgjdbc's PGInterval, which reads 'infinity' as '00:00:00'"
                    + " and fails on larger hours. Fix: ALTER TABLE " + table + " ADD CHECK (isfinite(" + quoted
                    + ") AND abs(extract(hour FROM " + quoted + ")) < 2147483648), or store the column as text";
        }
        return null;
    }
}

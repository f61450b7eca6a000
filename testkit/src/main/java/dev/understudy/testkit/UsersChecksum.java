package dev.understudy.testkit;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;

/**
 * The users migration's expected result computed by plain SQL on the legacy database, independently
 * of the pipeline's mapping code, and the same projection read from the target. Both sides render
 * each row identically (timestamps as epoch microseconds, so the session time zone cannot matter),
 * hash it, and sum the hashes: equal counts and sums mean equal tables, in any row order.
 */
public final class UsersChecksum {
    /** Expected target rows, from legacy users: name becomes full_name, birthdate has no source yet. */
    public static final String EXPECTED_ROWS = """
            SELECT id, name AS full_name, email, NULL::date AS birthdate,
                   (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
            FROM public.users""";
    public static final String ACTUAL_ROWS = """
            SELECT id, full_name, email, birthdate,
                   (extract(epoch FROM created_at) * 1000000)::bigint AS created_at_us
            FROM public.users""";

    private static final String SUMMARY = """
            SELECT count(*), coalesce(sum(('x' || substr(md5(concat_ws('|', id, coalesce(full_name, '<null>'),
                       coalesce(email, '<null>'), coalesce(birthdate::text, '<null>'), coalesce(created_at_us::text, '<null>'))), 1, 15))::bit(60)::bigint), 0)
            FROM (%s) t""";

    private UsersChecksum() {
    }

    /** Row count and content checksum of a users projection. */
    public record Summary(long rows, String checksum) {
    }

    public static Summary expected(Connection legacy) throws SQLException {
        return summary(legacy, EXPECTED_ROWS);
    }

    public static Summary actual(Connection target) throws SQLException {
        return summary(target, ACTUAL_ROWS);
    }

    private static Summary summary(Connection c, String rows) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(String.format(SUMMARY, rows))) {
            rs.next();
            return new Summary(rs.getLong(1), rs.getBigDecimal(2).toPlainString());
        }
    }

    /** Every row as text, ordered by id, for exact comparisons and readable differences in tests. */
    public static List<String> expectedRows(Connection legacy) throws SQLException {
        return rows(legacy, EXPECTED_ROWS);
    }

    public static List<String> actualRows(Connection target) throws SQLException {
        return rows(target, ACTUAL_ROWS);
    }

    private static List<String> rows(Connection c, String query) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(query + " ORDER BY id")) {
            while (rs.next()) {
                out.add(rs.getLong(1) + "|" + rs.getString(2) + "|" + rs.getString(3) + "|" + rs.getString(4) + "|" + rs.getString(5));
            }
        }
        return out;
    }
}

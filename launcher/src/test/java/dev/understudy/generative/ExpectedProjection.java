package dev.understudy.generative;

import dev.understudy.generative.SchemaGenerator.LegacySchema;
import dev.understudy.generative.SchemaGenerator.Role;
import dev.understudy.generative.SpecGenerator.Target;
import dev.understudy.generative.SpecGenerator.TargetColumn;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

import static dev.understudy.generative.SchemaGenerator.quote;

/**
 * What a target table should hold, computed by SQL on the legacy database from the generator's
 * model of the spec (never from the product's translation): the driving table, inner-joined to the
 * parent for a join, filtered by the filter's SQL and by the dead-letter casts' conversion
 * conditions, each column's SQL cast to the target column's type and rendered {@code ::text}. The
 * target side is each column's {@code ::text}. Rows are compared by key, column by column.
 */
final class ExpectedProjection {
    private static final String NULL = "\u2400";

    private ExpectedProjection() {
    }

    static String legacySql(LegacySchema schema, Target t) {
        StringBuilder sb = new StringBuilder("SELECT ");
        List<String> values = new ArrayList<>();
        for (TargetColumn c : t.columns()) {
            values.add("((" + c.sql() + ")::" + c.ddl() + ")::text");
        }
        sb.append(String.join(", ", values)).append(" FROM ").append(t.from().qualified()).append(" s");
        if (t.joinAlias() != null) {
            sb.append(" JOIN ").append(schema.parent().qualified()).append(" j ON j.").append(schema.parent().key().get(0).quoted())
                    .append(" = s.").append(schema.driving().role(Role.REF).quoted());
        }
        List<String> where = new ArrayList<>(t.passSql());
        if (t.filterSql() != null) {
            where.add(t.filterSql());
        }
        if (!where.isEmpty()) {
            sb.append(" WHERE ").append(String.join(" AND ", where));
        }
        return sb.toString();
    }

    static String targetSql(Target t) {
        List<String> values = new ArrayList<>();
        for (TargetColumn c : t.columns()) {
            values.add(quote(c.name()) + "::text");
        }
        return "SELECT " + String.join(", ", values) + " FROM " + t.qualified();
    }

    /** Rows by key text; each row its columns' text. */
    static Map<String, List<String>> read(Connection c, String sql, int keyCount) throws SQLException {
        Map<String, List<String>> rows = new TreeMap<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            int n = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                List<String> row = new ArrayList<>(n);
                for (int i = 1; i <= n; i++) {
                    String v = rs.getString(i);
                    row.add(v == null ? NULL : v);
                }
                String key = String.join("|", row.subList(0, keyCount));
                if (rows.put(key, row) != null) {
                    throw new IllegalStateException("two rows with key " + key + " in: " + sql);
                }
            }
        }
        return rows;
    }

    /** The differences of one target, empty when it equals the expected projection. */
    record Diff(String target, int expectedRows, int actualRows, List<String> missing, List<String> extra, List<String> mismatched) {
        boolean same() {
            return missing.isEmpty() && extra.isEmpty() && mismatched.isEmpty();
        }

        String describe() {
            return target + ": expected " + expectedRows + " rows, target " + actualRows + "; missing " + missing.size()
                    + first(missing) + "; extra " + extra.size() + first(extra) + "; mismatched " + mismatched.size() + first(mismatched);
        }

        private static String first(List<String> l) {
            return l.isEmpty() ? "" : " " + l.subList(0, Math.min(5, l.size()));
        }
    }

    static Diff compare(Target t, Map<String, List<String>> expected, Map<String, List<String>> actual) {
        List<String> missing = new ArrayList<>();
        List<String> extra = new ArrayList<>();
        List<String> mismatched = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : expected.entrySet()) {
            List<String> a = actual.get(e.getKey());
            if (a == null) {
                missing.add(e.getKey());
            } else if (!a.equals(e.getValue())) {
                StringBuilder cols = new StringBuilder();
                for (int i = 0; i < a.size(); i++) {
                    if (!Objects.equals(a.get(i), e.getValue().get(i))) {
                        cols.append(cols.length() == 0 ? "" : ", ").append(t.columns().get(i).name()).append(" expected ")
                                .append(abbreviate(e.getValue().get(i))).append(" but was ").append(abbreviate(a.get(i)));
                    }
                }
                mismatched.add(e.getKey() + " (" + cols + ")");
            }
        }
        for (String k : actual.keySet()) {
            if (!expected.containsKey(k)) {
                extra.add(k);
            }
        }
        return new Diff(t.id() + " (" + t.qualified() + ")", expected.size(), actual.size(), missing, extra, mismatched);
    }

    private static String abbreviate(String s) {
        return s.length() <= 80 ? "'" + s + "'" : "'" + s.substring(0, 60) + "...' (" + s.length() + " chars)";
    }
}

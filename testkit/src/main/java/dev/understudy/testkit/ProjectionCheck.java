package dev.understudy.testkit;

import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The independent check of the purchase-order read model, row by row: the projection computed by a
 * SQL join on the legacy database against the target table, compared by order number. It shares
 * nothing with the pipeline (no mapping, no Kafka), so a match is evidence the pipeline got it right.
 * Timestamps are compared as epoch microseconds, so the servers' time zone does not matter.
 */
public final class ProjectionCheck {
    private static final int SAMPLES = 5;

    /** The projection, as the legacy database computes it; {@code %s} is the optional country column. */
    private static final String LEGACY = """
            SELECT o.order_number, c.name, o.total_cents, (extract(epoch FROM o.created_at) * 1000000)::bigint%s
            FROM public.purchase_orders o JOIN public.customers c ON c.id = o.customer_id""";
    private static final String TARGET = """
            SELECT order_number, customer_name, total_cents, (extract(epoch FROM created_at) * 1000000)::bigint%s
            FROM public.purchase_order_view""";

    private ProjectionCheck() {
    }

    /**
     * Counts of one comparison, with up to five sample order numbers of each kind of difference.
     *
     * @param mismatched keys on both sides whose columns differ
     * @param missing    keys the legacy join has and the target lacks
     * @param extra      keys the target has and the legacy join lacks
     */
    public record Result(boolean withCountry, long legacyRows, long targetRows, long matching, long mismatched, long missing, long extra,
                         List<String> mismatchedSamples, List<String> missingSamples, List<String> extraSamples) {
        public boolean matches() {
            return mismatched == 0 && missing == 0 && extra == 0 && legacyRows == targetRows;
        }

        /** One line of counts, e.g. for a progress or summary line. */
        public String counts() {
            return String.format("legacy join %,d rows, target %,d rows: %,d matching, %,d mismatched, %,d missing in target, %,d extra in target",
                    legacyRows, targetRows, matching, mismatched, missing, extra);
        }

        /** The sample keys of each kind of difference, empty when there are none. */
        public List<String> samples() {
            List<String> out = new ArrayList<>();
            if (!mismatchedSamples.isEmpty()) {
                out.add("mismatched: " + String.join(", ", mismatchedSamples));
            }
            if (!missingSamples.isEmpty()) {
                out.add("missing in target: " + String.join(", ", missingSamples));
            }
            if (!extraSamples.isEmpty()) {
                out.add("extra in target: " + String.join(", ", extraSamples));
            }
            return out;
        }
    }

    /**
     * Compares the legacy join with the target table.
     *
     * @param withCountry whether to compare {@code customer_country} too (the v2 read model); the v1
     *                    target table has no such column
     */
    public static Result run(Connection legacy, Connection target, boolean withCountry) throws SQLException {
        Map<String, List<String>> expected = read(legacy, String.format(LEGACY, withCountry ? ", c.country" : ""));
        Map<String, List<String>> actual = read(target, String.format(TARGET, withCountry ? ", customer_country" : ""));
        return compare(withCountry, expected, actual);
    }

    static Result compare(boolean withCountry, Map<String, List<String>> expected, Map<String, List<String>> actual) {
        long matching = 0;
        long mismatched = 0;
        long missing = 0;
        List<String> mismatchedSamples = new ArrayList<>();
        List<String> missingSamples = new ArrayList<>();
        for (Map.Entry<String, List<String>> e : expected.entrySet()) {
            List<String> a = actual.get(e.getKey());
            if (a == null) {
                missing++;
                sample(missingSamples, e.getKey());
            } else if (Objects.equals(e.getValue(), a)) {
                matching++;
            } else {
                mismatched++;
                sample(mismatchedSamples, e.getKey());
            }
        }
        long extra = 0;
        List<String> extraSamples = new ArrayList<>();
        for (String key : actual.keySet()) {
            if (!expected.containsKey(key)) {
                extra++;
                sample(extraSamples, key);
            }
        }
        return new Result(withCountry, expected.size(), actual.size(), matching, mismatched, missing, extra,
                List.copyOf(mismatchedSamples), List.copyOf(missingSamples), List.copyOf(extraSamples));
    }

    private static void sample(List<String> samples, String key) {
        if (samples.size() < SAMPLES) {
            samples.add(key);
        }
    }

    /** The rows of {@code sql} by their first column (the order number), the other columns as text (null stays null). */
    private static Map<String, List<String>> read(Connection c, String sql) throws SQLException {
        Map<String, List<String>> rows = new TreeMap<>();
        try (Statement s = c.createStatement()) {
            s.setFetchSize(10_000);
            try (ResultSet rs = s.executeQuery(sql)) {
                int columns = rs.getMetaData().getColumnCount();
                while (rs.next()) {
                    List<String> values = new ArrayList<>(columns - 1);
                    for (int i = 2; i <= columns; i++) {
                        values.add(rs.getString(i));
                    }
                    rows.put(rs.getString(1), values);
                }
            }
        }
        return rows;
    }
}

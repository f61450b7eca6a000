package dev.understudy.verify;

import dev.understudy.schemas.KeyJson;
import dev.understudy.transform.spec.SpecSql;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.Executor;
import java.util.function.LongConsumer;

/**
 * Compares one target table with the rows the spec computes from the legacy database, chunk by
 * chunk of primary key.
 * <p>
 * Chunks are ranges of the target key, found by keyset pagination on the target's primary key index.
 * For each chunk both databases compute a row count and an order-independent checksum (XOR of a
 * 64-bit prefix of each row's MD5) of the canonical row text: every field cast to the target column
 * type, then to text, nulls marked. Only a chunk whose count or checksum differs is read row by row
 * (key and row hash), and its keys classified as mismatched, missing or extra. Rows never cross the
 * network for equal chunks, which is what makes a verify about as fast as scanning both tables.
 * <p>
 * The legacy connection must be in a REPEATABLE READ transaction, so every chunk reads the legacy
 * database at the same snapshot; both sessions run with TimeZone UTC, so time values render alike.
 */
final class TableVerifier {
    private static final String NULL_MARK = "chr(30)";
    private static final String SEPARATOR = "chr(31)";
    /** Rows below which a differing range is read row by row instead of split further. */
    static final int LEAF = 256;

    private final String table;
    private final SpecSql.Projection legacy;
    private final SpecSql.Projection target;
    private final int chunkRows;
    private final int maxSamples;

    /** Keys found different, by kind: key text (JSON) → the key's values as text, for rechecks. */
    final Map<String, List<String>> mismatchedKeys = new LinkedHashMap<>();
    final Map<String, List<String>> missingKeys = new LinkedHashMap<>();
    final Map<String, List<String>> extraKeys = new LinkedHashMap<>();
    long processed;
    long targetRows;
    long chunks;
    long chunksDiffering;

    private final Executor sideThread = r -> {
        Thread t = new Thread(r, "understudy-verify-legacy");
        t.setDaemon(true);
        t.start();
    };

    /** Which key fields are numbers in the key schema (JSON numbers in the key's JSON), by key position. */
    private final boolean[] numericKeys;

    TableVerifier(String table, SpecSql.Projection legacy, SpecSql.Projection target, int chunkRows, int maxSamples, boolean[] numericKeys) {
        this.numericKeys = numericKeys;
        this.table = table;
        this.legacy = legacy;
        this.target = target;
        this.chunkRows = chunkRows;
        this.maxSamples = maxSamples;
    }

    /**
     * Runs every chunk after {@code after} (the last key of a finished chunk, or null from the start),
     * at most {@code maxChunks} of them (0: no limit); true when the table is done.
     *
     * @param onChunk called after each chunk with its upper key (null for the last), to record progress
     */
    boolean run(Connection legacyDb, Connection targetDb, List<String> after, ChunkListener onChunk, LongConsumer rowsDone, long maxChunks)
            throws SQLException {
        List<String> lower = after;
        for (long done = 0; ; done++) {
            if (maxChunks > 0 && done >= maxChunks) {
                return false;
            }
            List<String> upper = nextBoundary(targetDb, lower, null, chunkRows);
            compareChunk(legacyDb, targetDb, lower, upper);
            chunks++;
            rowsDone.accept(processed + targetRows);
            onChunk.chunkDone(upper, this);
            if (upper == null) {
                return true;
            }
            lower = upper;
        }
    }

    @FunctionalInterface
    interface ChunkListener {
        void chunkDone(List<String> upper, TableVerifier progress) throws SQLException;
    }

    /**
     * The key {@code rows} rows after {@code lower} on the target (no further than {@code upper}), or null
     * when fewer remain before {@code upper} (the range then ends at {@code upper}).
     */
    private List<String> nextBoundary(Connection targetDb, List<String> lower, List<String> upper, int rows) throws SQLException {
        String sql = "SELECT " + textList(target.rawKeys()) + " FROM " + target.from() + range(target, lower, upper)
                + " ORDER BY " + String.join(", ", target.rawKeys()) + " OFFSET " + (rows - 1) + " LIMIT 1";
        try (PreparedStatement ps = targetDb.prepareStatement(sql)) {
            bind(ps, bind(ps, 1, lower), upper);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                List<String> key = new ArrayList<>();
                for (int i = 1; i <= target.rawKeys().size(); i++) {
                    key.add(rs.getString(i));
                }
                return key;
            }
        }
    }

    private void compareChunk(Connection legacyDb, Connection targetDb, List<String> lower, List<String> upper) throws SQLException {
        // The two databases work at once: the legacy side on another thread, the target side on this one.
        CompletableFuture<long[]> legacySide = CompletableFuture.supplyAsync(() -> {
            try {
                return aggregate(legacyDb, legacy, lower, upper);
            } catch (SQLException e) {
                throw new CompletionException(e);
            }
        }, sideThread);
        long[] t = aggregate(targetDb, target, lower, upper);
        long[] l;
        try {
            l = legacySide.join();
        } catch (CompletionException e) {
            if (e.getCause() instanceof SQLException sql) {
                throw sql;
            }
            throw e;
        }
        processed += l[0];
        targetRows += t[0];
        if (l[0] == t[0] && l[1] == t[1]) {
            return;
        }
        chunksDiffering++;
        bisect(legacyDb, targetDb, lower, upper, chunkRows);
    }

    /**
     * Narrows a differing range down: splits it into sixteenths by target keys, compares the checksums
     * of each part and descends only into parts that differ, so that rows are read only around the
     * differences (a handful of {@value #LEAF}-row ranges per differing key).
     */
    private void bisect(Connection legacyDb, Connection targetDb, List<String> lower, List<String> upper, int size) throws SQLException {
        if (size <= LEAF) {
            compareRows(legacyDb, targetDb, lower, upper);
            return;
        }
        int part = Math.max(LEAF, size / 16);
        List<String> lo = lower;
        while (true) {
            List<String> hi = nextBoundary(targetDb, lo, upper, part);
            boolean last = hi == null;
            List<String> end = last ? upper : hi;
            long[] l = aggregate(legacyDb, legacy, lo, end);
            long[] t = aggregate(targetDb, target, lo, end);
            if (l[0] != t[0] || l[1] != t[1]) {
                bisect(legacyDb, targetDb, lo, end, part);
            }
            if (last) {
                return;
            }
            lo = hi;
        }
    }

    private void compareRows(Connection legacyDb, Connection targetDb, List<String> lower, List<String> upper) throws SQLException {
        Map<String, String[]> expected = rows(legacyDb, legacy, lower, upper);
        Map<String, String[]> actual = rows(targetDb, target, lower, upper);
        for (Map.Entry<String, String[]> e : expected.entrySet()) {
            String[] a = actual.get(e.getKey());
            if (a == null) {
                missingKeys.put(e.getKey(), keyValues(e.getValue()));
            } else if (!a[a.length - 1].equals(e.getValue()[e.getValue().length - 1])) {
                mismatchedKeys.put(e.getKey(), keyValues(e.getValue()));
            }
        }
        for (Map.Entry<String, String[]> e : actual.entrySet()) {
            if (!expected.containsKey(e.getKey())) {
                extraKeys.put(e.getKey(), keyValues(e.getValue()));
            }
        }
    }

    private static List<String> keyValues(String[] row) {
        return List.of(row).subList(0, row.length - 1);
    }

    private long[] aggregate(Connection db, SpecSql.Projection p, List<String> lower, List<String> upper) throws SQLException {
        // hash_record_extended (PostgreSQL 14+): each field hashed by its type's own 64-bit hash, the one hash
        // partitioning relies on being stable, with no text rendering. Both sides hold the same target types
        // (the legacy side is cast to them), so equal rows hash alike.
        String sql = "SELECT count(*), coalesce(bit_xor(hash_record_extended(ROW(" + String.join(", ", p.values()) + "), 0)), 0) FROM "
                + p.from() + range(p, lower, upper);
        try (PreparedStatement ps = db.prepareStatement(sql)) {
            int i = bind(ps, 1, lower);
            bind(ps, i, upper);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new long[]{rs.getLong(1), rs.getLong(2)};
            }
        }
    }

    /** Key JSON → key values as text, then the row's hash last. */
    private Map<String, String[]> rows(Connection db, SpecSql.Projection p, List<String> lower, List<String> upper) throws SQLException {
        String sql = "SELECT " + textList(p.keys()) + ", md5(" + canonical(p) + ") FROM " + p.from() + range(p, lower, upper);
        Map<String, String[]> out = new HashMap<>();
        try (PreparedStatement ps = db.prepareStatement(sql)) {
            int i = bind(ps, 1, lower);
            bind(ps, i, upper);
            try (ResultSet rs = ps.executeQuery()) {
                int n = p.keys().size();
                while (rs.next()) {
                    String[] row = new String[n + 1];
                    for (int c = 0; c < n; c++) {
                        row[c] = rs.getString(c + 1);
                    }
                    row[n] = rs.getString(n + 1);
                    out.put(KeyJson.encode(p.keyFields(), numericKeys, row), row);
                }
            }
        }
        return out;
    }

    /** The row hash of one key on one side, or null when absent there (rechecks). */
    static String rowHash(Connection db, SpecSql.Projection p, List<String> key) throws SQLException {
        String sql = "SELECT md5(" + canonical(p) + ") FROM " + p.from() + " WHERE (" + String.join(", ", p.rawKeys()) + ") = ("
                + String.join(", ", p.rawKeys().stream().map(k -> "?").toList()) + ")";
        try (PreparedStatement ps = db.prepareStatement(sql)) {
            bind(ps, 1, key);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        }
    }

    static String canonical(SpecSql.Projection p) {
        List<String> parts = new ArrayList<>();
        for (String v : p.values()) {
            parts.add("coalesce((" + v + ")::text, " + NULL_MARK + ")");
        }
        return "concat_ws(" + SEPARATOR + ", " + String.join(", ", parts) + ")";
    }

    private static String range(SpecSql.Projection p, List<String> lower, List<String> upper) {
        List<String> conditions = new ArrayList<>();
        if (lower != null) {
            conditions.add(after(p.rawKeys()));
        }
        if (upper != null) {
            conditions.add("(" + String.join(", ", p.rawKeys()) + ") <= (" + String.join(", ", p.rawKeys().stream().map(k -> "?").toList()) + ")");
        }
        return conditions.isEmpty() ? "" : " WHERE " + String.join(" AND ", conditions);
    }

    private static String after(List<String> keys) {
        return "(" + String.join(", ", keys) + ") > (" + String.join(", ", keys.stream().map(k -> "?").toList()) + ")";
    }

    private static String textList(List<String> expressions) {
        return String.join(", ", expressions.stream().map(e -> "(" + e + ")::text").toList());
    }

    /**
     * Binds key values as untyped literals (Types.OTHER): PostgreSQL then reads each as the type of the
     * column it is compared with, so the legacy side compares its own column type and keeps its index.
     */
    private static int bind(PreparedStatement ps, int from, List<String> key) throws SQLException {
        if (key == null) {
            return from;
        }
        int i = from;
        for (String v : key) {
            ps.setObject(i++, v, Types.OTHER);
        }
        return i;
    }

    TableReport report(long settled, long snapshotLsn, long millis) {
        return new TableReport(table, processed, targetRows, processed - mismatchedKeys.size() - missingKeys.size(),
                mismatchedKeys.size(), missingKeys.size(), extraKeys.size(), settled, snapshotLsn, chunks, chunksDiffering, millis,
                new TableReport.Samples(first(mismatchedKeys), first(missingKeys), first(extraKeys)));
    }

    private List<String> first(Map<String, ?> keys) {
        return keys.keySet().stream().limit(maxSamples).toList();
    }
}

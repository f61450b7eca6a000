package dev.understudy.verify;

import dev.understudy.pipeline.OrchestrationTables;

import java.sql.Array;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Verify runs kept in the target database, so that an interrupted run resumes after its last
 * finished chunk: {@value #TABLE} (one row per run), {@value #TABLES} (per table: the last key of the
 * last finished chunk, counts) and {@value #DIFFERENCES} (keys found different). Each chunk's
 * progress commits on its own, so at most one chunk is redone.
 */
final class VerifyRuns {
    static final String TABLE = OrchestrationTables.VERIFY_RUN;
    static final String TABLES = OrchestrationTables.VERIFY_TABLE;
    static final String DIFFERENCES = OrchestrationTables.VERIFY_DIFFERENCE;

    record Run(String id, long startedAtMs) {
    }

    private final Connection c;
    private final String pipeline;

    VerifyRuns(Connection target, String pipeline) throws SQLException {
        this.c = target;
        this.pipeline = pipeline;
        OrchestrationTables.createVerifyTables(c);
        c.commit();
    }

    Run start(String migration) throws SQLException {
        String id = pipeline + "-" + DateTimeFormatter.ofPattern("yyyyMMdd'T'HHmmss.SSS'Z'")
                .withZone(ZoneOffset.UTC).format(Instant.now());
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (run_id, pipeline, migration) VALUES (?, ?, ?)")) {
            ps.setString(1, id);
            ps.setString(2, pipeline);
            ps.setString(3, migration);
            ps.executeUpdate();
        }
        c.commit();
        return new Run(id, System.currentTimeMillis());
    }

    /** The newest unfinished run of the pipeline, or null. */
    Run resumable() throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT run_id, (extract(epoch FROM started_at) * 1000)::bigint FROM " + TABLE
                + " WHERE pipeline = ? AND finished_at IS NULL ORDER BY started_at DESC LIMIT 1")) {
            ps.setString(1, pipeline);
            try (ResultSet rs = ps.executeQuery()) {
                Run run = rs.next() ? new Run(rs.getString(1), rs.getLong(2)) : null;
                c.commit();
                return run;
            }
        }
    }

    void finish(Run run) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("UPDATE " + TABLE + " SET finished_at = now() WHERE run_id = ?")) {
            ps.setString(1, run.id());
            ps.executeUpdate();
        }
        c.commit();
    }

    TableState table(Run run, String table) throws SQLException {
        TableState state = new TableState(run.id(), table);
        try (PreparedStatement ps = c.prepareStatement("SELECT snapshot_lsn, last_key, done, processed, target_rows, chunks, chunks_differing, "
                + "settled, millis FROM " + TABLES + " WHERE run_id = ? AND table_name = ?")) {
            ps.setString(1, run.id());
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                if (rs.next()) {
                    state.snapshotLsn = rs.getLong(1);
                    Array key = rs.getArray(2);
                    state.lastKey = key == null ? null : Arrays.asList((String[]) key.getArray());
                    state.done = rs.getBoolean(3);
                    state.processed = rs.getLong(4);
                    state.targetRows = rs.getLong(5);
                    state.chunks = rs.getLong(6);
                    state.chunksDiffering = rs.getLong(7);
                    state.settled = rs.getLong(8);
                    state.millis = rs.getLong(9);
                }
            }
        }
        try (PreparedStatement ps = c.prepareStatement("SELECT kind, key_json, key_values FROM " + DIFFERENCES
                + " WHERE run_id = ? AND table_name = ? ORDER BY kind, key_json")) {
            ps.setString(1, run.id());
            ps.setString(2, table);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    state.kind(rs.getString(1)).put(rs.getString(2), Arrays.asList((String[]) rs.getArray(3).getArray()));
                }
            }
        }
        c.commit();
        return state;
    }

    /** One table's stored progress within a run. */
    final class TableState {
        private final String runId;
        private final String table;
        private long snapshotLsn = -1;
        private List<String> lastKey;
        private boolean done;
        private long processed;
        private long targetRows;
        private long chunks;
        private long chunksDiffering;
        private long settled;
        private long millis;
        private final Map<String, List<String>> mismatched = new LinkedHashMap<>();
        private final Map<String, List<String>> missing = new LinkedHashMap<>();
        private final Map<String, List<String>> extra = new LinkedHashMap<>();

        private TableState(String runId, String table) {
            this.runId = runId;
            this.table = table;
        }

        private Map<String, List<String>> kind(String kind) {
            return switch (kind) {
                case "mismatched" -> mismatched;
                case "missing" -> missing;
                default -> extra;
            };
        }

        boolean done() {
            return done;
        }

        long snapshotLsn() {
            return snapshotLsn;
        }

        List<String> lastKey() {
            return lastKey;
        }

        void restoreInto(TableVerifier v) {
            v.processed = processed;
            v.targetRows = targetRows;
            v.chunks = chunks;
            v.chunksDiffering = chunksDiffering;
            v.mismatchedKeys.putAll(mismatched);
            v.missingKeys.putAll(missing);
            v.extraKeys.putAll(extra);
        }

        TableReport report() {
            TableVerifier v = new TableVerifier(table, null, null, 1, 5, new boolean[0]);
            restoreInto(v);
            return v.report(settled, snapshotLsn, millis);
        }

        /** Records a finished chunk: its upper key (null for the last), the counts, the keys found different so far. */
        void chunkDone(List<String> upper, TableVerifier v, long lsn) throws SQLException {
            if (upper != null) {
                lastKey = upper;
            }
            snapshotLsn = snapshotLsn >= 0 ? snapshotLsn : lsn;
            save(v, false, 0, 0);
        }

        void finish(TableReport report, TableVerifier v) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + DIFFERENCES + " WHERE run_id = ? AND table_name = ?")) {
                ps.setString(1, runId);
                ps.setString(2, table);
                ps.executeUpdate();
            }
            mismatched.clear();
            missing.clear();
            extra.clear();
            save(v, true, report.settled(), report.millis());
        }

        private void save(TableVerifier v, boolean finished, long settledKeys, long ms) throws SQLException {
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLES + " AS t (run_id, table_name, snapshot_lsn, last_key, done, "
                    + "processed, target_rows, chunks, chunks_differing, settled, millis) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    + "ON CONFLICT (run_id, table_name) DO UPDATE SET last_key = EXCLUDED.last_key, done = EXCLUDED.done, "
                    + "processed = EXCLUDED.processed, target_rows = EXCLUDED.target_rows, chunks = EXCLUDED.chunks, "
                    + "chunks_differing = EXCLUDED.chunks_differing, settled = EXCLUDED.settled, millis = EXCLUDED.millis, updated_at = now()")) {
                ps.setString(1, runId);
                ps.setString(2, table);
                ps.setLong(3, snapshotLsn);
                ps.setArray(4, lastKey == null ? null : c.createArrayOf("text", lastKey.toArray()));
                ps.setBoolean(5, finished);
                ps.setLong(6, v.processed);
                ps.setLong(7, v.targetRows);
                ps.setLong(8, v.chunks);
                ps.setLong(9, v.chunksDiffering);
                ps.setLong(10, settledKeys);
                ps.setLong(11, ms);
                ps.executeUpdate();
            }
            List<Object[]> fresh = new ArrayList<>();
            collect("mismatched", v.mismatchedKeys, mismatched, fresh);
            collect("missing", v.missingKeys, missing, fresh);
            collect("extra", v.extraKeys, extra, fresh);
            if (!fresh.isEmpty()) {
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + DIFFERENCES + " (run_id, table_name, kind, key_json, key_values) "
                        + "VALUES (?, ?, ?, ?, ?) ON CONFLICT DO NOTHING")) {
                    for (Object[] f : fresh) {
                        ps.setString(1, runId);
                        ps.setString(2, table);
                        ps.setString(3, (String) f[0]);
                        ps.setString(4, (String) f[1]);
                        @SuppressWarnings("unchecked")
                        List<String> values = (List<String>) f[2];
                        ps.setArray(5, c.createArrayOf("text", values.toArray()));
                        ps.addBatch();
                    }
                    ps.executeBatch();
                }
            }
            c.commit();
        }

        private void collect(String kind, Map<String, List<String>> found, Map<String, List<String>> saved, List<Object[]> fresh) {
            for (Map.Entry<String, List<String>> e : found.entrySet()) {
                if (!saved.containsKey(e.getKey())) {
                    saved.put(e.getKey(), e.getValue());
                    fresh.add(new Object[]{kind, e.getKey(), e.getValue()});
                }
            }
        }
    }
}

package dev.understudy.verify;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/** Finished verify runs as the target records them ({@link VerifyRuns}), for the cutover gate and repair. */
public final class VerifyHistory {
    /**
     * The newest finished run of a pipeline.
     *
     * @param snapshotLsn the oldest legacy snapshot among its tables (a resumed run reads later ones too)
     * @param tables      the target tables it verified
     * @param differences keys found different, over all tables
     */
    public record Run(String runId, long snapshotLsn, List<String> tables, long differences, long finishedAtMs) {
        public boolean clean() {
            return differences == 0;
        }
    }

    /**
     * A key a run found different.
     *
     * @param table  the target table
     * @param kind   mismatched, missing (only the legacy side has it) or extra (only the target has it)
     * @param keyJson the key as JSON, in the form verify reports
     */
    public record Difference(String table, String kind, String keyJson) {
        /** Only the target has the key. */
        public boolean extra() {
            return "extra".equals(kind);
        }
    }

    private VerifyHistory() {
    }

    /** The id of the newest finished verify run of {@code pipeline}, or null when none (or verify never ran). */
    public static String newestRunId(Connection target, String pipeline) throws SQLException {
        try (PreparedStatement ps = target.prepareStatement("SELECT run_id FROM " + VerifyRuns.TABLE
                + " WHERE pipeline = ? AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1")) {
            ps.setString(1, pipeline);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getString(1) : null;
            }
        } catch (SQLException e) {
            if ("42P01".equals(e.getSQLState())) {
                return null;
            }
            throw e;
        }
    }

    /** The keys run {@code runId} found different, by table and key. */
    public static List<Difference> differences(Connection target, String runId) throws SQLException {
        List<Difference> out = new ArrayList<>();
        try (PreparedStatement ps = target.prepareStatement("SELECT table_name, kind, key_json FROM " + VerifyRuns.DIFFERENCES
                + " WHERE run_id = ? ORDER BY table_name, key_json")) {
            ps.setString(1, runId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.add(new Difference(rs.getString(1), rs.getString(2), rs.getString(3)));
                }
            }
        }
        return out;
    }

    /** The newest finished verify run of {@code pipeline}, or null when none (or verify never ran). */
    public static Run newest(Connection target, String pipeline) throws SQLException {
        String runId;
        long finishedAt;
        try (PreparedStatement ps = target.prepareStatement("SELECT run_id, (extract(epoch FROM finished_at) * 1000)::bigint FROM "
                + VerifyRuns.TABLE + " WHERE pipeline = ? AND finished_at IS NOT NULL ORDER BY finished_at DESC LIMIT 1")) {
            ps.setString(1, pipeline);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return null;
                }
                runId = rs.getString(1);
                finishedAt = rs.getLong(2);
            }
        } catch (SQLException e) {
            if ("42P01".equals(e.getSQLState())) {
                return null;
            }
            throw e;
        }
        long lsn = Long.MAX_VALUE;
        List<String> tables = new ArrayList<>();
        try (PreparedStatement ps = target.prepareStatement("SELECT table_name, snapshot_lsn FROM " + VerifyRuns.TABLES + " WHERE run_id = ?")) {
            ps.setString(1, runId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    tables.add(rs.getString(1));
                    lsn = Math.min(lsn, rs.getLong(2));
                }
            }
        }
        long differences;
        try (PreparedStatement ps = target.prepareStatement("SELECT count(*) FROM " + VerifyRuns.DIFFERENCES + " WHERE run_id = ?")) {
            ps.setString(1, runId);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                differences = rs.getLong(1);
            }
        }
        return new Run(runId, lsn == Long.MAX_VALUE ? -1 : lsn, tables, differences, finishedAt);
    }
}

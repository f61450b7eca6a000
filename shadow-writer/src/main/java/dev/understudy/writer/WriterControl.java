package dev.understudy.writer;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.Optional;

/**
 * Operator controls for every writer of a group, kept in the target database ({@value #TABLE}): a
 * pause and a rate limit that all members read about once a second. The target is the one place
 * every writer process already reaches, so {@code understudy throttle} needs no channel to them.
 */
public final class WriterControl {
    public static final String TABLE = "understudy.writer_control";

    /**
     * @param paused             stop applying until cleared
     * @param maxRecordsPerSecond records per second for each member; null leaves the member's own setting
     */
    public record Control(boolean paused, Double maxRecordsPerSecond) {
    }

    private static final String CREATE = "CREATE TABLE IF NOT EXISTS " + TABLE + " (group_id text PRIMARY KEY, "
            + "paused boolean NOT NULL DEFAULT false, max_records_per_second double precision, updated_at timestamptz NOT NULL DEFAULT now())";

    private WriterControl() {
    }

    /** Creates the table when missing; skips the DDL when it exists (a role without CREATE still starts). */
    public static void ensureTable(Connection c) throws SQLException {
        BookkeepingTables.createIfMissing(c, TABLE, BookkeepingTables.TABLE_EXISTS, CREATE);
    }

    /** The group's controls, or empty when none were ever set. */
    public static Optional<Control> read(Connection c, String groupId) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT paused, max_records_per_second FROM " + TABLE + " WHERE group_id = ?")) {
            ps.setString(1, groupId);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    return Optional.empty();
                }
                double rate = rs.getDouble(2);
                return Optional.of(new Control(rs.getBoolean(1), rs.wasNull() ? null : rate));
            }
        }
    }

    /** Sets the group's controls (autocommit or the caller's transaction); a null rate clears the limit override. */
    public static void write(Connection c, String groupId, Control control) throws SQLException {
        ensureTable(c);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (group_id, paused, max_records_per_second) "
                + "VALUES (?, ?, ?) ON CONFLICT (group_id) DO UPDATE SET paused = EXCLUDED.paused, "
                + "max_records_per_second = EXCLUDED.max_records_per_second, updated_at = now()")) {
            ps.setString(1, groupId);
            ps.setBoolean(2, control.paused());
            if (control.maxRecordsPerSecond() == null) {
                ps.setNull(3, java.sql.Types.DOUBLE);
            } else {
                ps.setDouble(3, control.maxRecordsPerSecond());
            }
            ps.executeUpdate();
        }
    }
}

package dev.understudy.writer;

import dev.understudy.writer.WriterBookkeeping.Control;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Types;
import java.util.Optional;

/**
 * Operator controls for every writer of a group, kept in the target database ({@value #TABLE}): a
 * pause and a rate limit that all members read about once a second. The target is the one place
 * every writer process already reaches, so {@code understudy throttle} needs no channel to them.
 */
final class WriterControl {
    static final String TABLE = BookkeepingTables.WRITER_CONTROL;

    private WriterControl() {
    }

    /** The group's controls, or empty when none were ever set. */
    static Optional<Control> read(Connection c, String groupId) throws SQLException {
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
    static void write(Connection c, String groupId, Control control) throws SQLException {
        BookkeepingTables.ensureControl(c);
        try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE + " (group_id, paused, max_records_per_second) "
                + "VALUES (?, ?, ?) ON CONFLICT (group_id) DO UPDATE SET paused = EXCLUDED.paused, "
                + "max_records_per_second = EXCLUDED.max_records_per_second, updated_at = now()")) {
            ps.setString(1, groupId);
            ps.setBoolean(2, control.paused());
            if (control.maxRecordsPerSecond() == null) {
                ps.setNull(3, Types.DOUBLE);
            } else {
                ps.setDouble(3, control.maxRecordsPerSecond());
            }
            ps.executeUpdate();
        }
    }
}

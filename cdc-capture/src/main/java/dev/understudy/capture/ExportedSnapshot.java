package dev.understudy.capture;

import org.postgresql.PGProperty;
import org.postgresql.replication.LogSequenceNumber;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Optional;
import java.util.Properties;

/**
 * A logical replication slot created together with an exported snapshot: the point from which a
 * bulk read and the change stream fit together with nothing missed and nothing twice.
 * <p>
 * Why this point: {@code CREATE_REPLICATION_SLOT ... LOGICAL ... EXPORT_SNAPSHOT} on a replication
 * connection (PostgreSQL docs, "Streaming Replication Protocol") returns the slot's
 * {@code consistent_point} and the name of a snapshot that sees exactly the transactions committed
 * before it. Decoding from the slot starts with the first transaction that commits after that point
 * ("Logical Decoding Concepts", "Exported Snapshots"). Rows read in a transaction that imports the
 * snapshot ({@code SET TRANSACTION SNAPSHOT}, "Transaction Isolation") plus every change streamed from
 * the slot are therefore the table's history with no gap and no overlap, however many connections
 * read it in parallel. PeerDB's and Debezium's own initial snapshots rest on the same guarantee.
 * <p>
 * The snapshot can be imported only while the connection that created it is open and has run nothing
 * else ({@link #close()} ends it); the slot survives, holding the WAL from its consistent point until a
 * consumer confirms. A snapshot export needs a database user with the REPLICATION attribute, as the
 * capture does.
 */
public final class ExportedSnapshot implements AutoCloseable {
    private final Connection replication;
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final String slotName;
    private final String snapshotName;
    private final LogSequenceNumber consistentPoint;

    private ExportedSnapshot(Connection replication, String jdbcUrl, String user, String password, String slotName,
                             String snapshotName, LogSequenceNumber consistentPoint) {
        this.replication = replication;
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.slotName = slotName;
        this.snapshotName = snapshotName;
        this.consistentPoint = consistentPoint;
    }

    /**
     * Creates logical slot {@code slotName} with output plugin {@code plugin} (pgoutput for the
     * capture) and exports its snapshot.
     *
     * @throws SQLException naming the slot, with what to do, when it exists already: a slot that
     *                      exists has a consistent point in the past, whose snapshot is gone
     */
    public static ExportedSnapshot create(String jdbcUrl, String user, String password, String slotName, String plugin) throws SQLException {
        if (!slotName.matches("[a-z0-9_]{1,63}")) {
            // PostgreSQL's own rule for slot names (ReplicationSlotValidateName).
            throw new IllegalArgumentException("Replication slot name '" + slotName + "' is not valid: use at most 63 lower-case letters,"
                    + " digits and underscores");
        }
        Optional<Slot> existing = slot(jdbcUrl, user, password, slotName);
        if (existing.isPresent()) {
            throw new SQLException("Replication slot " + slotName + " exists already on " + jdbcUrl + " (confirmed up to "
                    + existing.get().confirmedFlushLsn() + (existing.get().active() ? ", in use" : "") + "), so its starting point is in"
                    + " the past and no snapshot of that point can be exported: resume streaming from the slot, or drop it (SELECT"
                    + " pg_drop_replication_slot('" + slotName + "')) to load the tables again from a new point", "42710");
        }
        Properties p = new Properties();
        PGProperty.USER.set(p, user);
        PGProperty.PASSWORD.set(p, password);
        PGProperty.REPLICATION.set(p, "database");
        // The replication protocol accepts the simple query protocol only.
        PGProperty.PREFER_QUERY_MODE.set(p, "simple");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "10");
        Connection replication = DriverManager.getConnection(jdbcUrl, p);
        try (Statement s = replication.createStatement();
             // EXPORT_SNAPSHOT is the form every supported server (10 and later) reads; 15 added (SNAPSHOT 'export').
             ResultSet rs = s.executeQuery("CREATE_REPLICATION_SLOT " + slotName + " LOGICAL " + plugin + " EXPORT_SNAPSHOT")) {
            rs.next();
            LogSequenceNumber point = LogSequenceNumber.valueOf(rs.getString("consistent_point"));
            String snapshot = rs.getString("snapshot_name");
            return new ExportedSnapshot(replication, jdbcUrl, user, password, slotName, snapshot, point);
        } catch (SQLException | RuntimeException e) {
            replication.close();
            throw e;
        }
    }

    public String slotName() {
        return slotName;
    }

    public String snapshotName() {
        return snapshotName;
    }

    /** The slot's consistent point: streaming from the slot continues right after what the snapshot sees. */
    public LogSequenceNumber consistentPoint() {
        return consistentPoint;
    }

    /**
     * A new connection in a read-only REPEATABLE READ transaction that sees the exported snapshot;
     * the caller reads, then commits (or rolls back) and closes it.
     */
    public Connection open() throws SQLException {
        if (replication.isClosed()) {
            throw new SQLException("The snapshot " + snapshotName + " of replication slot " + slotName + " was closed and can no longer be"
                    + " imported", "55000");
        }
        Connection c = DriverManager.getConnection(jdbcUrl, user, password);
        try (Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            s.execute("SET TRANSACTION SNAPSHOT '" + snapshotName.replace("'", "''") + "'");
            return c;
        } catch (SQLException | RuntimeException e) {
            c.close();
            throw e;
        }
    }

    /** A replication slot as the server lists it: whether a connection streams from it, and how far it is confirmed. */
    public record Slot(boolean active, String confirmedFlushLsn) {
    }

    /** Replication slot {@code slotName}, or empty when it does not exist (pg_replication_slots). */
    public static Optional<Slot> slot(String jdbcUrl, String user, String password, String slotName) throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password);
             PreparedStatement ps = c.prepareStatement("SELECT active, confirmed_flush_lsn::text FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slotName);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? Optional.of(new Slot(rs.getBoolean(1), rs.getString(2))) : Optional.empty();
            }
        }
    }

    /**
     * Drops replication slot {@code slotName} if it exists and no consumer holds it; true when it was
     * dropped. A slot nobody reads keeps its server's WAL from being recycled (PostgreSQL docs,
     * "Replication Slots"), so a load that will not be followed by streaming drops its slot.
     */
    public static boolean dropSlot(String jdbcUrl, String user, String password, String slotName) throws SQLException {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password);
             PreparedStatement ps = c.prepareStatement("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots"
                     + " WHERE slot_name = ? AND NOT active")) {
            ps.setString(1, slotName);
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next();
            }
        }
    }

    /** Ends the exporting connection: the snapshot can no longer be imported. The slot stays. */
    @Override
    public void close() throws SQLException {
        replication.close();
    }

    @Override
    public String toString() {
        return "snapshot " + snapshotName + " of slot " + slotName + " at " + consistentPoint.asString();
    }
}

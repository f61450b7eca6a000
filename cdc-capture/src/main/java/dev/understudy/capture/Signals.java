package dev.understudy.capture;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Map;

/**
 * The capture's two tables in its source database, {@link CaptureSettings#signalTable()} and
 * {@link CaptureSettings#heartbeatTable()}: their DDL and every statement written to them, so that
 * what Debezium reads from them is spelled in one place, whoever writes.
 * <p>
 * The signal table has the structure Debezium documents for the source signalling channel:
 * {@code id} (the signal's id; Debezium also writes its window watermarks with ids derived from it),
 * {@code type} (e.g. execute-snapshot) and {@code data} (the JSON payload). Debezium reads these rows
 * from the WAL, so the table must be in the publication. The heartbeat table is captured like a
 * table so that the replication slot's confirmed position passes every write to it.
 */
public final class Signals {
    static final String EXECUTE_SNAPSHOT = "execute-snapshot";
    /** The signal table's columns, also named to an operator who has to create it by hand. */
    static final String SIGNAL_COLUMNS = "(id varchar(64) PRIMARY KEY, type varchar(32) NOT NULL, data varchar(2048))";
    private static final String HEARTBEAT_COLUMNS = "(id int PRIMARY KEY, at timestamptz NOT NULL)";
    /**
     * The heartbeat row Debezium writes at every heartbeat; other writers use their own row, so a
     * nudge never waits on the row lock of Debezium's heartbeat transaction or the other way round.
     */
    private static final int DEBEZIUM_HEARTBEAT_ROW = 1;
    private static final int NUDGE_HEARTBEAT_ROW = 2;

    private Signals() {
    }

    /** Creates the signal table and the heartbeat table when missing. */
    static void createTables(Connection source, String signalTable, String heartbeatTable) throws SQLException {
        try (Statement s = source.createStatement()) {
            s.execute("CREATE TABLE IF NOT EXISTS " + signalTable + " " + SIGNAL_COLUMNS);
            s.execute("CREATE TABLE IF NOT EXISTS " + heartbeatTable + " " + HEARTBEAT_COLUMNS);
        }
    }

    /** Debezium's {@code heartbeat.action.query}: a change in a captured table at every heartbeat. */
    static String heartbeatStatement(String heartbeatTable) {
        return heartbeatUpsert(heartbeatTable, DEBEZIUM_HEARTBEAT_ROW);
    }

    private static String heartbeatUpsert(String heartbeatTable, int row) {
        return "INSERT INTO " + heartbeatTable + " (id, at) VALUES (" + row + ", now()) ON CONFLICT (id) DO UPDATE SET at = EXCLUDED.at";
    }

    /**
     * Writes the heartbeat table (autocommit or the caller's transaction): a captured change, so the
     * capture's slot confirms past the current WAL position within an offset flush even while the
     * captured tables are idle, rather than at Debezium's next heartbeat.
     *
     * @param heartbeatTable the capture's {@link CaptureSettings#heartbeatTable()}
     */
    public static void nudge(Connection source, String heartbeatTable) throws SQLException {
        try (Statement s = source.createStatement()) {
            s.execute(heartbeatUpsert(heartbeatTable, NUDGE_HEARTBEAT_ROW));
        }
    }

    /**
     * Inserts an execute-snapshot signal for an incremental snapshot of every row of {@code tables}
     * (schema-qualified, each captured by the capture that owns {@code signalTable}).
     *
     * @param signalId the signal's id, at most 64 characters; the capture reports progress under it
     */
    public static void requestIncrementalSnapshot(Connection source, String signalTable, String signalId, List<String> tables)
            throws SQLException {
        insert(source, signalTable, signalId, executeSnapshotData(tables, Map.of()));
    }

    /**
     * As {@link #requestIncrementalSnapshot(Connection, String, String, List)}, each table named in
     * {@code filters} read only where its filter holds (Debezium's {@code additional-conditions}).
     */
    public static void requestIncrementalSnapshot(Connection source, String signalTable, String signalId, List<String> tables,
                                                  Map<String, String> filters) throws SQLException {
        insert(source, signalTable, signalId, executeSnapshotData(tables, filters));
    }

    /**
     * Inserts an execute-snapshot signal for an incremental snapshot of the rows of {@code table} that
     * satisfy {@code filter}, Debezium's {@code additional-conditions}: a SQL condition on the table's
     * own columns, e.g. {@code (id) IN ('1', '2')}.
     */
    public static void requestIncrementalSnapshotOfRows(Connection source, String signalTable, String signalId, String table, String filter)
            throws SQLException {
        insert(source, signalTable, signalId, executeSnapshotData(List.of(table), Map.of(table, filter)));
    }

    private static void insert(Connection source, String signalTable, String signalId, String data) throws SQLException {
        try (PreparedStatement ps = source.prepareStatement("INSERT INTO " + signalTable + " (id, type, data) VALUES (?, ?, ?)")) {
            ps.setString(1, signalId);
            ps.setString(2, EXECUTE_SNAPSHOT);
            ps.setString(3, data);
            ps.executeUpdate();
        }
    }

    /**
     * {@code {"data-collections": ["public.a", ...], "type": "incremental"}}, Debezium's execute-snapshot
     * payload, with {@code "additional-conditions": [{"data-collection": ..., "filter": ...}, ...]} for the
     * tables {@code filters} names.
     */
    static String executeSnapshotData(List<String> tables, Map<String, String> filters) {
        StringBuilder b = new StringBuilder("{\"data-collections\": [");
        for (int i = 0; i < tables.size(); i++) {
            b.append(i > 0 ? ", " : "").append('"').append(jsonEscape(tables.get(i))).append('"');
        }
        b.append("], \"type\": \"incremental\"");
        if (!filters.isEmpty()) {
            b.append(", \"additional-conditions\": [");
            int i = 0;
            for (String table : tables) {
                String filter = filters.get(table);
                if (filter != null) {
                    b.append(i++ > 0 ? ", " : "").append("{\"data-collection\": \"").append(jsonEscape(table))
                            .append("\", \"filter\": \"").append(jsonEscape(filter)).append("\"}");
                }
            }
            b.append(']');
        }
        return b.append('}').toString();
    }

    private static String jsonEscape(String s) {
        StringBuilder b = new StringBuilder(s.length());
        for (char ch : s.toCharArray()) {
            switch (ch) {
                case '"' -> b.append("\\\"");
                case '\\' -> b.append("\\\\");
                default -> {
                    if (ch < 0x20) {
                        b.append(String.format("\\u%04x", (int) ch));
                    } else {
                        b.append(ch);
                    }
                }
            }
        }
        return b.toString();
    }
}

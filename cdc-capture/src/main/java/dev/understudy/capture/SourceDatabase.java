package dev.understudy.capture;

import dev.understudy.schemas.SqlNames;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.UUID;

/**
 * What a capture does on its source database through plain JDBC, beside Debezium: keep the
 * publication complete, and write the Debezium signal table ({@link Signals}). Debezium reads the
 * signal rows from the WAL, so the table must be in the publication (see
 * {@link #addMissingTablesToPublication()}).
 */
final class SourceDatabase {
    private static final Logger LOG = LoggerFactory.getLogger(SourceDatabase.class);

    private final CaptureSettings settings;
    private final String table;

    SourceDatabase(CaptureSettings settings) {
        this.settings = settings;
        this.table = settings.signalTable();
    }

    /** The signal table's name, null when the capture has none. */
    String signalTable() {
        return table;
    }

    /**
     * Adds the captured tables and the signal table (those that exist) to an existing filtered
     * publication when they are missing from it; returns the tables added.
     * <p>
     * Debezium 3.6 does this too when its engine starts (PostgresReplicationConnection.initPublication
     * compares pg_publication_tables with its table filter and runs ALTER PUBLICATION ... SET TABLE),
     * but asynchronously, some time after {@link CdcCapture#start()} returned. pgoutput decides what to
     * send by the publication as of each change's position in the WAL, so a change to an added table
     * committed before that ALTER is never streamed. Done here, synchronously and before the engine
     * starts, every change committed after {@code start()} returns is streamed; older rows are what an
     * incremental snapshot is for. A missing publication is left to Debezium, which creates it with
     * every captured table; a FOR ALL TABLES publication already covers them.
     */
    List<String> addMissingTablesToPublication() throws SQLException {
        List<String> wanted = publishedTables();
        List<String> added = new ArrayList<>();
        try (Connection c = connect()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT puballtables FROM pg_publication WHERE pubname = ?")) {
                ps.setString(1, settings.publication());
                try (ResultSet rs = ps.executeQuery()) {
                    if (!rs.next() || rs.getBoolean(1)) {
                        return added;
                    }
                }
            }
            Set<String> published = new HashSet<>();
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT schemaname || '.' || tablename FROM pg_publication_tables WHERE pubname = ?")) {
                ps.setString(1, settings.publication());
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        published.add(rs.getString(1));
                    }
                }
            }
            try (PreparedStatement exists = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL");
                 Statement s = c.createStatement()) {
                for (String t : wanted) {
                    if (published.contains(t)) {
                        continue;
                    }
                    exists.setString(1, SqlNames.qualified(t));
                    try (ResultSet rs = exists.executeQuery()) {
                        rs.next();
                        if (!rs.getBoolean(1)) {
                            continue; // Debezium does not publish a table that does not exist either.
                        }
                    }
                    s.execute("ALTER PUBLICATION " + settings.publication() + " ADD TABLE " + SqlNames.qualified(t));
                    added.add(t);
                }
            }
        }
        if (!added.isEmpty()) {
            LOG.info("Capture '{}': added {} to publication {}", settings.name(), added, settings.publication());
        }
        return added;
    }

    /**
     * Creates the capture's filtered publication when it is missing, with the captured tables and
     * the signal and heartbeat tables that exist, as Debezium's {@code publication.autocreate.mode=filtered}
     * would at the engine's start. Needed before a replication slot is created ahead of the engine:
     * pgoutput reads the publication as of each change's position in the WAL, so a publication created
     * after the slot's consistent point is not found for the changes in between ("publication does
     * not exist"). Returns true when it was created.
     */
    boolean createPublicationIfMissing() throws SQLException {
        try (Connection c = connect()) {
            try (PreparedStatement ps = c.prepareStatement("SELECT 1 FROM pg_publication WHERE pubname = ?")) {
                ps.setString(1, settings.publication());
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        return false;
                    }
                }
            }
            List<String> existing = new ArrayList<>();
            try (PreparedStatement exists = c.prepareStatement("SELECT to_regclass(?) IS NOT NULL")) {
                for (String t : publishedTables()) {
                    exists.setString(1, SqlNames.qualified(t));
                    try (ResultSet rs = exists.executeQuery()) {
                        rs.next();
                        if (rs.getBoolean(1)) {
                            existing.add(SqlNames.qualified(t));
                        }
                    }
                }
            }
            try (Statement s = c.createStatement()) {
                s.execute("CREATE PUBLICATION " + settings.publication() + (existing.isEmpty() ? "" : " FOR TABLE " + String.join(", ", existing)));
            }
            LOG.info("Capture '{}': created publication {} for {}", settings.name(), settings.publication(), existing);
            return true;
        }
    }

    /** The tables the capture's publication holds: the captured tables, then the signal and heartbeat tables. */
    private List<String> publishedTables() {
        List<String> wanted = new ArrayList<>(settings.tables());
        if (table != null) {
            wanted.add(table);
            wanted.add(settings.heartbeatTable());
        }
        return wanted;
    }

    /** Creates the signal table and the heartbeat table when missing. */
    void createSignalTable() throws SQLException {
        try (Connection c = connect()) {
            Signals.createTables(c, table, settings.heartbeatTable());
        }
    }

    /** Inserts an execute-snapshot signal for an incremental snapshot of {@code tables}; returns its id. */
    String requestIncrementalSnapshot(List<String> tables) throws SQLException {
        return requestIncrementalSnapshot(tables, Map.of());
    }

    /** As {@link #requestIncrementalSnapshot(List)}, the tables {@code filters} names read where their filter holds. */
    String requestIncrementalSnapshot(List<String> tables, Map<String, String> filters) throws SQLException {
        String id = UUID.randomUUID().toString();
        try (Connection c = connect()) {
            Signals.requestIncrementalSnapshot(c, table, id, tables, filters);
        }
        return id;
    }

    /**
     * The planner's row estimate per table: {@code pg_class.reltuples}, which is -1 for a table never
     * vacuumed or analysed (PostgreSQL 14+), in which case the statistics system's {@code n_live_tup};
     * -1 when neither is known.
     */
    Map<String, Long> estimatedRows(List<String> tables) throws SQLException {
        Map<String, Long> out = new LinkedHashMap<>();
        try (Connection c = connect();
             PreparedStatement ps = c.prepareStatement("SELECT c.reltuples::bigint, s.n_live_tup FROM pg_class c"
                     + " LEFT JOIN pg_stat_user_tables s ON s.relid = c.oid WHERE c.oid = to_regclass(?)")) {
            for (String t : tables) {
                ps.setString(1, SqlNames.qualified(t));
                long estimate = -1;
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        long reltuples = rs.getLong(1);
                        long live = rs.getLong(2);
                        boolean liveKnown = !rs.wasNull();
                        estimate = reltuples >= 0 ? reltuples : liveKnown ? live : -1;
                    }
                }
                out.put(t, estimate);
            }
        }
        return out;
    }

    /**
     * Debezium {@code snapshot.select.statement.overrides} for the captured tables with a {@code date}
     * column: the snapshot reads each such column as text ({@code "c"::text AS "c"}), every other
     * column as it is. Debezium reads a date with JDBC getObject, and pgjdbc builds a java.sql.Date on a
     * Julian-Gregorian calendar, on which the ten days 1582-10-05 to 1582-10-14 that PostgreSQL's
     * proleptic Gregorian calendar has do not exist (they become 10-15 to 10-24); the text is exact, and
     * ExactValueConverter reads it as it reads streamed dates. Debezium maps the result columns to the
     * table's by name (ColumnUtils.toArray), so the alias keeps the column.
     */
    Properties snapshotOverrides() throws SQLException {
        Properties p = new Properties();
        List<String> overridden = new ArrayList<>();
        try (Connection c = connect();
             PreparedStatement ps = c.prepareStatement("SELECT string_agg(CASE WHEN a.atttypid = 'date'::regtype"
                     + " THEN quote_ident(a.attname) || '::text AS ' || quote_ident(a.attname) ELSE quote_ident(a.attname) END, ', '"
                     + " ORDER BY a.attnum), bool_or(a.atttypid = 'date'::regtype), quote_ident(n.nspname) || '.' || quote_ident(r.relname)"
                     + " FROM pg_attribute a JOIN pg_class r ON r.oid = a.attrelid JOIN pg_namespace n ON n.oid = r.relnamespace"
                     + " WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped GROUP BY n.nspname, r.relname")) {
            for (String table : settings.tables()) {
                ps.setString(1, SqlNames.qualified(table));
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next() && rs.getBoolean(2)) {
                        overridden.add(table);
                        p.setProperty("snapshot.select.statement.overrides." + table,
                                "SELECT " + rs.getString(1) + " FROM " + rs.getString(3));
                    }
                }
            }
        }
        if (!overridden.isEmpty()) {
            p.setProperty("snapshot.select.statement.overrides", String.join(",", overridden));
        }
        return p;
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(settings.jdbcUrl(), settings.user(), settings.password() == null ? "" : settings.password());
    }
}

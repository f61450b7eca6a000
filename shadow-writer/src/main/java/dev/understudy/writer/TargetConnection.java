package dev.understudy.writer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Properties;

/**
 * The writer's one connection to the target database: opened with the session settings the writer
 * relies on, kept across batches, dropped when a failure broke it so that the retry reconnects.
 */
final class TargetConnection implements AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(TargetConnection.class);

    private final ShadowWriterConfig config;
    private volatile Connection connection;

    TargetConnection(ShadowWriterConfig config) {
        this.config = config;
    }

    /** The open connection, or null when there is none (not opened yet, or dropped). */
    Connection current() {
        return connection;
    }

    /**
     * Opens a connection with the writer's session settings and makes sure the writer's bookkeeping
     * tables exist, then hands it to {@code prepare} (which may read the catalog) before it becomes
     * {@link #current}. On any failure the connection is closed and nothing is kept.
     */
    Connection open(Preparation prepare) throws SQLException {
        Properties props = new Properties();
        if (config.user() != null) {
            props.setProperty("user", config.user());
        }
        if (config.password() != null) {
            props.setProperty("password", config.password());
        }
        props.setProperty("ApplicationName", "understudy-shadow-writer");
        props.setProperty("tcpKeepAlive", "true");
        Connection c = DriverManager.getConnection(config.jdbcUrl(), props);
        try {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                // Offsets are committed right after the database commit. With synchronous_commit off,
                // a database crash can lose recently committed transactions (PostgreSQL docs,
                // "Asynchronous Commit") whose offsets Kafka already holds, so they would never be
                // re-read. Force it on for this connection whatever the server, database or role default.
                s.execute("SET synchronous_commit = on");
                // pgjdbc starts the connection in the JVM's time zone. The values sent are zone-free
                // (instants end in Z; a zone in a timestamp-without-time-zone literal is ignored), but
                // a zone-less local timestamp cast to timestamptz, or a trigger using the current zone,
                // would depend on where the writer runs; UTC makes it the same everywhere, and matches
                // RowValues, which renders local timestamps as UTC wall-clock time.
                s.execute("SET TimeZone = 'UTC'");
            }
            c.commit();
            BookkeepingTables.ensurePositions(c);
            BookkeepingTables.ensureControl(c);
            c.commit();
            prepare.prepare(c);
        } catch (SQLException | RuntimeException e) {
            closeQuietly(c);
            throw e;
        }
        connection = c;
        return c;
    }

    /** What the writer does with a freshly opened connection before using it. */
    @FunctionalInterface
    interface Preparation {
        void prepare(Connection c) throws SQLException;
    }

    /** After a retriable error: keeps the connection if it still works, else drops it so the retry reconnects. */
    void dropIfBroken(String sqlState) {
        Connection c = connection;
        if (c == null) {
            return;
        }
        boolean broken = SqlErrorClassifier.connectionLost(sqlState);
        if (!broken) {
            try {
                broken = c.isClosed() || !c.isValid(2);
            } catch (SQLException e) {
                broken = true;
            }
        }
        if (broken) {
            connection = null;
            closeQuietly(c);
        }
    }

    /** Aborts the connection from another thread, to unblock a statement waiting in the database (e.g. on a lock). */
    void abort() {
        Connection c = connection;
        if (c != null) {
            try {
                c.abort(Runnable::run);
            } catch (SQLException | RuntimeException e) {
                log.debug("Aborting the connection failed", e);
            }
        }
    }

    /** Rolls back and closes the connection, if any. */
    @Override
    public void close() {
        Connection c = connection;
        connection = null;
        if (c != null) {
            rollbackQuietly(c);
            closeQuietly(c);
        }
    }

    static void rollbackQuietly(Connection c) {
        try {
            if (!c.isClosed()) {
                c.rollback();
            }
        } catch (SQLException e) {
            log.debug("Rollback failed: {}", e.getMessage());
        }
    }

    static void closeQuietly(Connection c) {
        try {
            c.close();
        } catch (SQLException e) {
            log.debug("Closing the database connection failed: {}", e.getMessage());
        }
    }
}

package dev.understudy.writer;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;

import java.io.IOException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;

/** A real PostgreSQL 17 for integration tests, configured as the pipeline runs it. */
final class TestPostgres {
    /** The server time zone; away from UTC (and from the JVM's) so that time-zone bugs show. */
    static final String TIMEZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    private TestPostgres() {
    }

    static EmbeddedPostgres start() throws IOException {
        return EmbeddedPostgres.builder()
                .setServerConfig("wal_level", "logical")
                .setServerConfig("synchronous_commit", "on")
                .setServerConfig("timezone", TIMEZONE)
                .setServerConfig("max_connections", "50")
                .start();
    }

    static String jdbcUrl(EmbeddedPostgres pg) {
        return pg.getJdbcUrl("postgres", "postgres");
    }

    static Connection connect(EmbeddedPostgres pg, boolean autoCommit) throws SQLException {
        Connection c = DriverManager.getConnection(jdbcUrl(pg), "postgres", "postgres");
        c.setAutoCommit(autoCommit);
        return c;
    }

    static void execute(EmbeddedPostgres pg, String... statements) throws SQLException {
        try (Connection c = connect(pg, true); Statement s = c.createStatement()) {
            for (String sql : statements) {
                s.execute(sql);
            }
        }
    }
}

package dev.understudy.stack;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EmbeddedPostgresServerIT {
    private static final String TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    @TempDir
    Path workDir;

    /**
     * The second server finds the first one's postmaster still running on the data directory, as
     * after a kill -9 of the JVM that owned it, and replaces it.
     */
    @Test
    void replacesAPostmasterLeftRunningOnItsDirectory() throws Exception {
        EmbeddedPostgresServer first = EmbeddedPostgresServer.start("legacy", workDir, TIME_ZONE);
        long firstPid = first.postmasterPid();
        try (Connection c = first.connect(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE left_behind (id int)");
        }
        assertTrue(alive(firstPid));

        long started = System.nanoTime();
        EmbeddedPostgresServer second = EmbeddedPostgresServer.start("legacy", workDir, TIME_ZONE);
        System.out.printf("Replacing a running postmaster took %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        try {
            assertFalse(alive(firstPid), "the first postmaster was stopped");
            assertNotEquals(firstPid, second.postmasterPid());
            assertEquals(first.dataDirectory(), second.dataDirectory());
            assertTrue(Files.readString(second.logFile()).contains("database system is ready to accept connections"));
            try (Connection c = second.connect()) {
                assertEquals("legacy", query(c, "SELECT current_database()"));
                assertEquals("0", query(c, "SELECT count(*) FROM pg_tables WHERE tablename = 'left_behind'"),
                        "a fresh data directory");
            }
            assertThrows(SQLException.class, () -> first.connect().close());

            // Closing the superseded server must leave the new one alone.
            first.close();
            first.close();
            try (Connection c = second.connect()) {
                assertEquals("1", query(c, "SELECT 1"));
            }
            assertTrue(Files.isDirectory(second.dataDirectory()));
        } finally {
            second.close();
        }
        assertFalse(alive(second.postmasterPid()), "the second postmaster stopped on close");
        assertFalse(Files.exists(workDir.resolve("legacy")), "directory deleted on close");
        second.close();
    }

    @Test
    void unknownTimeZoneFailsFastWithTheServersOwnMessage() {
        long started = System.nanoTime();
        EmbeddedStackException e = assertThrows(EmbeddedStackException.class,
                () -> EmbeddedPostgresServer.start("target", workDir, "Mars/Olympus_Mons"));
        long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started);
        System.out.printf("Unknown time zone reported after %d ms%n", millis);
        assertTrue(e.getMessage().contains("invalid value for parameter \"TimeZone\": \"Mars/Olympus_Mons\""), e.getMessage());
        assertTrue(millis < 20_000, "failed before zonky's 30 s startup wait ran out: " + millis + " ms");
        assertFalse(Thread.currentThread().isInterrupted(), "the interrupt used to stop waiting is cleared");
        assertFalse(Files.exists(workDir.resolve("target")), "nothing left behind");
    }

    @Test
    void rejectsUnusableNamesAndTimeZones() {
        assertThrows(IllegalArgumentException.class, () -> EmbeddedPostgresServer.start("Legacy DB", workDir, TIME_ZONE));
        assertThrows(IllegalArgumentException.class, () -> EmbeddedPostgresServer.start("../x", workDir, TIME_ZONE));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> EmbeddedPostgresServer.start("legacy", workDir, "UTC; rm -rf /"));
        assertTrue(e.getMessage().contains("time zone"), e.getMessage());
    }

    private static boolean alive(long pid) {
        return ProcessHandle.of(pid).map(Processes::isRunning).orElse(false);
    }

    private static String query(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertTrue(rs.next(), sql);
            return rs.getString(1);
        }
    }
}

package dev.understudy.pipeline;

import dev.understudy.stack.EmbeddedPostgresServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.PGConnection;
import org.postgresql.PGProperty;
import org.postgresql.replication.PGReplicationStream;

import java.io.IOException;
import java.net.ServerSocket;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.Statement;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Unreachable parts are reported together, each by name and address, and never with a password. */
class PreflightIT {
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void everyUnreachablePartIsNamedWithItsAddressAndNoPassword() throws IOException {
        int pg = closedPort();
        int kafka = closedPort();
        int registry = closedPort();
        Map<String, String> m = new HashMap<>();
        m.put("legacy.jdbc.url", "jdbc:postgresql://127.0.0.1:" + pg + "/legacy");
        m.put("legacy.user", "app");
        m.put("legacy.password", "very-secret-1");
        m.put("target.jdbc.url", "jdbc:postgresql://127.0.0.1:" + pg + "/target");
        m.put("target.user", "app");
        m.put("target.password", "very-secret-2");
        m.put("kafka.bootstrap.servers", "127.0.0.1:" + kafka);
        m.put("registry.url", "http://127.0.0.1:" + registry);
        PipelineConfig config = PipelineConfig.parse(m, "test");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Preflight.check(config));
        String msg = e.getMessage();
        assertTrue(msg.contains("4 problems"), msg);
        assertTrue(msg.contains("legacy database 'legacy' at 127.0.0.1:" + pg + " as user 'app'"), msg);
        assertTrue(msg.contains("target database 'target' at 127.0.0.1:" + pg + " as user 'app'"), msg);
        assertTrue(msg.contains("cannot reach Kafka at 127.0.0.1:" + kafka), msg);
        assertTrue(msg.contains("cannot reach the schema registry at http://127.0.0.1:" + registry), msg);
        assertFalse(msg.contains("very-secret"), msg);
    }

    /**
     * A slot still held by the connection of a pipeline that just crashed is waited for, not refused:
     * a restart right after the crash starts once the server has ended that connection. A slot held for
     * longer than wal_sender_timeout allows is refused, naming the slot and the process holding it.
     */
    @Test
    void aSlotHeldByAConnectionThatEndsIsWaitedForAndOneHeldOnIsRefusedNamingItsHolder(@TempDir Path work) throws Exception {
        try (EmbeddedPostgresServer pg = EmbeddedPostgresServer.start("legacy", work, "America/Sao_Paulo");
             Connection c = pg.connect()) {
            try (Statement s = c.createStatement()) {
                s.execute("SELECT pg_create_logical_replication_slot('held_legacy', 'pgoutput')");
                s.execute("CREATE PUBLICATION held_pub FOR ALL TABLES");
            }
            // Released after about two seconds, as the walsender of a crashed process ends.
            Connection holder = streaming(pg);
            CompletableFuture<Void> release = CompletableFuture.runAsync(() -> {
                try {
                    Thread.sleep(2_000);
                    holder.close();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            });
            long start = System.nanoTime();
            assertNull(Preflight.slotHeldBy(c, "held_legacy", "legacy database", "held"));
            long waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            release.get();
            assertTrue(waited >= 1_000, "the check returned before the slot was released: " + waited + " ms");

            // Held on: refused once wal_sender_timeout (here disabled: the margin alone) has passed.
            try (Statement s = c.createStatement()) {
                s.execute("ALTER SYSTEM SET wal_sender_timeout = 0");
                s.execute("SELECT pg_reload_conf()");
            }
            try (Connection held = streaming(pg)) {
                int pid;
                try (Statement s = c.createStatement();
                     var rs = s.executeQuery("SELECT active_pid FROM pg_replication_slots WHERE slot_name = 'held_legacy'")) {
                    rs.next();
                    pid = rs.getInt(1);
                }
                start = System.nanoTime();
                String problem = Preflight.slotHeldBy(c, "held_legacy", "legacy database", "held");
                waited = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
                assertNotNull(problem);
                assertTrue(problem.contains("replication slot 'held_legacy'") && problem.contains("server process " + pid)
                        && problem.contains("pipeline.name") && problem.contains("pg_terminate_backend(" + pid + ")"), problem);
                assertTrue(waited >= Preflight.SLOT_RELEASE_MARGIN_MS - 500, "refused after " + waited + " ms");
                assertFalse(held.isClosed());
            }
        }
    }

    /** A replication connection streaming from slot held_legacy; closing it releases the slot. */
    private static Connection streaming(EmbeddedPostgresServer pg) throws Exception {
        Properties p = new Properties();
        PGProperty.USER.set(p, pg.user());
        PGProperty.PASSWORD.set(p, pg.password());
        PGProperty.REPLICATION.set(p, "database");
        PGProperty.ASSUME_MIN_SERVER_VERSION.set(p, "10");
        PGProperty.PREFER_QUERY_MODE.set(p, "simple");
        Connection r = DriverManager.getConnection(pg.jdbcUrl(), p);
        PGReplicationStream stream = r.unwrap(PGConnection.class).getReplicationAPI().replicationStream().logical()
                .withSlotName("held_legacy").withSlotOption("proto_version", 1).withSlotOption("publication_names", "held_pub").start();
        assertEquals(false, stream.isClosed());
        return r;
    }
}

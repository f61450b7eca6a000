package dev.understudy.load;

import dev.understudy.capture.ExportedSnapshot;
import dev.understudy.stack.EmbeddedPostgresServer;
import dev.understudy.testkit.ProjectionCheck;
import dev.understudy.testkit.PurchaseOrdersWorkload;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.transform.spec.SpecTableMapping;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The purchase-order read model (examples/purchase-orders, a foreign-key join) copied in parallel
 * chunks at an exported snapshot while a workload renames customers, moves, inserts, deletes and
 * renumbers orders: the target equals the legacy join computed by independent SQL
 * ({@link ProjectionCheck}) inside the same snapshot.
 */
class BulkCopyIT {
    private static final Path EXAMPLE = Path.of("..", "examples", "purchase-orders").toAbsolutePath().normalize();
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    @TempDir
    static Path work;
    static EmbeddedPostgresServer legacy;
    static EmbeddedPostgresServer target;
    static SpecTableMapping mapping;

    @BeforeAll
    static void start() throws Exception {
        legacy = EmbeddedPostgresServer.start("legacy", work, PG_TIME_ZONE);
        target = EmbeddedPostgresServer.start("target", work, PG_TIME_ZONE);
        try (Connection c = legacy.connect()) {
            PurchaseOrdersWorkload.createAndFill(c, Files.readString(EXAMPLE.resolve("legacy.sql")), 1_000, 30_000);
        }
        mapping = MigrationSpec.load(EXAMPLE.resolve("v1_purchase_order_view.yaml")).mappings().get(0);
    }

    @AfterAll
    static void stop() {
        if (target != null) {
            target.close();
        }
        if (legacy != null) {
            legacy.close();
        }
    }

    @Test
    void theJoinedTargetEqualsTheLegacyJoinAtTheSnapshotUnderConcurrentWrites() throws Exception {
        String targetUrl = createTargetDatabase("bulk_join");
        PurchaseOrdersWorkload workload = new PurchaseOrdersWorkload(legacy.jdbcUrl(), legacy.user(), legacy.password(), 400).start(2);
        try {
            Thread.sleep(500);
            try (ExportedSnapshot snapshot = ExportedSnapshot.create(legacy.jdbcUrl(), legacy.user(), legacy.password(), "bulk_join_it", "pgoutput")) {
                AtomicLong reported = new AtomicLong();
                BulkCopy.Result result = new BulkCopy(snapshot, targetUrl, target.user(), target.password(), 3, 2_000)
                        .copy(mapping, reported::set);
                ProjectionCheck.Result check;
                try (Connection atSnapshot = snapshot.open(); Connection t = java.sql.DriverManager.getConnection(targetUrl, target.user(),
                        target.password())) {
                    check = ProjectionCheck.run(atSnapshot, t, false);
                    atSnapshot.commit();
                }
                System.out.printf("BulkCopyIT: %,d rows in %d chunks, %,.0f rows/s, while %s; %s%n", result.rows(), result.chunks(),
                        result.rowsPerSecond(), workload.describe(), check.counts());
                assertTrue(check.matches(), check.counts() + " " + check.samples());
                assertEquals(check.legacyRows(), result.rows(), "rows reported copied");
                assertEquals(result.rows(), reported.get(), "the running total after the last chunk");
                assertTrue(result.chunks() > 3, "the driving table should be cut into several chunks: " + result.chunks());
            } finally {
                dropSlot("bulk_join_it");
            }
        } finally {
            workload.close();
        }
        assertTrue(workload.transactions() > 0, "the workload wrote nothing while the copy ran");
    }

    @Test
    void aTargetRowThatExistsFailsItsChunkNamingTheTableAndTheWayOut() throws Exception {
        String targetUrl = createTargetDatabase("bulk_taken");
        try (Connection t = java.sql.DriverManager.getConnection(targetUrl, target.user(), target.password()); Statement s = t.createStatement()) {
            s.execute("INSERT INTO public.purchase_order_view (order_number, customer_name, total_cents, created_at) "
                    + "VALUES ('PO-00000001', 'already here', 1, now())");
        }
        try (ExportedSnapshot snapshot = ExportedSnapshot.create(legacy.jdbcUrl(), legacy.user(), legacy.password(), "bulk_taken_it", "pgoutput")) {
            SQLException e = assertThrows(SQLException.class,
                    () -> new BulkCopy(snapshot, targetUrl, target.user(), target.password(), 2, 5_000).copy(mapping, n -> { }));
            assertTrue(e.getMessage().contains("public.purchase_order_view") && e.getMessage().contains("empty public.purchase_order_view first"),
                    e.getMessage());
        } finally {
            dropSlot("bulk_taken_it");
        }
    }

    /** A new target database migrated to the v1 read model; returns its JDBC URL. */
    private static String createTargetDatabase(String name) throws SQLException {
        try (Connection c = target.connect(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + name);
        }
        String url = "jdbc:postgresql://" + target.host() + ":" + target.port() + "/" + name;
        Flyway.configure().dataSource(url, target.user(), target.password()).locations("filesystem:" + EXAMPLE.resolve("flyway"))
                .target("1").load().migrate();
        return url;
    }

    private static void dropSlot(String slot) throws SQLException {
        ExportedSnapshot.dropSlot(legacy.jdbcUrl(), legacy.user(), legacy.password(), slot);
    }
}

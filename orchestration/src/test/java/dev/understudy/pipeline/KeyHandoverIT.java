package dev.understudy.pipeline;

import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A projection written from the docs on names and types of its own (uuid keys, schemas other than
 * public, mixed-case names, a numeric total), keyed by an order number that is not the legacy primary key and joined
 * to the client through a uuid foreign key. Order numbers are handed from one order to another
 * (A takes a temporary number, B takes A's, A takes B's) in one transaction and in three, also
 * while either order moves to another client, and with B deleted and re-inserted under A's number,
 * while client renames run concurrently so that the join's two topics interleave. The target must
 * end equal to the SQL join on the legacy database, with zero drift and nothing dead-lettered.
 */
class KeyHandoverIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final String LEGACY = """
            CREATE SCHEMA crm;
            CREATE SCHEMA "Sales";
            CREATE TABLE crm.clients (
                client_id    uuid PRIMARY KEY,
                display_name text NOT NULL,
                country_code char(2),
                updated_at   timestamptz NOT NULL DEFAULT now()
            );
            CREATE TABLE "Sales"."Orders" (
                order_id   bigint PRIMARY KEY,
                client_ref uuid REFERENCES crm.clients,
                "OrderNo"  text UNIQUE,
                placed_at  timestamptz NOT NULL DEFAULT now(),
                total      numeric(12,2)
            );
            """;
    private static final String SPEC = """
            migration: v1_order_table
            flyway: "1"
            sources:
              orders: { table: Sales.Orders }
              clients: { table: crm.clients }
            targets:
              order_table:
                table: public.order_table
                from: orders
                contract: order_table.avsc
                key: [order_no]
                join:
                  client: { source: clients, on: { client_ref: client_id } }
                columns:
                  order_no: { column: OrderNo }
                  client_name: { column: client.display_name }
                  placed_at: { column: placed_at }
                  total: { column: total }
            """;
    private static final String CONTRACT = """
            {"type": "record", "name": "order_table", "namespace": "understudy.contract.public", "fields": [
              {"name": "order_no", "type": "string"},
              {"name": "client_name", "type": ["null", "string"], "default": null},
              {"name": "placed_at", "type": ["null", {"type": "long", "logicalType": "timestamp-micros"}], "default": null},
              {"name": "total", "type": ["null", "string"], "default": null}
            ]}
            """;
    private static final String FLYWAY = """
            CREATE TABLE order_table (order_no text PRIMARY KEY, client_name text, placed_at timestamptz, total numeric(12,2));
            """;
    private static final String EXPECTED = """
            SELECT o."OrderNo", c.display_name, (extract(epoch FROM o.placed_at) * 1000000)::bigint, o.total::text
            FROM "Sales"."Orders" o JOIN crm.clients c ON c.client_id = o.client_ref WHERE o."OrderNo" IS NOT NULL ORDER BY o."OrderNo"
            """;
    private static final String ACTUAL = """
            SELECT order_no, client_name, (extract(epoch FROM placed_at) * 1000000)::bigint, total::text
            FROM public.order_table ORDER BY order_no""";
    private static final int CLIENTS = 100;
    private static final int ORDERS = 1_000;

    @Test
    void orderNumbersHandedBetweenOrdersLandWhateverTheOrderOfTheJoinsTopics(@TempDir Path work) throws Exception {
        Path specDir = Files.createDirectories(work.resolve("spec"));
        Files.writeString(specDir.resolve("v1.yaml"), SPEC);
        Files.writeString(specDir.resolve("order_table.avsc"), CONTRACT);
        Path flyway = Files.createDirectories(work.resolve("flyway"));
        Files.writeString(flyway.resolve("V1__create_order_table.sql"), FLYWAY);
        MigrationSpec spec = MigrationSpec.load(specDir.resolve("v1.yaml"));
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                s.execute(LEGACY);
                s.execute("INSERT INTO crm.clients (client_id, display_name, country_code) "
                        + "SELECT md5('client' || g)::uuid, 'Client ' || g, chr(65 + g % 26) || chr(65 + g % 7) FROM generate_series(1, " + CLIENTS + ") g");
                s.execute("INSERT INTO \"Sales\".\"Orders\" (order_id, client_ref, \"OrderNo\", total) "
                        + "SELECT g, md5('client' || (1 + g % " + CLIENTS + "))::uuid, 'N-' || g, g * 1.25 FROM generate_series(1, " + ORDERS + ") g");
            }
            PipelineConfig config = TestPipelines.config(stack, work.resolve("streams"),
                    PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + flyway, TransformConfig.SETTLE_MS.name(), "3000");
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                TestPipelines.assertSameRows(TestPipelines.awaitRows(stack, pipeline, EXPECTED, ACTUAL, Duration.ofSeconds(120), true));

                AtomicBoolean stop = new AtomicBoolean();
                AtomicLong renames = new AtomicLong();
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread churn = new Thread(() -> renameClients(stack, stop, renames, failure));
                churn.start();
                List<String> handed = new ArrayList<>();
                try (Connection c = stack.legacy().connect()) {
                    c.setAutoCommit(false);
                    for (int i = 0; i < 80; i++) {
                        long a = 1 + 2L * i;
                        long b = a + 1;
                        Variant variant = Variant.values()[i % Variant.values().length];
                        handOver(c, a, b, i % 2 == 0, variant);
                        handed.add(variant + " " + a + "/" + b);
                        Thread.sleep(20);
                    }
                } finally {
                    stop.set(true);
                    churn.join();
                }
                assertNull(failure.get(), "client renames failed");
                assertTrue(renames.get() > 50, "too few concurrent client renames: " + renames.get());

                TestPipelines.Sides sides = TestPipelines.awaitRows(stack, pipeline, EXPECTED, ACTUAL, Duration.ofSeconds(120), true);
                TestPipelines.assertSameRows(sides);
                assertEquals(0, pipeline.drift().totalOpen(), "drift open after " + handed.size() + " hand-overs");
                assertEquals(0, pipeline.writer().metrics().deadLettered(), "dead letters");
            }
        }
    }

    /** What else happens to the two orders while the number changes hands. */
    private enum Variant {
        PLAIN, A_MOVES_CLIENT, B_MOVES_CLIENT, B_DELETED_AND_REINSERTED
    }

    /**
     * A takes a temporary number, B takes A's, A takes B's; in one transaction or in three. The
     * unique constraint on order_no holds after every statement.
     */
    private static void handOver(Connection c, long a, long b, boolean oneTransaction, Variant variant) throws SQLException {
        String na = number(c, a);
        String nb = number(c, b);
        String otherClient = "md5('client' || " + (1 + ThreadLocalRandom.current().nextInt(CLIENTS)) + ")::uuid";
        try (Statement s = c.createStatement()) {
            s.executeUpdate("UPDATE \"Sales\".\"Orders\" SET \"OrderNo\" = 'TMP-" + a + "'"
                    + (variant == Variant.A_MOVES_CLIENT ? ", client_ref = " + otherClient : "") + " WHERE order_id = " + a);
            if (!oneTransaction) {
                c.commit();
            }
            if (variant == Variant.B_DELETED_AND_REINSERTED) {
                s.executeUpdate("DELETE FROM \"Sales\".\"Orders\" WHERE order_id = " + b);
                s.executeUpdate("INSERT INTO \"Sales\".\"Orders\" (order_id, client_ref, \"OrderNo\", total) VALUES (" + b + ", "
                        + otherClient + ", '" + na + "', 99.99)");
            } else {
                s.executeUpdate("UPDATE \"Sales\".\"Orders\" SET \"OrderNo\" = '" + na + "'"
                        + (variant == Variant.B_MOVES_CLIENT ? ", client_ref = " + otherClient : "") + " WHERE order_id = " + b);
            }
            if (!oneTransaction) {
                c.commit();
            }
            s.executeUpdate("UPDATE \"Sales\".\"Orders\" SET \"OrderNo\" = '" + nb + "', total = total + 1 WHERE order_id = " + a);
            c.commit();
        }
    }

    private static String number(Connection c, long order) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT \"OrderNo\" FROM \"Sales\".\"Orders\" WHERE order_id = ?")) {
            ps.setLong(1, order);
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getString(1);
            }
        }
    }

    /** Renames clients as fast as one connection can, so that the clients topic runs ahead of and behind the orders topic. */
    private static void renameClients(EmbeddedStack stack, AtomicBoolean stop, AtomicLong renames, AtomicReference<Throwable> failure) {
        try (Connection c = stack.legacy().connect();
             PreparedStatement ps = c.prepareStatement("UPDATE crm.clients SET display_name = ?, updated_at = now() "
                     + "WHERE client_id = md5('client' || ?)::uuid")) {
            ThreadLocalRandom r = ThreadLocalRandom.current();
            while (!stop.get()) {
                ps.setString(1, "Client renamed " + r.nextInt(1_000_000));
                ps.setInt(2, 1 + r.nextInt(CLIENTS));
                renames.addAndGet(ps.executeUpdate());
                Thread.sleep(2);
            }
        } catch (SQLException | InterruptedException e) {
            failure.set(e);
        }
    }
}

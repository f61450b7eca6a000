package dev.understudy.pipeline;

import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TableMapping;
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
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference projection (examples/purchase-orders): purchase orders joined with their customers,
 * under concurrent churn on both legacy tables (customer renames, orders moving between customers,
 * inserts and deletes on both sides). The target must end equal to the same join computed by SQL on
 * the legacy database, with zero drift.
 */
class JoinPipelineIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final Path EXAMPLE = Path.of("..", "examples", "purchase-orders").toAbsolutePath().normalize();
    /** The projection, independently, as a SQL join on the legacy database. */
    private static final String EXPECTED = """
            SELECT o.order_number, c.name, o.total_cents, (extract(epoch FROM o.created_at) * 1000000)::bigint
            FROM public.purchase_orders o JOIN public.customers c ON c.id = o.customer_id ORDER BY o.order_number""";
    private static final String ACTUAL = """
            SELECT order_number, customer_name, total_cents, (extract(epoch FROM created_at) * 1000000)::bigint
            FROM public.purchase_order_view ORDER BY order_number""";

    @Test
    void theTwoTableProjectionConvergesUnderChurnOnBothTables(@TempDir Path work) throws Exception {
        MigrationSpec spec = MigrationSpec.load(EXAMPLE.resolve("v1_purchase_order_view.yaml"));
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                s.execute(Files.readString(EXAMPLE.resolve("legacy.sql")));
                s.execute("INSERT INTO public.customers (name, country) SELECT 'Customer ' || g, 'C' || (g % 20) FROM generate_series(1, 300) g");
                s.execute("INSERT INTO public.purchase_orders (order_number, customer_id, total_cents) "
                        + "SELECT 'PO-' || g, 1 + g % 300, g * 100 FROM generate_series(1, 3000) g");
            }
            PipelineConfig config = TestPipelines.config(stack, work.resolve("streams"),
                    PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + EXAMPLE.resolve("flyway"), PipelineConfig.SETTLE_MS.name(), "3000");
            try (Pipeline pipeline = new Pipeline(config, List.<TableMapping>copyOf(spec.mappings()),
                    spec.flyway()).start()) {
                AtomicLong changes = new AtomicLong();
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread churn = new Thread(() -> churn(stack, changes, failure, System.nanoTime() + Duration.ofSeconds(10).toNanos()));
                churn.start();
                churn.join();
                assertNull(failure.get(), "churn failed");
                assertTrue(changes.get() > 500, "too little churn: " + changes.get());

                TestPipelines.Sides sides = TestPipelines.awaitRows(stack, pipeline, EXPECTED, ACTUAL, Duration.ofSeconds(120), true);
                List<String> expected = sides.expected();
                List<String> actual = sides.actual();
                assertTrue(expected.size() > 2_500, "expected rows: " + expected.size());
                assertEquals(expected, actual);
                assertEquals(0, pipeline.drift().totalOpen(), "drift");
                assertEquals(0, pipeline.writer().metrics().deadLettered());
            }
        }
    }

    /** Random changes on both tables, one to three per transaction, until the deadline. */
    private static void churn(EmbeddedStack stack, AtomicLong changes, AtomicReference<Throwable> failure, long until) {
        ThreadLocalRandom r = ThreadLocalRandom.current();
        try (Connection c = stack.legacy().connect()) {
            c.setAutoCommit(false);
            try (PreparedStatement rename = c.prepareStatement("UPDATE public.customers SET name = ?, country = ? WHERE id = ?");
                 PreparedStatement move = c.prepareStatement("UPDATE public.purchase_orders SET customer_id = ? WHERE id = ?");
                 PreparedStatement amount = c.prepareStatement("UPDATE public.purchase_orders SET total_cents = total_cents + 1 WHERE id = ?");
                 PreparedStatement insertOrder = c.prepareStatement(
                         "INSERT INTO public.purchase_orders (order_number, customer_id, total_cents) VALUES (?, ?, ?)");
                 PreparedStatement deleteOrder = c.prepareStatement("DELETE FROM public.purchase_orders WHERE id = ?");
                 PreparedStatement insertCustomer = c.prepareStatement(
                         "INSERT INTO public.customers (name, country) VALUES (?, ?) RETURNING id");
                 PreparedStatement renumber = c.prepareStatement("UPDATE public.purchase_orders SET order_number = order_number || '-R' WHERE id = ?")) {
                int next = 100_000;
                while (System.nanoTime() < until) {
                    int statements = 1 + r.nextInt(3);
                    for (int i = 0; i < statements; i++) {
                        int dice = r.nextInt(100);
                        long customer = 1 + r.nextInt(300);
                        long order = 1 + r.nextInt(3000);
                        PreparedStatement ps;
                        if (dice < 25) {
                            ps = rename;
                            ps.setString(1, "Renamed " + r.nextInt(1_000_000));
                            ps.setString(2, "C" + r.nextInt(40));
                            ps.setLong(3, customer);
                        } else if (dice < 50) {
                            ps = move;
                            ps.setLong(1, customer);
                            ps.setLong(2, order);
                        } else if (dice < 65) {
                            ps = amount;
                            ps.setLong(1, order);
                        } else if (dice < 80) {
                            ps = insertOrder;
                            ps.setString(1, "PO-N" + next++);
                            ps.setLong(2, customer);
                            ps.setLong(3, r.nextInt(100_000));
                        } else if (dice < 90) {
                            ps = deleteOrder;
                            ps.setLong(1, order);
                        } else if (dice < 95) {
                            ps = renumber;
                            ps.setLong(1, order);
                        } else {
                            insertCustomer.setString(1, "New customer " + next++);
                            insertCustomer.setString(2, "C" + r.nextInt(40));
                            try (ResultSet rs = insertCustomer.executeQuery()) {
                                rs.next();
                            }
                            changes.incrementAndGet();
                            continue;
                        }
                        changes.addAndGet(ps.executeUpdate());
                    }
                    c.commit();
                    Thread.sleep(2);
                }
            }
        } catch (SQLException | InterruptedException e) {
            failure.set(e);
        }
    }
}

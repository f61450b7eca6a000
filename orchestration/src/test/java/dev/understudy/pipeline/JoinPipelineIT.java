package dev.understudy.pipeline;

import dev.understudy.stack.EmbeddedStack;
import dev.understudy.testkit.RegressionReader;
import dev.understudy.transform.TableMapping;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.RecordsToDelete;
import org.apache.kafka.common.TopicPartition;
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
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The reference projection (examples/purchase-orders): purchase orders joined with their customers,
 * under concurrent churn on both legacy tables (customer renames, orders moving between customers,
 * inserts and deletes on both sides). The target must end equal to the same join computed by SQL on
 * the legacy database, with zero drift. Then v2 (customer_country) is applied by restarting on the
 * new spec while the churn goes on: its generation re-reads the legacy history, backfills the new
 * column for every row, and the target again equals the SQL join, now with the country. Throughout
 * that backfill a reader of the target never sees a row go back to an older state: the churn only
 * ever raises an order's total and never brings back an order number it removed, so a lower total
 * than one seen before, or a removed order number seen again, is a row shown older than it was.
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
    /** Numbers of inserted orders and customers, unique across churn runs (order_number is unique). */
    private static final AtomicLong NEXT = new AtomicLong(100_000);
    private static final String EXPECTED_V2 = """
            SELECT o.order_number, c.name, o.total_cents, (extract(epoch FROM o.created_at) * 1000000)::bigint, c.country
            FROM public.purchase_orders o JOIN public.customers c ON c.id = o.customer_id ORDER BY o.order_number""";
    private static final String ACTUAL_V2 = """
            SELECT order_number, customer_name, total_cents, (extract(epoch FROM created_at) * 1000000)::bigint, customer_country
            FROM public.purchase_order_view ORDER BY order_number""";

    @Test
    void theTwoTableProjectionConvergesUnderChurnThenV2BackfillsTheNewColumnWhileChurnGoesOn(@TempDir Path work) throws Exception {
        MigrationSpec spec = MigrationSpec.load(EXAMPLE.resolve("v1_purchase_order_view.yaml"));
        MigrationSpec v2 = MigrationSpec.load(EXAMPLE.resolve("v2_add_customer_country.yaml"));
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                s.execute(Files.readString(EXAMPLE.resolve("legacy.sql")));
                s.execute("INSERT INTO public.customers (name, country) SELECT 'Customer ' || g, 'C' || (g % 20) FROM generate_series(1, 300) g");
                s.execute("INSERT INTO public.purchase_orders (order_number, customer_id, total_cents) "
                        + "SELECT 'PO-' || g, 1 + g % 300, g * 100 FROM generate_series(1, 3000) g");
            }
            PipelineConfig config = TestPipelines.config(stack, work.resolve("streams"),
                    PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + EXAMPLE.resolve("flyway"), TransformConfig.SETTLE_MS.name(), "3000");
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                AtomicLong changes = new AtomicLong();
                AtomicReference<Throwable> failure = new AtomicReference<>();
                Thread churn = new Thread(() -> churn(stack, changes, failure, System.nanoTime() + Duration.ofSeconds(10).toNanos(),
                        new AtomicBoolean()));
                churn.start();
                churn.join();
                assertNull(failure.get(), "churn failed");
                assertTrue(changes.get() > 500, "too little churn: " + changes.get());

                TestPipelines.Sides sides = TestPipelines.awaitRows(stack, pipeline, EXPECTED, ACTUAL, Duration.ofSeconds(120), true);
                List<String> expected = sides.expected();
                List<String> actual = sides.actual();
                assertTrue(expected.size() > 2_500, "expected rows: " + expected.size());
                TestPipelines.assertSameRows(sides);
                assertEquals(0, pipeline.drift().totalOpen(), "drift");
                assertEquals(0, pipeline.writer().metrics().deadLettered());
                assertEquals(1, pipeline.generation().number());
            }

            // v2, applied by restarting on the new spec while the legacy tables keep changing.
            String v2Summary = applyUnderChurn(stack, config, v2, 2, 0L);
            assertTrue(v2Summary.contains("legacy changes re-read"), v2Summary);

            // v3: the same mapping under a new name, after the customers topic lost its history (as
            // a finite retention would do): customers are re-read from the legacy database by an
            // incremental snapshot, while the orders' history comes from Kafka.
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
                String topic = "understudy.legacy.public.customers";
                Map<TopicPartition, RecordsToDelete> truncate = new HashMap<>();
                admin.listOffsets(admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions().stream()
                                .collect(Collectors.toMap(p -> new TopicPartition(topic, p.partition()), p -> OffsetSpec.latest())))
                        .all().get().forEach((tp, info) -> truncate.put(tp, RecordsToDelete.beforeOffset(info.offset())));
                admin.deleteRecords(truncate).all().get();
            }
            Path v3Dir = Files.createDirectories(work.resolve("v3"));
            Files.copy(EXAMPLE.resolve("purchase_order_view.avsc"), v3Dir.resolve("purchase_order_view.avsc"));
            Files.writeString(v3Dir.resolve("v3.yaml"), Files.readString(v2.file())
                    .replace("migration: v2_add_customer_country", "migration: v3_reread_customers"));
            // The customers' re-read is versioned as snapshot rows, which cannot be ordered against the
            // versions generation 2 applied: v3 starts lineage 3 and replaces every row.
            String v3Summary = applyUnderChurn(stack, config, MigrationSpec.load(v3Dir.resolve("v3.yaml")), 3, 3L);
            assertTrue(v3Summary.contains("snapshot of public.customers") && v3Summary.contains(" done"), v3Summary);

            // An older generation cannot come back, and the spec of a generation cannot change under its name.
            MigrationGenerations generations = new MigrationGenerations(config.get(PipelineConfig.TARGET_JDBC_URL),
                    config.get(PipelineConfig.TARGET_USER), config.get(PipelineConfig.TARGET_PASSWORD));
            IllegalStateException older = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> generations.resolve("understudy", spec.migration(),
                            Pipeline.fingerprint(List.copyOf(spec.mappings()), Files.readString(spec.file())), spec.flyway()));
            assertTrue(older.getMessage().contains("generation 3 ('v3_reread_customers') has run since"), older.getMessage());
            IllegalStateException changed = org.junit.jupiter.api.Assertions.assertThrows(IllegalStateException.class,
                    () -> generations.resolve("understudy", v2.migration(), "another fingerprint", v2.flyway()));
            assertTrue(changed.getMessage().contains("Migration 'v2_add_customer_country' ran in pipeline 'understudy' as generation 2"
                    + " with another spec"), changed.getMessage());
            assertTrue(generations.coveredTables("understudy").containsAll(List.of("public.customers", "public.purchase_orders")));
        }
    }

    /**
     * Restarts the pipeline on {@code spec} while the legacy tables keep changing, waits for its
     * backfill, stops the churn, and checks the target against the SQL join with customer_country.
     * In the target's lineage of the previous generation, a reader must see no row go back in time.
     * Returns the backfill's last status line.
     */
    private static String applyUnderChurn(EmbeddedStack stack, PipelineConfig config, MigrationSpec spec, int generation,
                                          long lineage) throws Exception {
        AtomicLong changes = new AtomicLong();
        AtomicReference<Throwable> failure = new AtomicReference<>();
        AtomicBoolean stop = new AtomicBoolean();
        Thread churn = new Thread(() -> churn(stack, changes, failure, Long.MAX_VALUE, stop));
        churn.start();
        RegressionReader reader = new RegressionReader(stack.target().jdbcUrl(), stack.target().user(), stack.target().password(),
                "public.purchase_order_view", "order_number", "total_cents");
        try {
            Thread.sleep(1_000);
            reader.start(100); // from the row states the previous generation left
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                assertEquals(generation, pipeline.generation().number());
                assertTrue(pipeline.generation().fresh());
                assertEquals(Map.of("public.purchase_order_view", lineage), pipeline.lineages());
                // A bound to stop a stalled backfill, not a speed requirement: on a shared 2-core machine the
                // transaction watermark's rounds through the join's topics take up to a minute each under churn.
                long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
                long maxOpen = 0;
                long nextReport = System.nanoTime();
                while (!pipeline.backfill().complete() && System.nanoTime() < deadline) {
                    assertNull(pipeline.failure(), "pipeline stage failed");
                    maxOpen = Math.max(maxOpen, pipeline.drift().totalOpen());
                    if (System.nanoTime() > nextReport && pipeline.transactionWatermarks() != null) {
                        System.out.println("watermark: " + pipeline.transactionWatermarks().waitingFor());
                        nextReport = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                    }
                    Thread.sleep(500);
                }
                reader.close();
                System.out.printf("generation %d (lineage %d) backfill: %s; reader: %s; drift open at most %d%n", generation, lineage,
                        pipeline.backfill().describe(), reader.summary(), maxOpen);
                assertTrue(reader.reads() > 3, reader.summary());
                if (lineage < generation) {
                    assertEquals(0, reader.regressions(), "rows shown older than before: " + reader.summary());
                }
                assertTrue(pipeline.backfill().complete(), pipeline.backfill().describe());
                assertTrue(pipeline.backfill().total() > 3_000, pipeline.backfill().describe());
                // Live changes kept flowing during the backfill.
                Thread.sleep(2_000);
                stop.set(true);
                churn.join();
                assertNull(failure.get(), "churn failed");
                assertTrue(changes.get() > 500, "too little churn: " + changes.get());

                TestPipelines.Sides sides = TestPipelines.awaitRows(stack, pipeline, EXPECTED_V2, ACTUAL_V2, Duration.ofSeconds(120), true);
                assertTrue(sides.expected().size() > 2_500, "expected rows: " + sides.expected().size());
                TestPipelines.assertSameRows(sides);
                assertTrue(sides.actual().stream().noneMatch(r -> r.endsWith("null")), "a row without customer_country");
                assertEquals(0, pipeline.drift().totalOpen(), "drift");
                assertEquals(0, pipeline.writer().metrics().deadLettered());
                return pipeline.backfill().describe();
            }
        } finally {
            stop.set(true);
            churn.join();
            reader.close();
        }
    }

    /** Random changes on both tables, one to three per transaction, until the deadline. */
    private static void churn(EmbeddedStack stack, AtomicLong changes, AtomicReference<Throwable> failure, long until, AtomicBoolean stop) {
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
                while (System.nanoTime() < until && !stop.get()) {
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
                            ps.setString(1, "PO-N" + NEXT.getAndIncrement());
                            ps.setLong(2, customer);
                            ps.setLong(3, r.nextInt(100_000));
                        } else if (dice < 90) {
                            ps = deleteOrder;
                            ps.setLong(1, order);
                        } else if (dice < 95) {
                            ps = renumber;
                            ps.setLong(1, order);
                        } else {
                            insertCustomer.setString(1, "New customer " + NEXT.getAndIncrement());
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

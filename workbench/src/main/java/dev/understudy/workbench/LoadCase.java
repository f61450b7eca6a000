package dev.understudy.workbench;

import dev.understudy.testkit.PurchaseOrdersWorkload;
import dev.understudy.testkit.UsersWorkload;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;

/**
 * What {@code bench load} loads: legacy tables, the spec and Flyway migrations of the target, the
 * target table, and SQL for the same projection computed by hand (the COPY pipe's query and the
 * checksums), independent of the spec.
 *
 * @param name            the option value
 * @param spec            the spec file
 * @param flyway          Flyway locations of the target
 * @param flywayVersion   the target version the spec needs
 * @param targetTable     the target table, {@code schema.table}
 * @param copyOut         the projection as a query of the legacy database (the COPY pipe's source)
 * @param targetColumns   the target columns it fills, in its order
 * @param legacyChecksum  count and checksum of the projection on the legacy database
 * @param targetChecksum  count and checksum of the same columns on the target
 * @param sourceTable     the legacy table the streamed rows go into
 * @param removeStreamed  SQL deleting the rows {@link #inserter()} added, returning the legacy table to its filled rows
 */
record LoadCase(String name, Path spec, String flyway, String flywayVersion, String targetTable, String copyOut, String targetColumns,
                String legacyChecksum, String targetChecksum, Filler filler, Inserter inserter, String sourceTable, String removeStreamed) {

    @FunctionalInterface
    interface Filler {
        void fill(Connection legacy, int rows) throws SQLException;
    }

    /** SQL inserting legacy rows {@code from..to} (1-based, inclusive) that land in the target as new rows. */
    @FunctionalInterface
    interface Inserter {
        String insert(int rows, int from, int to);
    }

    static final String USERS = "users";
    static final String PURCHASE_ORDERS = "purchase-orders";

    /** The case named {@code name}, its files written under {@code work}. */
    static LoadCase of(String name, Path work) throws IOException {
        return switch (name) {
            case USERS -> new LoadCase(USERS, RunProcess.usersSpec(work), "classpath:flyway/users", "1.2", "public.users",
                    "SELECT id, name, email, NULL::date, created_at FROM public.users", "id, full_name, email, birthdate, created_at",
                    "SELECT count(*), coalesce(sum(hashtextextended(concat_ws('|', id, name, email, created_at), 0)), 0) FROM public.users",
                    "SELECT count(*), coalesce(sum(hashtextextended(concat_ws('|', id, full_name, email, created_at), 0)), 0) "
                            + "FROM public.users WHERE birthdate IS NULL",
                    UsersWorkload::createAndFill,
                    (rows, from, to) -> "INSERT INTO public.users (name, email, created_at) SELECT 'Streamed ' || g, 'streamed' || g "
                            + "|| '@example.com', now() - (g * interval '3 minutes 1.234567 seconds') FROM generate_series(" + from + ", " + to + ") g",
                    "public.users", "DELETE FROM public.users WHERE name LIKE 'Streamed %'");
            case PURCHASE_ORDERS -> {
                Path example = DemoCommand.extractExample(DemoCommand.EXAMPLE_RESOURCE, work.resolve("purchase-orders"));
                String legacySql = Files.readString(example.resolve("legacy.sql"));
                yield new LoadCase(PURCHASE_ORDERS, example.resolve("v1_purchase_order_view.yaml"), "filesystem:" + example.resolve("flyway"), "1",
                        "public.purchase_order_view",
                        "SELECT o.order_number, c.name, o.total_cents, o.created_at FROM public.purchase_orders o "
                                + "JOIN public.customers c ON c.id = o.customer_id",
                        "order_number, customer_name, total_cents, created_at",
                        "SELECT count(*), coalesce(sum(hashtextextended(concat_ws('|', o.order_number, c.name, o.total_cents, o.created_at), 0)), 0) "
                                + "FROM public.purchase_orders o JOIN public.customers c ON c.id = o.customer_id",
                        "SELECT count(*), coalesce(sum(hashtextextended(concat_ws('|', order_number, customer_name, total_cents, created_at), 0)), 0) "
                                + "FROM public.purchase_order_view",
                        (legacy, rows) -> PurchaseOrdersWorkload.createAndFill(legacy, legacySql, customers(rows), rows),
                        (rows, from, to) -> "INSERT INTO public.purchase_orders (order_number, customer_id, total_cents, created_at) "
                                + "SELECT 'ST-' || lpad(g::text, 10, '0'), 1 + (g::bigint * 7919) % " + customers(rows) + ", g, "
                                + "now() - (g * interval '1 minute 1.5 seconds') FROM generate_series(" + from + ", " + to + ") g",
                        "public.purchase_orders", "DELETE FROM public.purchase_orders WHERE order_number LIKE 'ST-%'");
            }
            default -> throw new IllegalArgumentException("Unknown case '" + name + "': use " + USERS + " or " + PURCHASE_ORDERS);
        };
    }

    /** One customer per ten orders, as the demo has it. */
    private static int customers(int orders) {
        return Math.max(1, orders / 10);
    }
}

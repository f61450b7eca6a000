package dev.understudy.testkit;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A random writer on the legacy tables of the purchase-order reference case
 * ({@code examples/purchase-orders/legacy.sql}): customer renames and country changes, orders moving
 * between customers, amount updates, order inserts and deletes, order renumbering (the order number
 * is the read model's key, so a renumber is a key change there) and new customers; one to three
 * statements per transaction, at a target rate, on its own threads until closed.
 */
public final class PurchaseOrdersWorkload extends RateLimitedWorkload<PurchaseOrdersWorkload> {
    /** Countries the seed and the workload draw from; every 50th customer has none (the column is nullable). */
    private static final String[] COUNTRIES = {"BR", "DE", "FR", "JP", "US", "IN", "NG", "CA", "AU", "MX", "ES", "IT", "KR", "SE", "ZA"};

    /**
     * Shared by every workload of this JVM (a demo runs one per phase) so that new and renumbered order
     * numbers do not collide on the unique constraint.
     */
    private static final AtomicLong ORDER_NUMBERS = new AtomicLong();
    private final AtomicLong renames = new AtomicLong();
    private final AtomicLong countryChanges = new AtomicLong();
    private final AtomicLong moves = new AtomicLong();
    private final AtomicLong amountUpdates = new AtomicLong();
    private final AtomicLong orderInserts = new AtomicLong();
    private final AtomicLong orderDeletes = new AtomicLong();
    private final AtomicLong renumbers = new AtomicLong();
    private final AtomicLong customerInserts = new AtomicLong();
    private final AtomicLong rolledBack = new AtomicLong();

    public PurchaseOrdersWorkload(String jdbcUrl, String user, String password, int opsPerSecond) {
        super("purchase-orders", jdbcUrl, user, password, opsPerSecond);
    }

    /**
     * Runs {@code legacySql} (the example's DDL) and fills the tables: {@code customers} customers and
     * {@code orders} orders spread over them, with microsecond timestamps in the past.
     */
    public static void createAndFill(Connection legacy, String legacySql, int customers, int orders) throws SQLException {
        try (Statement s = legacy.createStatement()) {
            s.execute(legacySql);
            s.execute("INSERT INTO public.customers (name, country, updated_at) "
                    + "SELECT 'Customer ' || g, CASE WHEN g % 50 = 0 THEN NULL ELSE (" + countryArray() + ")[1 + g % " + COUNTRIES.length + "] END, "
                    + "now() - (g * interval '3 minutes 1.654321 seconds') FROM generate_series(1, " + customers + ") g");
            s.execute("INSERT INTO public.purchase_orders (order_number, customer_id, total_cents, created_at) "
                    + "SELECT 'PO-' || lpad(g::text, 8, '0'), 1 + (g::bigint * 7919) % " + customers + ", 100 + (g::bigint * 104729) % 1000000, "
                    + "now() - (g * interval '17 minutes 3.123456 seconds') FROM generate_series(1, " + orders + ") g");
            s.execute("ANALYZE public.customers");
            s.execute("ANALYZE public.purchase_orders");
        }
    }

    private static String countryArray() {
        StringBuilder b = new StringBuilder("ARRAY[");
        for (int i = 0; i < COUNTRIES.length; i++) {
            b.append(i > 0 ? "," : "").append('\'').append(COUNTRIES[i]).append('\'');
        }
        return b.append("]").toString();
    }

    @Override
    protected Writer prepare(Connection c) throws SQLException {
        return new OrdersWriter(c);
    }

    /** One thread's statements, and the highest ids it knows of, which bound the ids it picks. */
    private final class OrdersWriter implements Writer {
        private final Connection c;
        private final PreparedStatement rename;
        private final PreparedStatement country;
        private final PreparedStatement move;
        private final PreparedStatement amount;
        private final PreparedStatement insertOrder;
        private final PreparedStatement deleteOrder;
        private final PreparedStatement renumber;
        private final PreparedStatement insertCustomer;
        private long maxCustomer;
        private long maxOrder;

        OrdersWriter(Connection c) throws SQLException {
            this.c = c;
            maxCustomer = maxId(c, "public.customers");
            maxOrder = maxId(c, "public.purchase_orders");
            rename = c.prepareStatement("UPDATE public.customers SET name = ?, updated_at = now() WHERE id = ?");
            country = c.prepareStatement("UPDATE public.customers SET country = ?, updated_at = now() WHERE id = ?");
            move = c.prepareStatement("UPDATE public.purchase_orders SET customer_id = ? WHERE id = ?");
            amount = c.prepareStatement("UPDATE public.purchase_orders SET total_cents = total_cents + ? WHERE id = ?");
            insertOrder = c.prepareStatement("INSERT INTO public.purchase_orders (order_number, customer_id, total_cents, "
                    + "created_at) VALUES (?, ?, ?, now() - ? * interval '1 microsecond') RETURNING id");
            deleteOrder = c.prepareStatement("DELETE FROM public.purchase_orders WHERE id = ?");
            renumber = c.prepareStatement("UPDATE public.purchase_orders SET order_number = ? WHERE id = ?");
            insertCustomer = c.prepareStatement("INSERT INTO public.customers (name, country) VALUES (?, ?) RETURNING id");
        }

        @Override
        public int transaction() throws SQLException {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            int statements = 1 + random.nextInt(3);
            // Ids created in this transaction are used by later ones only once it committed:
            // a rolled-back customer id would make a later order's foreign key fail.
            long newMaxCustomer = maxCustomer;
            long newMaxOrder = maxOrder;
            long[] done = new long[8];
            try {
                for (int i = 0; i < statements; i++) {
                    int dice = random.nextInt(100);
                    long customer = 1 + random.nextLong(Math.max(1, maxCustomer));
                    long order = 1 + random.nextLong(Math.max(1, maxOrder));
                    if (dice < 15) {
                        rename.setString(1, "Renamed " + random.nextInt(1_000_000));
                        rename.setLong(2, customer);
                        done[0] += rename.executeUpdate();
                    } else if (dice < 25) {
                        country.setString(1, random.nextInt(20) == 0 ? null : COUNTRIES[random.nextInt(COUNTRIES.length)]);
                        country.setLong(2, customer);
                        done[1] += country.executeUpdate();
                    } else if (dice < 45) {
                        move.setLong(1, customer);
                        move.setLong(2, order);
                        done[2] += move.executeUpdate();
                    } else if (dice < 65) {
                        amount.setLong(1, 1 + random.nextInt(10_000));
                        amount.setLong(2, order);
                        done[3] += amount.executeUpdate();
                    } else if (dice < 80) {
                        insertOrder.setString(1, "PO-N" + ORDER_NUMBERS.incrementAndGet());
                        insertOrder.setLong(2, customer);
                        insertOrder.setLong(3, 100 + random.nextInt(1_000_000));
                        insertOrder.setLong(4, random.nextLong(1_000_000_000_000L));
                        try (ResultSet rs = insertOrder.executeQuery()) {
                            rs.next();
                            newMaxOrder = Math.max(newMaxOrder, rs.getLong(1));
                        }
                        done[4]++;
                    } else if (dice < 90) {
                        deleteOrder.setLong(1, order);
                        done[5] += deleteOrder.executeUpdate();
                    } else if (dice < 96) {
                        renumber.setString(1, "PO-R" + ORDER_NUMBERS.incrementAndGet());
                        renumber.setLong(2, order);
                        done[6] += renumber.executeUpdate();
                    } else {
                        insertCustomer.setString(1, "New customer " + random.nextInt(1_000_000));
                        insertCustomer.setString(2, COUNTRIES[random.nextInt(COUNTRIES.length)]);
                        try (ResultSet rs = insertCustomer.executeQuery()) {
                            rs.next();
                            newMaxCustomer = Math.max(newMaxCustomer, rs.getLong(1));
                        }
                        done[7]++;
                    }
                }
                c.commit();
            } catch (SQLException e) {
                // Two writers can lock the same rows in opposite order; the loser's transaction is
                // rolled back and the run goes on. So does one whose order number a writer outside
                // this JVM took first. Anything else ends this thread and is reported.
                c.rollback();
                if (!isConflict(e) && !"23505".equals(e.getSQLState())) {
                    throw e;
                }
                rolledBack.incrementAndGet();
                return 0;
            }
            maxCustomer = newMaxCustomer;
            maxOrder = newMaxOrder;
            renames.addAndGet(done[0]);
            countryChanges.addAndGet(done[1]);
            moves.addAndGet(done[2]);
            amountUpdates.addAndGet(done[3]);
            orderInserts.addAndGet(done[4]);
            orderDeletes.addAndGet(done[5]);
            renumbers.addAndGet(done[6]);
            customerInserts.addAndGet(done[7]);
            return statements;
        }
    }

    public long customerRenames() {
        return renames.get();
    }

    public long countryChanges() {
        return countryChanges.get();
    }

    public long orderMoves() {
        return moves.get();
    }

    public long amountUpdates() {
        return amountUpdates.get();
    }

    public long orderInserts() {
        return orderInserts.get();
    }

    public long orderDeletes() {
        return orderDeletes.get();
    }

    public long renumbers() {
        return renumbers.get();
    }

    public long customerInserts() {
        return customerInserts.get();
    }

    /** Transactions rolled back after a deadlock or a taken order number (and not counted anywhere else). */
    public long rolledBack() {
        return rolledBack.get();
    }

    /** Rows changed in committed transactions. */
    public long changes() {
        return renames.get() + countryChanges.get() + moves.get() + amountUpdates.get() + orderInserts.get() + orderDeletes.get()
                + renumbers.get() + customerInserts.get();
    }

    @Override
    public String describe() {
        return String.format("%,d customer renames, %,d country changes, %,d order moves, %,d amount updates, %,d order inserts, "
                        + "%,d order deletes, %,d renumbers, %,d new customers in %,d transactions",
                customerRenames(), countryChanges(), orderMoves(), amountUpdates(), orderInserts(), orderDeletes(), renumbers(),
                customerInserts(), transactions());
    }
}

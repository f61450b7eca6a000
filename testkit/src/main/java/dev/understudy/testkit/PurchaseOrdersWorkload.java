package dev.understudy.testkit;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A random writer on the legacy tables of the purchase-order reference case
 * ({@code examples/purchase-orders/legacy.sql}): customer renames and country changes, orders moving
 * between customers, amount updates, order inserts and deletes, order renumbering (the order number
 * is the read model's key, so a renumber is a key change there) and new customers; one to three
 * statements per transaction, at a target rate, on its own threads until closed.
 */
public final class PurchaseOrdersWorkload implements AutoCloseable {
    /** Countries the seed and the workload draw from; every 50th customer has none (the column is nullable). */
    private static final String[] COUNTRIES = {"BR", "DE", "FR", "JP", "US", "IN", "NG", "CA", "AU", "MX", "ES", "IT", "KR", "SE", "ZA"};

    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final int opsPerSecond;
    private final List<Thread> threads = new ArrayList<>();
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
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicLong rolledBack = new AtomicLong();
    private volatile boolean running;
    private volatile Throwable failure;

    public PurchaseOrdersWorkload(String jdbcUrl, String user, String password, int opsPerSecond) {
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.opsPerSecond = opsPerSecond;
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

    public PurchaseOrdersWorkload start(int threadCount) {
        running = true;
        for (int i = 0; i < threadCount; i++) {
            Thread t = new Thread(() -> run(threadCount), "purchase-orders-workload-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        return this;
    }

    private void run(int threadCount) {
        ThreadLocalRandom random = ThreadLocalRandom.current();
        long intervalNanos = opsPerSecond <= 0 ? 0 : 1_000_000_000L * threadCount / opsPerSecond;
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password)) {
            c.setAutoCommit(false);
            long maxCustomer;
            long maxOrder;
            try (Statement s = c.createStatement();
                 ResultSet rs = s.executeQuery("SELECT (SELECT coalesce(max(id), 0) FROM public.customers), "
                         + "(SELECT coalesce(max(id), 0) FROM public.purchase_orders)")) {
                rs.next();
                maxCustomer = rs.getLong(1);
                maxOrder = rs.getLong(2);
            }
            c.commit();
            try (PreparedStatement rename = c.prepareStatement("UPDATE public.customers SET name = ?, updated_at = now() WHERE id = ?");
                 PreparedStatement country = c.prepareStatement("UPDATE public.customers SET country = ?, updated_at = now() WHERE id = ?");
                 PreparedStatement move = c.prepareStatement("UPDATE public.purchase_orders SET customer_id = ? WHERE id = ?");
                 PreparedStatement amount = c.prepareStatement("UPDATE public.purchase_orders SET total_cents = total_cents + ? WHERE id = ?");
                 PreparedStatement insertOrder = c.prepareStatement("INSERT INTO public.purchase_orders (order_number, customer_id, total_cents, "
                         + "created_at) VALUES (?, ?, ?, now() - ? * interval '1 microsecond') RETURNING id");
                 PreparedStatement deleteOrder = c.prepareStatement("DELETE FROM public.purchase_orders WHERE id = ?");
                 PreparedStatement renumber = c.prepareStatement("UPDATE public.purchase_orders SET order_number = ? WHERE id = ?");
                 PreparedStatement insertCustomer = c.prepareStatement("INSERT INTO public.customers (name, country) VALUES (?, ?) RETURNING id")) {
                long next = System.nanoTime();
                while (running) {
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
                        if (!"40P01".equals(e.getSQLState()) && !"40001".equals(e.getSQLState()) && !"23505".equals(e.getSQLState())) {
                            throw e;
                        }
                        rolledBack.incrementAndGet();
                        continue;
                    }
                    maxCustomer = newMaxCustomer;
                    maxOrder = newMaxOrder;
                    transactions.incrementAndGet();
                    renames.addAndGet(done[0]);
                    countryChanges.addAndGet(done[1]);
                    moves.addAndGet(done[2]);
                    amountUpdates.addAndGet(done[3]);
                    orderInserts.addAndGet(done[4]);
                    orderDeletes.addAndGet(done[5]);
                    renumbers.addAndGet(done[6]);
                    customerInserts.addAndGet(done[7]);
                    if (intervalNanos > 0) {
                        next += intervalNanos * statements;
                        long sleep = next - System.nanoTime();
                        if (sleep > 0) {
                            Thread.sleep(sleep / 1_000_000, (int) (sleep % 1_000_000));
                        } else if (sleep < -1_000_000_000L) {
                            next = System.nanoTime();
                        }
                    }
                }
            }
        } catch (SQLException e) {
            failure = e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
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

    public long transactions() {
        return transactions.get();
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

    /** The counters as one line. */
    public String describe() {
        return String.format("%,d customer renames, %,d country changes, %,d order moves, %,d amount updates, %,d order inserts, "
                        + "%,d order deletes, %,d renumbers, %,d new customers in %,d transactions",
                customerRenames(), countryChanges(), orderMoves(), amountUpdates(), orderInserts(), orderDeletes(), renumbers(),
                customerInserts(), transactions());
    }

    public Throwable failure() {
        return failure;
    }

    /** Stops the writers and waits for their last transaction to end. */
    @Override
    public void close() {
        running = false;
        for (Thread t : threads) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (failure != null) {
            throw new IllegalStateException("The purchase-orders workload failed: " + failure.getMessage(), failure);
        }
    }
}

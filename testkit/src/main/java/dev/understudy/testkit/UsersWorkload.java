package dev.understudy.testkit;

import org.postgresql.PGConnection;

import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A random writer on the legacy users table: inserts, updates, deletes and primary-key changes,
 * one to four statements per transaction, at a target rate, on its own threads. Used by the demo
 * and by the integration tests as the concurrent workload.
 */
public final class UsersWorkload implements AutoCloseable {
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final int opsPerSecond;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong inserts = new AtomicLong();
    private final AtomicLong updates = new AtomicLong();
    private final AtomicLong deletes = new AtomicLong();
    private final AtomicLong keyChanges = new AtomicLong();
    private final AtomicLong transactions = new AtomicLong();
    private volatile boolean running;
    private volatile Throwable failure;

    public UsersWorkload(String jdbcUrl, String user, String password, int opsPerSecond) {
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.opsPerSecond = opsPerSecond;
    }

    /** Creates legacy public.users and fills it with {@code rows} rows. */
    public static void createAndFill(Connection legacy, int rows) throws SQLException {
        try (Statement s = legacy.createStatement()) {
            s.execute("""
                    CREATE TABLE public.users (
                        id         bigserial PRIMARY KEY,
                        name       text NOT NULL,
                        email      text NOT NULL,
                        created_at timestamptz NOT NULL DEFAULT now()
                    )""");
            s.execute("INSERT INTO public.users (name, email, created_at) "
                    + "SELECT 'User ' || g, 'user' || g || '@example.com', "
                    + "now() - (g * interval '17 minutes 3.123456 seconds') FROM generate_series(1, " + rows + ") g");
            s.execute("ANALYZE public.users");
        }
    }

    /**
     * Copies every legacy user into the target's {@code public.users} as the users migration maps it
     * (name becomes full_name, birthdate null), by binary COPY out of one database into the other: a
     * target as a finished migration would hold it, for verify tests and benchmarks.
     */
    public static long copyToTarget(Connection legacy, Connection target) throws Exception {
        PipedOutputStream out = new PipedOutputStream();
        PipedInputStream in = new PipedInputStream(out, 1 << 20);
        CompletableFuture<Long> reading = CompletableFuture.supplyAsync(() -> {
            try (out) {
                return legacy.unwrap(PGConnection.class).getCopyAPI().copyOut(
                        "COPY (SELECT id, name, email, NULL::date, created_at FROM public.users) TO STDOUT (FORMAT binary)", out);
            } catch (Exception e) {
                throw new IllegalStateException("Copying legacy users out failed: " + e.getMessage(), e);
            }
        });
        long copied = target.unwrap(PGConnection.class).getCopyAPI().copyIn(
                "COPY public.users (id, full_name, email, birthdate, created_at) FROM STDIN (FORMAT binary)", in);
        reading.join();
        return copied;
    }

    public UsersWorkload start(int threadCount) {
        running = true;
        for (int i = 0; i < threadCount; i++) {
            Thread t = new Thread(() -> run(threadCount), "users-workload-" + i);
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
            long maxId;
            try (Statement s = c.createStatement(); var rs = s.executeQuery("SELECT coalesce(max(id), 0) FROM public.users")) {
                rs.next();
                maxId = rs.getLong(1);
            }
            c.commit();
            try (PreparedStatement insert = c.prepareStatement(
                    "INSERT INTO public.users (name, email, created_at) VALUES (?, ?, now() - ? * interval '1 microsecond') RETURNING id");
                 PreparedStatement update = c.prepareStatement("UPDATE public.users SET name = ?, email = ? WHERE id = ?");
                 PreparedStatement delete = c.prepareStatement("DELETE FROM public.users WHERE id = ?");
                 PreparedStatement rekey = c.prepareStatement(
                         "UPDATE public.users SET id = nextval('public.users_id_seq') WHERE id = ? RETURNING id")) {
                long next = System.nanoTime();
                while (running) {
                    int statements = 1 + random.nextInt(4);
                    for (int i = 0; i < statements; i++) {
                        int dice = random.nextInt(100);
                        long id = 1 + random.nextLong(Math.max(1, maxId));
                        if (dice < 30) {
                            insert.setString(1, "Inserted " + random.nextInt(1_000_000));
                            insert.setString(2, "new" + random.nextInt(1_000_000) + "@example.com");
                            insert.setLong(3, random.nextLong(1_000_000_000_000L));
                            try (var rs = insert.executeQuery()) {
                                rs.next();
                                maxId = Math.max(maxId, rs.getLong(1));
                            }
                            inserts.incrementAndGet();
                        } else if (dice < 80) {
                            update.setString(1, "Renamed " + random.nextInt(1_000_000));
                            update.setString(2, "changed" + random.nextInt(1_000_000) + "@example.com");
                            update.setLong(3, id);
                            updates.addAndGet(update.executeUpdate());
                        } else if (dice < 95) {
                            delete.setLong(1, id);
                            deletes.addAndGet(delete.executeUpdate());
                        } else {
                            rekey.setLong(1, id);
                            try (var rs = rekey.executeQuery()) {
                                if (rs.next()) {
                                    maxId = Math.max(maxId, rs.getLong(1));
                                    keyChanges.incrementAndGet();
                                }
                            }
                        }
                    }
                    try {
                        c.commit();
                        transactions.incrementAndGet();
                    } catch (SQLException e) {
                        c.rollback();
                    }
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
            // Two workload threads can touch the same row; a deadlock or serialization failure rolls
            // back one transaction and the run goes on. Anything else ends this thread and is reported.
            if (!"40P01".equals(e.getSQLState()) && !"40001".equals(e.getSQLState())) {
                failure = e;
            } else if (running) {
                run(threadCount);
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    public long inserts() {
        return inserts.get();
    }

    public long updates() {
        return updates.get();
    }

    public long deletes() {
        return deletes.get();
    }

    public long keyChanges() {
        return keyChanges.get();
    }

    public long transactions() {
        return transactions.get();
    }

    public long changes() {
        return inserts.get() + updates.get() + deletes.get() + keyChanges.get();
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
            throw new IllegalStateException("The users workload failed: " + failure.getMessage(), failure);
        }
    }
}

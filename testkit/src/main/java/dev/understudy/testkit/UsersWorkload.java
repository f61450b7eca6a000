package dev.understudy.testkit;

import org.postgresql.PGConnection;

import java.io.PipedInputStream;
import java.io.PipedOutputStream;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * A random writer on the legacy users table: inserts, updates, deletes and primary-key changes,
 * one to four statements per transaction, at a target rate, on its own threads. Used by the demo
 * and by the integration tests as the concurrent workload.
 */
public final class UsersWorkload extends RateLimitedWorkload<UsersWorkload> {
    private final AtomicLong inserts = new AtomicLong();
    private final AtomicLong updates = new AtomicLong();
    private final AtomicLong deletes = new AtomicLong();
    private final AtomicLong keyChanges = new AtomicLong();

    public UsersWorkload(String jdbcUrl, String user, String password, int opsPerSecond) {
        super("users", jdbcUrl, user, password, opsPerSecond);
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

    @Override
    protected Writer prepare(Connection c) throws SQLException {
        return new UsersWriter(c);
    }

    /** One thread's statements, and the highest id it knows of, which bounds the ids it picks. */
    private final class UsersWriter implements Writer {
        private final Connection c;
        private final PreparedStatement insert;
        private final PreparedStatement update;
        private final PreparedStatement delete;
        private final PreparedStatement rekey;
        private long maxId;

        UsersWriter(Connection c) throws SQLException {
            this.c = c;
            maxId = maxId(c, "public.users");
            insert = c.prepareStatement(
                    "INSERT INTO public.users (name, email, created_at) VALUES (?, ?, now() - ? * interval '1 microsecond') RETURNING id");
            update = c.prepareStatement("UPDATE public.users SET name = ?, email = ? WHERE id = ?");
            delete = c.prepareStatement("DELETE FROM public.users WHERE id = ?");
            rekey = c.prepareStatement("UPDATE public.users SET id = nextval('public.users_id_seq') WHERE id = ? RETURNING id");
        }

        @Override
        public int transaction() throws SQLException {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            int statements = 1 + random.nextInt(4);
            try {
                for (int i = 0; i < statements; i++) {
                    statement(random);
                }
            } catch (SQLException e) {
                // Two workload threads can touch the same row; a deadlock or serialization failure rolls
                // back one transaction and the run goes on. Anything else ends this thread and is reported.
                c.rollback();
                if (!isConflict(e)) {
                    throw e;
                }
                return 0;
            }
            try {
                c.commit();
                return statements;
            } catch (SQLException e) {
                // A conflict PostgreSQL finds only at commit: the transaction is gone, the run goes on.
                c.rollback();
                return 0;
            }
        }

        private void statement(ThreadLocalRandom random) throws SQLException {
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

    public long changes() {
        return inserts.get() + updates.get() + deletes.get() + keyChanges.get();
    }

    @Override
    public String describe() {
        return String.format("%,d inserts, %,d updates, %,d deletes, %,d key changes in %,d transactions",
                inserts(), updates(), deletes(), keyChanges(), transactions());
    }
}

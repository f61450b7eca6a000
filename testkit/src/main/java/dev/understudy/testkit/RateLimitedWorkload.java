package dev.understudy.testkit;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * What every workload does the same way: writer threads, each on its own connection, repeating one
 * transaction until closed, paced so that all threads together make a target rate of statements per
 * second. A workload supplies only its statements and what one transaction does ({@link #prepare}),
 * and its own counters.
 * <p>
 * A writer thread that throws ends, and the first such failure is reported by {@link #failure()} and
 * by {@link #close()}; the other threads go on, since a caller polls {@link #failure()} and stops the
 * run itself.
 *
 * @param <W> the workload itself, so that {@code new XWorkload(...).start(n)} keeps its type
 */
public abstract class RateLimitedWorkload<W extends RateLimitedWorkload<W>> implements AutoCloseable {
    /** A thread falling further behind its deadlines than this (a stalled database) starts afresh rather than bursting. */
    static final long MAX_BEHIND_NANOS = 1_000_000_000L;
    /** How long close() waits for each thread's last transaction. */
    private static final long JOIN_MS = 10_000;

    private final String name;
    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final int statementsPerSecond;
    private final List<Thread> threads = new ArrayList<>();
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    /** Counted down by close(): ends every loop, and wakes a thread waiting for its next deadline at once. */
    private final CountDownLatch stop = new CountDownLatch(1);

    /**
     * One writer thread's hold on its connection: the statements it prepared and whatever it keeps
     * from one transaction to the next.
     */
    @FunctionalInterface
    protected interface Writer {
        /**
         * Runs one transaction to its end: committed, or rolled back where the workload goes on after
         * such a failure. Returns the statements committed, which count against the rate; 0 for a
         * transaction rolled back, which is neither counted nor paced. Throwing ends the thread and is
         * reported as the workload's failure.
         */
        int transaction() throws SQLException;
    }

    /**
     * @param name                names the threads ({@code name-workload-0}, ...) and the failure
     * @param statementsPerSecond target rate over all threads; 0 or less runs as fast as the database allows
     */
    protected RateLimitedWorkload(String name, String jdbcUrl, String user, String password, int statementsPerSecond) {
        this.name = name;
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.statementsPerSecond = statementsPerSecond;
    }

    /**
     * Reads what the thread needs to know of the tables and prepares its statements on {@code c}, a
     * connection of the writer thread's own with autocommit off; runs on that thread.
     */
    protected abstract Writer prepare(Connection c) throws SQLException;

    /** The workload's counters as one line. */
    public abstract String describe();

    /** A connection for one writer thread, autocommit off; closed when the thread ends. */
    protected Connection connect() throws SQLException {
        Connection c = DriverManager.getConnection(jdbcUrl, user, password);
        c.setAutoCommit(false);
        return c;
    }

    /** Starts {@code threadCount} writer threads, which share the rate. */
    @SuppressWarnings("unchecked")
    public final synchronized W start(int threadCount) {
        if (!threads.isEmpty()) {
            throw new IllegalStateException("The " + name + " workload is already started");
        }
        long intervalNanos = intervalNanos(statementsPerSecond, threadCount);
        for (int i = 0; i < threadCount; i++) {
            Thread t = new Thread(() -> run(intervalNanos), name + "-workload-" + i);
            t.setDaemon(true);
            threads.add(t);
            t.start();
        }
        return (W) this;
    }

    /**
     * The rule turning a rate over all threads into each thread's interval per statement: {@code
     * threads} threads each waiting this long per statement make {@code perSecond} together; 0, no
     * wait, for a rate of 0 or less.
     */
    static long intervalNanos(int perSecond, int threads) {
        return perSecond <= 0 ? 0 : 1_000_000_000L * Math.max(1, threads) / perSecond;
    }

    /**
     * One thread's deadlines: each transaction moves the next one on by its statements times the
     * interval, so that a transaction slower than its share is made up by shorter waits after it.
     */
    static final class Pacer {
        private final long intervalNanos;
        private long next;

        Pacer(long intervalNanos, long nowNanos) {
            this.intervalNanos = intervalNanos;
            this.next = nowNanos;
        }

        /** How long to wait, at {@code nowNanos}, after a transaction of {@code statements}; 0 for no wait. */
        long delayNanos(long statements, long nowNanos) {
            if (intervalNanos <= 0) {
                return 0;
            }
            next += intervalNanos * statements;
            long delay = next - nowNanos;
            if (delay < -MAX_BEHIND_NANOS) {
                next = nowNanos;
            }
            return Math.max(0, delay);
        }
    }

    private void run(long intervalNanos) {
        try (Connection c = connect()) {
            Writer writer = prepare(c);
            Pacer pacer = new Pacer(intervalNanos, System.nanoTime());
            while (running()) {
                int statements = writer.transaction();
                if (statements > 0) {
                    transactions.incrementAndGet();
                }
                long delay = pacer.delayNanos(statements, System.nanoTime());
                if (delay > 0 && stop.await(delay, TimeUnit.NANOSECONDS)) {
                    break;
                }
            }
        } catch (SQLException | RuntimeException e) {
            failure.compareAndSet(null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** False once close() was called. */
    protected final boolean running() {
        return stop.getCount() > 0;
    }

    /**
     * The highest id in {@code table}, 0 when it is empty, read on {@code c} in a transaction of its
     * own: what a writer thread picks ids below.
     */
    protected static long maxId(Connection c, String table) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT coalesce(max(id), 0) FROM " + table)) {
            rs.next();
            long max = rs.getLong(1);
            c.commit();
            return max;
        }
    }

    /**
     * A deadlock or a serialization failure: two writers touched the same rows and PostgreSQL rolled
     * one transaction back, which may simply be run again.
     */
    public static boolean isConflict(SQLException e) {
        return "40P01".equals(e.getSQLState()) || "40001".equals(e.getSQLState());
    }

    /** Committed transactions. */
    public long transactions() {
        return transactions.get();
    }

    /** The first failure of a writer thread, which ended that thread; null while there is none. */
    public Throwable failure() {
        return failure.get();
    }

    /** Stops the writers and waits for their last transaction to end; throws if a writer failed. */
    @Override
    public void close() {
        stop.countDown();
        List<Thread> started;
        synchronized (this) {
            started = List.copyOf(threads);
        }
        for (Thread t : started) {
            try {
                t.join(JOIN_MS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        Throwable f = failure.get();
        if (f != null) {
            throw new IllegalStateException("The " + name + " workload failed: " + f.getMessage(), f);
        }
    }
}

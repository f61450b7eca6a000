package dev.understudy.testkit;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * End-to-end lag as an operator sees it: a probe is committed in the legacy database every interval,
 * and the time until the target shows it is one sample. By default ({@link #PURCHASE_ORDERS}) a probe
 * is an order of customer 1 and is seen once its order number is in purchase_order_view; probe orders
 * are ordinary orders and are part of both checks. Other cases bring their own {@link Probe}.
 */
public final class LagProbe implements AutoCloseable {
    /** What a probe is: a transaction committed in the legacy database, and the query that finds it in the target. */
    public interface Probe {
        /**
         * Prepares on {@code legacy} (autocommit off) what committing probes takes; runs on the
         * probe's writer thread.
         */
        Commit prepare(Connection legacy) throws SQLException;

        /** A query of the target with one array parameter of {@link #keyType()}, returning those of its keys the target shows. */
        String watchSql();

        /** The SQL type of the keys {@link Commit#commit} returns, for the watch query's array. */
        String keyType();
    }

    /** Commits one probe. */
    @FunctionalInterface
    public interface Commit {
        /**
         * Commits probe number {@code n} and returns the key the target will show it under; null when
         * it was rolled back instead, and is no probe.
         */
        Object commit(long n) throws SQLException;
    }

    /** An order of customer 1 numbered {@code PROBE-n}, seen once purchase_order_view holds its number. */
    public static final Probe PURCHASE_ORDERS = new Probe() {
        @Override
        public Commit prepare(Connection legacy) throws SQLException {
            PreparedStatement ps = legacy.prepareStatement(
                    "INSERT INTO public.purchase_orders (order_number, customer_id, total_cents) VALUES (?, 1, 0)");
            return n -> {
                String number = "PROBE-" + n;
                ps.setString(1, number);
                ps.executeUpdate();
                legacy.commit();
                return number;
            };
        }

        @Override
        public String watchSql() {
            return "SELECT order_number FROM public.purchase_order_view WHERE order_number = ANY(?)";
        }

        @Override
        public String keyType() {
            return "text";
        }
    };

    private record Pending(long committedAtMs, long startNanos) {
    }

    private record Sample(long committedAtMs, long latencyMicros) {
    }

    /** SQLState of a table that does not exist (yet). */
    private static final String UNDEFINED_TABLE = "42P01";

    private final String legacyUrl;
    private final String legacyUser;
    private final String legacyPassword;
    private final String targetUrl;
    private final String targetUser;
    private final String targetPassword;
    private final long intervalMs;
    private final Probe probe;
    private final Map<Object, Pending> outstanding = new ConcurrentHashMap<>();
    private final List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
    private final List<Long> committedAtMs = Collections.synchronizedList(new ArrayList<>());
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private Thread writer;
    private Thread watcher;
    private volatile boolean running = true;
    private volatile boolean writing;
    private long next;

    /** Probes orders ({@link #PURCHASE_ORDERS}) every {@code intervalMs}. */
    public LagProbe(String legacyUrl, String legacyUser, String legacyPassword, String targetUrl, String targetUser,
                    String targetPassword, long intervalMs) {
        this(legacyUrl, legacyUser, legacyPassword, targetUrl, targetUser, targetPassword, intervalMs, PURCHASE_ORDERS);
    }

    public LagProbe(String legacyUrl, String legacyUser, String legacyPassword, String targetUrl, String targetUser,
                    String targetPassword, long intervalMs, Probe probe) {
        this.legacyUrl = legacyUrl;
        this.legacyUser = legacyUser;
        this.legacyPassword = legacyPassword;
        this.targetUrl = targetUrl;
        this.targetUser = targetUser;
        this.targetPassword = targetPassword;
        this.intervalMs = intervalMs;
        this.probe = probe;
    }

    /** Commits probes until {@link #stopWriting()}; the watcher runs until {@link #close()}. */
    public synchronized void startWriting() {
        writing = true;
        if (writer == null || !writer.isAlive()) {
            writer = daemon(this::write, "lag-probe-writer");
        }
        if (watcher == null) {
            watcher = daemon(this::watch, "lag-probe-watcher");
        }
    }

    /**
     * Stops committing probes and waits for the last one to be committed, so that a probe cannot land
     * in the legacy tables after the caller took their state as final.
     */
    public void stopWriting() {
        Thread w;
        synchronized (this) {
            writing = false;
            notifyAll();
            w = writer;
        }
        join(w, 10_000);
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void write() {
        try (Connection c = DriverManager.getConnection(legacyUrl, legacyUser, legacyPassword)) {
            c.setAutoCommit(false);
            Commit commit = probe.prepare(c);
            while (running && writing) {
                Object key = commit.commit(++next);
                if (key == null) {
                    continue;
                }
                long now = System.currentTimeMillis();
                outstanding.put(key, new Pending(now, System.nanoTime()));
                committedAtMs.add(now);
                pause();
            }
        } catch (SQLException | RuntimeException e) {
            failure.compareAndSet(null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Waits one interval, or less when writing stops meanwhile. */
    private synchronized void pause() throws InterruptedException {
        long until = System.nanoTime() + intervalMs * 1_000_000L;
        for (long left = until - System.nanoTime(); left > 0 && running && writing; left = until - System.nanoTime()) {
            TimeUnit.NANOSECONDS.timedWait(this, left);
        }
    }

    private void watch() {
        try (Connection c = DriverManager.getConnection(targetUrl, targetUser, targetPassword);
             PreparedStatement ps = c.prepareStatement(probe.watchSql())) {
            while (running) {
                if (!outstanding.isEmpty()) {
                    ps.setArray(1, c.createArrayOf(probe.keyType(), outstanding.keySet().toArray()));
                    try (ResultSet rs = ps.executeQuery()) {
                        long now = System.nanoTime();
                        while (rs.next()) {
                            Pending p = outstanding.remove(rs.getObject(1));
                            if (p != null) {
                                samples.add(new Sample(p.committedAtMs(), (now - p.startNanos()) / 1000));
                            }
                        }
                    } catch (SQLException e) {
                        // The target table exists once the first pipeline migrated it; until then there is nothing to watch.
                        if (!UNDEFINED_TABLE.equals(e.getSQLState())) {
                            throw e;
                        }
                        Thread.sleep(200);
                        continue;
                    }
                }
                Thread.sleep(10);
            }
        } catch (SQLException | RuntimeException e) {
            failure.compareAndSet(null, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Percentile {@code p} (0 to 100) of the lag of the probes committed in [fromMs, toMs), in milliseconds; NaN without any. */
    public double percentileMs(double p, long fromMs, long toMs) {
        List<Long> copy = new ArrayList<>();
        synchronized (samples) {
            for (Sample s : samples) {
                if (s.committedAtMs() >= fromMs && s.committedAtMs() < toMs) {
                    copy.add(s.latencyMicros());
                }
            }
        }
        if (copy.isEmpty()) {
            return Double.NaN;
        }
        Collections.sort(copy);
        int index = (int) Math.min(copy.size() - 1, Math.max(0, Math.ceil(p / 100.0 * copy.size()) - 1));
        return copy.get(index) / 1000.0;
    }

    /** Probes committed in [fromMs, toMs) that the target showed. */
    public int samples(long fromMs, long toMs) {
        synchronized (samples) {
            return (int) samples.stream().filter(s -> s.committedAtMs() >= fromMs && s.committedAtMs() < toMs).count();
        }
    }

    /** Probes committed in [fromMs, toMs), whether the target showed them or not. */
    public int committed(long fromMs, long toMs) {
        synchronized (committedAtMs) {
            return (int) committedAtMs.stream().filter(t -> t >= fromMs && t < toMs).count();
        }
    }

    public String lastLatency() {
        synchronized (samples) {
            return samples.isEmpty() ? "n/a" : String.format("%,d ms", samples.get(samples.size() - 1).latencyMicros() / 1000);
        }
    }

    /** The first failure of the writer or the watcher, which ended that thread; null while there is none. */
    public Throwable failure() {
        return failure.get();
    }

    /** Stops both threads; throws if either could not do its work, since the lag figures would then be incomplete. */
    @Override
    public void close() {
        Thread w;
        Thread t;
        synchronized (this) {
            running = false;
            writing = false;
            notifyAll();
            w = writer;
            t = watcher;
        }
        join(w, 5_000);
        join(t, 5_000);
        Throwable f = failure.get();
        if (f != null) {
            throw new IllegalStateException("The lag probe failed: " + f.getMessage(), f);
        }
    }

    private static void join(Thread t, long ms) {
        if (t != null) {
            try {
                t.join(ms);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
    }
}

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

/**
 * End-to-end lag as an operator sees it: a probe order is committed in the legacy database for
 * customer 1, and the time until its order number is visible in purchase_order_view is recorded.
 * Probe orders are ordinary orders and are part of both checks.
 */
public final class LagProbe implements AutoCloseable {
    private record Pending(long committedAtMs, long startNanos) {
    }

    private record Sample(long committedAtMs, long latencyMicros) {
    }

    private final String legacyUrl;
    private final String legacyUser;
    private final String legacyPassword;
    private final String targetUrl;
    private final String targetUser;
    private final String targetPassword;
    private final long intervalMs;
    private final Map<String, Pending> outstanding = new ConcurrentHashMap<>();
    private final List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
    private Thread writer;
    private Thread watcher;
    private volatile boolean running = true;
    private volatile boolean writing;
    private long next;

public LagProbe(String legacyUrl, String legacyUser, String legacyPassword, String targetUrl, String targetUser,
                  String targetPassword, long intervalMs) {
        this.legacyUrl = legacyUrl;
        this.legacyUser = legacyUser;
        this.legacyPassword = legacyPassword;
        this.targetUrl = targetUrl;
        this.targetUser = targetUser;
        this.targetPassword = targetPassword;
        this.intervalMs = intervalMs;
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

    public void stopWriting() {
        writing = false;
    }

    private static Thread daemon(Runnable r, String name) {
        Thread t = new Thread(r, name);
        t.setDaemon(true);
        t.start();
        return t;
    }

    private void write() {
        try (Connection c = DriverManager.getConnection(legacyUrl, legacyUser, legacyPassword);
             PreparedStatement ps = c.prepareStatement(
                     "INSERT INTO public.purchase_orders (order_number, customer_id, total_cents) VALUES (?, 1, 0)")) {
            while (running && writing) {
                String number = "PROBE-" + (++next);
                ps.setString(1, number);
                ps.executeUpdate();
                // autocommit: the insert is committed when executeUpdate returns
                outstanding.put(number, new Pending(System.currentTimeMillis(), System.nanoTime()));
                Thread.sleep(intervalMs);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Lag probe cannot write to the legacy database: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private void watch() {
        try (Connection c = DriverManager.getConnection(targetUrl, targetUser, targetPassword);
             PreparedStatement ps = c.prepareStatement("SELECT order_number FROM public.purchase_order_view WHERE order_number = ANY(?)")) {
            while (running) {
                if (!outstanding.isEmpty()) {
                    ps.setArray(1, c.createArrayOf("text", outstanding.keySet().toArray()));
                    try (ResultSet rs = ps.executeQuery()) {
                        long now = System.nanoTime();
                        while (rs.next()) {
                            Pending p = outstanding.remove(rs.getString(1));
                            if (p != null) {
                                samples.add(new Sample(p.committedAtMs(), (now - p.startNanos()) / 1000));
                            }
                        }
                    }
                }
                Thread.sleep(10);
            }
        } catch (SQLException e) {
            // The target table exists once the first pipeline migrated it; until then there is nothing to watch.
            if (running) {
                sleepQuietly();
                watch();
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    private static void sleepQuietly() {
        try {
            Thread.sleep(200);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

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

    public int samples(long fromMs, long toMs) {
        synchronized (samples) {
            return (int) samples.stream().filter(s -> s.committedAtMs() >= fromMs && s.committedAtMs() < toMs).count();
        }
    }

    public String lastLatency() {
        synchronized (samples) {
            return samples.isEmpty() ? "n/a" : String.format("%,d ms", samples.get(samples.size() - 1).latencyMicros() / 1000);
        }
    }

    @Override
    public void close() {
        running = false;
        writing = false;
        for (Thread t : new Thread[]{writer, watcher}) {
            if (t != null) {
                try {
                    t.join(5_000);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}

package dev.understudy.pipeline;

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
 * Measures end-to-end lag the way an operator sees it: a probe row is committed in the legacy
 * users table, and the time until the same key is visible in the target table is recorded. The
 * probe rows are ordinary rows and migrate like any other.
 */
public final class LagProbe implements AutoCloseable {
    private final String legacyUrl;
    private final String legacyUser;
    private final String legacyPassword;
    private final String targetUrl;
    private final String targetUser;
    private final String targetPassword;
    private final long intervalMs;
    /** One probe: when it was committed in the legacy database (epoch ms) and how long until the target showed it. */
    public record Sample(long committedAtMs, long latencyMicros) {
    }

    private record Pending(long committedAtMs, long startNanos) {
    }

    private final Map<Long, Pending> outstandingProbes = new ConcurrentHashMap<>();
    private final List<Sample> samples = Collections.synchronizedList(new ArrayList<>());
    private Thread writer;
    private Thread watcher;
    private volatile boolean running;
    private volatile boolean stopWriting;

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

    public LagProbe start() {
        running = true;
        writer = new Thread(this::write, "lag-probe-writer");
        watcher = new Thread(this::watch, "lag-probe-watcher");
        writer.setDaemon(true);
        watcher.setDaemon(true);
        writer.start();
        watcher.start();
        return this;
    }

    private void write() {
        try (Connection c = DriverManager.getConnection(legacyUrl, legacyUser, legacyPassword);
             PreparedStatement ps = c.prepareStatement(
                     "INSERT INTO public.users (name, email) VALUES ('Lag probe', 'probe@example.com') RETURNING id")) {
            while (running && !stopWriting) {
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    // autocommit: the insert is committed when executeQuery returns
                    outstandingProbes.put(rs.getLong(1), new Pending(System.currentTimeMillis(), System.nanoTime()));
                }
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
             PreparedStatement ps = c.prepareStatement("SELECT id FROM public.users WHERE id = ANY(?)")) {
            while (running) {
                if (!outstandingProbes.isEmpty()) {
                    ps.setArray(1, c.createArrayOf("bigint", outstandingProbes.keySet().toArray()));
                    try (ResultSet rs = ps.executeQuery()) {
                        long now = System.nanoTime();
                        while (rs.next()) {
                            Pending started = outstandingProbes.remove(rs.getLong(1));
                            if (started != null) {
                                samples.add(new Sample(started.committedAtMs(), (now - started.startNanos()) / 1000));
                            }
                        }
                    }
                }
                Thread.sleep(10);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Lag probe cannot read the target database: " + e.getMessage(), e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Stops committing probes; outstanding ones are still watched until {@link #close()}. */
    public void stopWriting() {
        stopWriting = true;
    }

    /**
     * Latency percentile in milliseconds over the probes committed in [fromMs, toMs) (epoch ms),
     * NaN when there are none.
     */
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

    public double percentileMs(double p) {
        return percentileMs(p, Long.MIN_VALUE, Long.MAX_VALUE);
    }

    /** Probes committed in [fromMs, toMs) that the target has shown. */
    public int samples(long fromMs, long toMs) {
        synchronized (samples) {
            return (int) samples.stream().filter(s -> s.committedAtMs() >= fromMs && s.committedAtMs() < toMs).count();
        }
    }

    /** The latest probe's latency as text, e.g. "85 ms", or "n/a" before the first probe arrived. */
    public String lastLatency() {
        synchronized (samples) {
            return samples.isEmpty() ? "n/a" : String.format("%,d ms", samples.get(samples.size() - 1).latencyMicros() / 1000);
        }
    }

    public int samples() {
        return samples.size();
    }

    @Override
    public void close() {
        running = false;
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

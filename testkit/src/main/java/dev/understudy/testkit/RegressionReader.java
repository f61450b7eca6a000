package dev.understudy.testkit;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Reads a target table over and over, on a thread of its own, and counts the reads that saw a row
 * older than an earlier read did. It needs a workload under which every key only moves forward: one
 * column that never decreases for a key (an order's total under {@link PurchaseOrdersWorkload}, which
 * only adds to it), and keys that never come back once removed (order numbers are never reused). A
 * lower value than one seen before, or a removed key seen again, is then a row shown in an older
 * state than it was: what a backfill must never do to readers of the target.
 */
public final class RegressionReader implements AutoCloseable {
    private final String url;
    private final String user;
    private final String password;
    private final String sql;
    private final Map<String, Long> last = new HashMap<>();
    private final Set<String> gone = new HashSet<>();
    private final List<String> examples = new ArrayList<>();
    private final AtomicBoolean stopped = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    /** One connection for every read, on the reader's thread and then for the last read in {@link #close()}. */
    private Connection connection;
    private Thread thread;
    private long reads;
    private long regressions;

    /**
     * @param table     the target table, as SQL
     * @param key       the key column, as SQL
     * @param monotonic the column that never decreases for a key, as SQL (a bigint or integer)
     */
    public RegressionReader(String url, String user, String password, String table, String key, String monotonic) {
        this.url = url;
        this.user = user;
        this.password = password;
        this.sql = "SELECT " + key + "::text, " + monotonic + " FROM " + table;
    }

    /** One read now, on the caller's thread (the state the reader starts from), then reads every {@code intervalMs}. */
    public RegressionReader start(long intervalMs) throws SQLException {
        read();
        thread = new Thread(() -> {
            try {
                while (!stopped.get()) {
                    read();
                    Thread.sleep(intervalMs);
                }
            } catch (Throwable t) {
                failure.set(t);
            }
        }, "regression-reader");
        thread.setDaemon(true);
        thread.start();
        return this;
    }

    private void read() throws SQLException {
        Map<String, Long> now = new HashMap<>();
        if (connection == null) {
            connection = DriverManager.getConnection(url, user, password);
            connection.setAutoCommit(true);
        }
        try (Statement s = connection.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                now.put(rs.getString(1), rs.getLong(2));
            }
        }
        synchronized (this) {
            for (Map.Entry<String, Long> e : now.entrySet()) {
                Long before = last.get(e.getKey());
                if (gone.contains(e.getKey())) {
                    note(e.getKey() + " is back after it was gone");
                    gone.remove(e.getKey());
                } else if (before != null && e.getValue() < before) {
                    note(e.getKey() + " at " + e.getValue() + " after " + before);
                }
                if (before == null || e.getValue() > before) {
                    last.put(e.getKey(), e.getValue());
                }
            }
            for (String k : last.keySet()) {
                if (!now.containsKey(k)) {
                    gone.add(k);
                }
            }
            reads++;
        }
    }

    private void note(String example) {
        regressions++;
        if (examples.size() < 5) {
            examples.add(example);
        }
    }

    /** Stops reading after one last read; rethrows what stopped the reader, if anything did. */
    @Override
    public void close() throws SQLException, InterruptedException {
        if (stopped.getAndSet(true) || thread == null) {
            return;
        }
        thread.join();
        try {
            Throwable t = failure.get();
            if (t != null) {
                throw new IllegalStateException("The regression reader failed: " + t, t);
            }
            read();
        } finally {
            if (connection != null) {
                connection.close();
            }
        }
    }

    public synchronized long reads() {
        return reads;
    }

    /** How many times a read saw a row older than an earlier read had. */
    public synchronized long regressions() {
        return regressions;
    }

    /** E.g. {@code 874 reads, 0 rows seen older than before}, with up to five examples. */
    public synchronized String summary() {
        return String.format("%,d reads, %,d rows seen older than before%s", reads, regressions, examples.isEmpty() ? "" : " " + examples);
    }
}

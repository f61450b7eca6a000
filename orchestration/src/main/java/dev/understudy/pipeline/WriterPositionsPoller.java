package dev.understudy.pipeline;

import dev.understudy.transform.WriterProgress;
import dev.understudy.writer.WriterBookkeeping;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * The shadow writer's applied positions, read from the target ({@link WriterBookkeeping#appliedPositions})
 * every {@value #POLL_MS} ms, for the comparison's LSN alignment ({@link WriterProgress}). The writer
 * stores a position in the same transaction as the rows below it, so a position read from the table
 * is a fact about the target: every record before it is applied (or dead-lettered, or superseded).
 * <p>
 * Each partition keeps the positions seen and when each was first seen, so the comparison can ask
 * when a given offset became applied; the time is when this poller saw it, at most one poll late,
 * which only delays a report.
 */
public final class WriterPositionsPoller implements WriterProgress, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(WriterPositionsPoller.class);
    static final long POLL_MS = 200;
    /** Samples kept per partition: positions move only when the writer commits, so this spans minutes at least. */
    private static final int HISTORY = 4096;

    private final String url;
    private final String user;
    private final String password;
    private final String group;
    private final Map<String, Samples> partitions = new ConcurrentHashMap<>();
    private final ScheduledExecutorService poller;
    private Connection connection;
    private volatile boolean warned;
    private volatile long polls;

    /** Positions seen for one partition, in order (they only grow), with when each was first seen. */
    private static final class Samples {
        private final List<long[]> entries = new ArrayList<>();

        synchronized void add(long position, long nowMs) {
            if (entries.isEmpty() || entries.get(entries.size() - 1)[0] < position) {
                entries.add(new long[]{position, nowMs});
                if (entries.size() > HISTORY) {
                    entries.subList(0, entries.size() - HISTORY).clear();
                }
            }
        }

        synchronized long appliedAt(long offset) {
            // The first sample past the offset (binary search: positions increase).
            int lo = 0;
            int hi = entries.size() - 1;
            long found = NOT_APPLIED;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                long[] e = entries.get(mid);
                if (e[0] > offset) {
                    found = e[1];
                    hi = mid - 1;
                } else {
                    lo = mid + 1;
                }
            }
            return found;
        }
    }

    public WriterPositionsPoller(String url, String user, String password, String writerGroup) {
        this.url = url;
        this.user = user;
        this.password = password;
        this.group = writerGroup;
        this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "understudy-writer-positions");
            t.setDaemon(true);
            return t;
        });
    }

    public WriterPositionsPoller start() {
        poller.scheduleWithFixedDelay(this::poll, 0, POLL_MS, TimeUnit.MILLISECONDS);
        return this;
    }

    @Override
    public long appliedAtMs(String topic, int partition, long offset) {
        Samples s = partitions.get(topic + "#" + partition);
        return s == null ? NOT_APPLIED : s.appliedAt(offset);
    }

    /** Completed polls; the comparison trusts nothing before the first. */
    public long polls() {
        return polls;
    }

    private void poll() {
        try {
            if (connection == null || connection.isClosed()) {
                connection = DriverManager.getConnection(url, user, password);
                connection.setAutoCommit(true);
            }
            long now = System.currentTimeMillis();
            // Before the writer's first batch its table may not exist: nothing is applied yet, and the
            // poll does not count (as when the read fails), so the comparison keeps waiting for one.
            Optional<Map<TopicPartition, Long>> positions = WriterBookkeeping.appliedPositions(connection, group);
            if (positions.isEmpty()) {
                return;
            }
            positions.get().forEach((tp, next) -> partitions.computeIfAbsent(tp.topic() + "#" + tp.partition(), k -> new Samples()).add(next, now));
            polls++;
            warned = false;
        } catch (SQLException e) {
            // Keys stay pending until it recovers.
            if (!warned) {
                warned = true;
                LOG.warn("Cannot read the writer's positions from {} on {} (SQLSTATE {}): {}; the comparison keeps keys pending meanwhile",
                        WriterBookkeeping.positionTable(), url, e.getSQLState(), e.getMessage());
            }
            closeQuietly();
        } catch (RuntimeException e) {
            LOG.warn("Reading the writer's positions failed: {}", e.toString());
        }
    }

    private void closeQuietly() {
        try {
            if (connection != null) {
                connection.close();
            }
        } catch (SQLException ignored) {
            // Closing a broken connection.
        }
        connection = null;
    }

    @Override
    public void close() {
        poller.shutdownNow();
        try {
            poller.awaitTermination(5, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        closeQuietly();
    }
}

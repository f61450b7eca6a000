package dev.understudy.writer;

import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.TimeUnit;

/**
 * What holds the writer back: the rate limit set in this process, and the group's controls in the
 * target ({@link WriterControl}: pause, and a rate that overrides the local one), which every writer
 * of the group reads about once a second, so that {@code understudy throttle} reaches them all.
 */
final class WriterControls {
    private static final Logger log = LoggerFactory.getLogger(WriterControls.class);
    private static final long REFRESH_NANOS = TimeUnit.SECONDS.toNanos(1);

    private final String groupId;
    private final RateWindow window = new RateWindow();
    /** Records per second this process may apply; 0 means no limit. Set from any thread. */
    private volatile double localRate;
    private volatile boolean paused;
    private volatile Double groupRate;
    private long readAt;

    WriterControls(String groupId) {
        this.groupId = groupId;
    }

    void setLocalRate(double perSecond) {
        localRate = perSecond;
    }

    /** Whether the group's controls pause the writers. */
    boolean paused() {
        return paused;
    }

    /** How long to hold back after a batch of {@code records}, at the group's rate if set, else the local one. */
    long waitMillis(int records, long nowNanos) {
        Double override = groupRate;
        return window.waitMillis(records, override != null ? override : localRate, nowNanos);
    }

    /**
     * Reads the group's controls on {@code c} unless read less than a second ago. A failure keeps the
     * last controls: the next batch meets the same database and goes through the retry path.
     */
    void refresh(Connection c, long nowNanos) {
        if (readAt != 0 && nowNanos - readAt < REFRESH_NANOS) {
            return;
        }
        readAt = nowNanos;
        if (c == null) {
            return;
        }
        try {
            Optional<WriterBookkeeping.Control> control = WriterControl.read(c, groupId);
            c.commit();
            boolean nowPaused = control.map(WriterBookkeeping.Control::paused).orElse(false);
            Double rate = control.map(WriterBookkeeping.Control::maxRecordsPerSecond).orElse(null);
            if (nowPaused != paused || !Objects.equals(rate, groupRate)) {
                log.info("Writer controls from {}: {}{}", WriterControl.TABLE, nowPaused ? "paused" : "running",
                        rate == null ? "" : ", at most " + rate + " records/s");
            }
            paused = nowPaused;
            groupRate = rate;
        } catch (SQLException e) {
            TargetConnection.rollbackQuietly(c);
            log.debug("Could not read {}: {}", WriterControl.TABLE, e.getMessage());
        }
    }
}

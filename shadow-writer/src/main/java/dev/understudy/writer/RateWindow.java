package dev.understudy.writer;

import java.util.concurrent.TimeUnit;

/**
 * The writer's rate limit as arithmetic: records counted over a window, and how long the writer must
 * wait so that the window's records do not exceed the rate. The window restarts when it is older
 * than {@link #WINDOW_NANOS}, so idle time earns little credit for a later burst.
 */
final class RateWindow {
    /** Long enough to smooth batches, short enough that idle time earns little credit. */
    static final long WINDOW_NANOS = TimeUnit.SECONDS.toNanos(5);

    private long start;
    private long records;

    /**
     * Counts {@code added} records at {@code nowNanos} and returns how many milliseconds to wait
     * before the next batch at {@code rate} records per second; 0 when there is no limit
     * ({@code rate <= 0}) or no need to wait.
     */
    long waitMillis(int added, double rate, long nowNanos) {
        if (rate <= 0) {
            start = 0;
            return 0;
        }
        if (start == 0 || nowNanos - start > WINDOW_NANOS) {
            start = nowNanos;
            records = 0;
        }
        records += added;
        long due = start + (long) (records / rate * 1e9);
        return Math.max(0, TimeUnit.NANOSECONDS.toMillis(due - nowNanos));
    }
}

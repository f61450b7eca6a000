package dev.understudy.writer;

import org.junit.jupiter.api.Test;

import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;

class RateWindowTest {
    private static final long SECOND = TimeUnit.SECONDS.toNanos(1);

    @Test
    void recordsBeyondTheRateWaitTheirShare() {
        RateWindow w = new RateWindow();
        long t0 = 10 * SECOND;
        assertEquals(2_000, w.waitMillis(100, 50, t0), "100 records at 50/s take 2 s");
        assertEquals(1_000, w.waitMillis(50, 50, t0 + 2 * SECOND), "the next 50 are due one second after the first 100");
        assertEquals(0, w.waitMillis(10, 50, t0 + 4 * SECOND), "the writer is behind its budget: no wait");
    }

    @Test
    void idleTimeEarnsNoCreditBeyondTheWindowAndNoRateMeansNoWait() {
        RateWindow w = new RateWindow();
        w.waitMillis(10, 10, SECOND);
        long later = SECOND + RateWindow.WINDOW_NANOS + SECOND;
        assertEquals(1_000, w.waitMillis(10, 10, later), "a new window starts: 10 records at 10/s wait a full second");
        assertEquals(0, w.waitMillis(1_000_000, 0, later));
        assertEquals(0, w.waitMillis(1_000_000, -1, later));
    }
}

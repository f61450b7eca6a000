package dev.understudy.testkit;

import org.junit.jupiter.api.Test;

import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.SQLException;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.atomic.AtomicLong;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The base of the workloads without a database: its writer threads run a fake transaction on a
 * connection that does nothing. Bounds are loose, since the machine may be busy with other builds.
 */
class RateLimitedWorkloadTest {
    private static final long MS = 1_000_000L;

    /** Counts its transactions; each is {@code statements} statements, and the one numbered {@code failAt} throws. */
    private static final class FakeWorkload extends RateLimitedWorkload<FakeWorkload> {
        final AtomicLong attempts = new AtomicLong();
        final Set<Thread> threads = ConcurrentHashMap.newKeySet();
        final int statements;
        final long failAt;
        final SQLException failure = new SQLException("the fake transaction failed", "XX000");

        FakeWorkload(int perSecond, int statements, long failAt) {
            super("fake", null, null, null, perSecond);
            this.statements = statements;
            this.failAt = failAt;
        }

        @Override
        protected Connection connect() {
            return (Connection) Proxy.newProxyInstance(getClass().getClassLoader(), new Class<?>[]{Connection.class}, (p, m, a) -> null);
        }

        @Override
        protected Writer prepare(Connection c) {
            threads.add(Thread.currentThread());
            return () -> {
                if (attempts.incrementAndGet() == failAt) {
                    throw failure;
                }
                return statements;
            };
        }

        @Override
        public String describe() {
            return attempts + " attempts";
        }
    }

    @Test
    void aRateOverAllThreadsIsEachThreadsIntervalPerStatement() {
        assertEquals(10 * MS, RateLimitedWorkload.intervalNanos(100, 1));
        assertEquals(20 * MS, RateLimitedWorkload.intervalNanos(100, 2));
        assertEquals(1_000 * MS, RateLimitedWorkload.intervalNanos(3, 3));
        assertEquals(0, RateLimitedWorkload.intervalNanos(0, 2), "0 is unlimited");
        assertEquals(0, RateLimitedWorkload.intervalNanos(-5, 2), "so is a negative rate");
    }

    @Test
    void thePacerWaitsForEachTransactionsShareAndMakesUpForSlowOnes() {
        RateLimitedWorkload.Pacer pacer = new RateLimitedWorkload.Pacer(10 * MS, 0);
        assertEquals(30 * MS, pacer.delayNanos(3, 0), "three statements, due 30 ms after the start");
        assertEquals(5 * MS, pacer.delayNanos(1, 35 * MS), "a slow transaction shortens the next wait");
        assertEquals(0, pacer.delayNanos(1, 100 * MS), "behind: no wait until caught up");
        assertEquals(0, pacer.delayNanos(1, 100 * MS));
        assertEquals(10 * MS, pacer.delayNanos(5, 100 * MS), "caught up again");
        assertEquals(0, new RateLimitedWorkload.Pacer(0, 0).delayNanos(100, 0), "unlimited");
    }

    @Test
    void aPacerFarBehindStartsAfreshRatherThanBursting() {
        RateLimitedWorkload.Pacer pacer = new RateLimitedWorkload.Pacer(10 * MS, 0);
        assertEquals(0, pacer.delayNanos(1, 5_000 * MS));
        assertEquals(10 * MS, pacer.delayNanos(1, 5_000 * MS), "deadlines count from the stall, not from before it");
    }

    @Test
    void theRateIsRespectedOverASecond() throws Exception {
        FakeWorkload w = new FakeWorkload(100, 1, -1).start(2);
        Thread.sleep(1_000);
        w.close();
        long done = w.attempts.get();
        assertTrue(done >= 50 && done <= 150, "100 statements/s over 2 threads made " + done + " in about a second");
        assertEquals(done, w.transactions());
        assertEquals(2, w.threads.size());
    }

    @Test
    void aFailureEndsItsThreadAndIsReported() throws Exception {
        FakeWorkload w = new FakeWorkload(0, 1, 3).start(1);
        long deadline = System.nanoTime() + 10_000 * MS;
        while (w.failure() == null && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        assertSame(w.failure, w.failure());
        Thread thread = w.threads.iterator().next();
        thread.join(10_000);
        assertFalse(thread.isAlive(), "the failed thread ended");
        assertEquals(3, w.attempts.get(), "no transaction after the failing one");
        assertEquals(2, w.transactions());
        IllegalStateException thrown = assertThrows(IllegalStateException.class, w::close);
        assertSame(w.failure, thrown.getCause());
        assertEquals("The fake workload failed: the fake transaction failed", thrown.getMessage());
    }

    @Test
    void closeStopsEveryThreadEvenOneWaitingForItsNextDeadline() throws Exception {
        // Unlimited threads spin; the paced ones wait 10 s after each transaction, far longer than close may take.
        FakeWorkload busy = new FakeWorkload(0, 1, -1).start(3);
        FakeWorkload waiting = new FakeWorkload(1, 5, -1).start(2);
        long deadline = System.nanoTime() + 10_000 * MS;
        while ((busy.threads.size() < 3 || waiting.attempts.get() < 2) && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        long closing = System.nanoTime();
        busy.close();
        waiting.close();
        long closeMs = (System.nanoTime() - closing) / MS;
        for (Thread t : busy.threads) {
            assertFalse(t.isAlive(), t.getName() + " still runs after close");
        }
        for (Thread t : waiting.threads) {
            assertFalse(t.isAlive(), t.getName() + " still runs after close");
        }
        assertTrue(closeMs < 5_000, "close took " + closeMs + " ms");
        assertEquals(2, waiting.attempts.get(), "one transaction per paced thread, then the wait close cut short");
        long after = busy.attempts.get();
        Thread.sleep(50);
        assertEquals(after, busy.attempts.get(), "no transaction after close");
    }

    @Test
    void threadsAreNamedAfterTheWorkload() throws Exception {
        FakeWorkload w = new FakeWorkload(10, 1, -1).start(2);
        long deadline = System.nanoTime() + 10_000 * MS;
        while (w.threads.size() < 2 && System.nanoTime() < deadline) {
            Thread.sleep(5);
        }
        w.close();
        assertEquals(Set.of("fake-workload-0", "fake-workload-1"), w.threads.stream().map(Thread::getName).collect(Collectors.toSet()));
    }
}

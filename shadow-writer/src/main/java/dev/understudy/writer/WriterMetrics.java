package dev.understudy.writer;

import java.util.concurrent.atomic.AtomicLong;

/**
 * Counters of a running {@link ShadowWriter}, safe to read from any thread. Counts cover committed
 * batches only: a batch that is retried counts once, when it commits.
 */
public final class WriterMetrics {
    private final AtomicLong upserts = new AtomicLong();
    private final AtomicLong deletes = new AtomicLong();
    private final AtomicLong rowsStale = new AtomicLong();
    private final AtomicLong rowsSuperseded = new AtomicLong();
    private final AtomicLong batches = new AtomicLong();
    private final AtomicLong deadLettered = new AtomicLong();
    private final AtomicLong lastBatchMillis = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();
    private final AtomicLong lag = new AtomicLong();
    private final AtomicLong recordsCommitted = new AtomicLong();
    private final AtomicLong throttledMillis = new AtomicLong();
    private volatile boolean paused;
    private final AtomicLong transactionsApplied = new AtomicLong();
    private volatile long heldSpills;
    private volatile long heldRecords;
    private volatile long appliedCommitOrder = Long.MIN_VALUE;

    /** Source transactions whose held records were applied together (transaction boundaries on). */
    public long transactionsApplied() {
        return transactionsApplied.get();
    }

    /**
     * Times holding reached its bound ({@code TransactionAligner.MAX_HELD_RECORDS}): the newest held
     * transactions were let go, the older ones applied whole, and the newer ones read again from Kafka.
     * A cost in re-reading, never in atomicity.
     */
    public long heldSpills() {
        return heldSpills;
    }

    /** Records held until their source transaction is complete (included in {@link #lag()}). */
    public long heldRecords() {
        return heldRecords;
    }

    /**
     * The highest commit order released: the source transactions up to it were applied whole in the
     * partitions the release covered (every partition, with one writer). Long.MIN_VALUE when none or boundaries are off.
     */
    public long appliedCommitOrder() {
        return appliedCommitOrder;
    }

    void transactionsApplied(int n) {
        transactionsApplied.addAndGet(n);
    }

    void held(long records, long commitOrder, long spills) {
        heldRecords = records;
        appliedCommitOrder = commitOrder;
        heldSpills = spills;
    }

    /** Milliseconds the writer held back on purpose (rate limit or pause): the backpressure it applied. */
    public long throttledMillis() {
        return throttledMillis.get();
    }

    /** True while an operator has paused the writer. */
    public boolean paused() {
        return paused;
    }

    void throttled(long millis, boolean pausedNow) {
        throttledMillis.addAndGet(millis);
        paused = pausedNow;
    }

    void paused(boolean value) {
        paused = value;
    }

    /** Rows changed in the target: upserts plus deletes. */
    public long rowsApplied() {
        return upserts.get() + deletes.get();
    }

    public long upserts() {
        return upserts.get();
    }

    public long deletes() {
        return deletes.get();
    }

    /** Changes skipped because the target already held the same or a newer version (replays, reordering). */
    public long rowsStale() {
        return rowsStale.get();
    }

    /** Changes skipped because a newer change to the same key came in the same batch. */
    public long rowsSuperseded() {
        return rowsSuperseded.get();
    }

    /** Batches committed to the database (one per non-empty poll). */
    public long batches() {
        return batches.get();
    }

    /** Records published to the dead-letter topic. */
    public long deadLettered() {
        return deadLettered.get();
    }

    /** Wall time of the last committed batch, from the first database statement to the offset commit. */
    public long lastBatchMillis() {
        return lastBatchMillis.get();
    }

    /** Attempts that failed with a retriable error and were retried. */
    public long retries() {
        return retries.get();
    }

    /** Records consumed and committed (applied, stale, superseded or dead-lettered). */
    public long recordsCommitted() {
        return recordsCommitted.get();
    }

    /**
     * Records not yet applied on the assigned partitions: the sum of end offset minus position,
     * where a batch being applied or retried counts as not consumed. Refreshed at most once a second.
     */
    public long lag() {
        return lag.get();
    }

    void recordBatch(ApplyResult result, int deadLetters, int records, long millis) {
        upserts.addAndGet(result.upserted());
        deletes.addAndGet(result.deleted());
        rowsStale.addAndGet(result.stale());
        rowsSuperseded.addAndGet(result.superseded());
        deadLettered.addAndGet(deadLetters);
        recordsCommitted.addAndGet(records);
        batches.incrementAndGet();
        lastBatchMillis.set(millis);
    }

    void recordRetry() {
        retries.incrementAndGet();
    }

    void lag(long value) {
        lag.set(value);
    }

    @Override
    public String toString() {
        return "WriterMetrics[applied=" + rowsApplied() + " (upserts " + upserts() + ", deletes " + deletes() + "), stale="
                + rowsStale() + ", superseded=" + rowsSuperseded() + ", batches=" + batches() + ", deadLettered="
                + deadLettered() + ", lastBatchMillis=" + lastBatchMillis() + ", retries=" + retries() + ", lag=" + lag() + ", held=" + heldRecords() + ", transactionsApplied=" + transactionsApplied() + "]";
    }
}

package dev.understudy.capture;

import java.util.concurrent.atomic.AtomicLong;

/** Counters of one capture, safe to read from any thread. */
public final class CaptureMetrics {
    final AtomicLong snapshotRows = new AtomicLong();
    final AtomicLong streamedChanges = new AtomicLong();
    final AtomicLong incrementalSnapshotRows = new AtomicLong();
    final AtomicLong lastLsn = new AtomicLong();
    final AtomicLong lastSourceTsMs = new AtomicLong();
    final AtomicLong lastBatchAckMs = new AtomicLong();
    final AtomicLong batches = new AtomicLong();
    final AtomicLong commitsAnnounced = new AtomicLong();
    final AtomicLong deadLettered = new AtomicLong();
    volatile boolean snapshotCompleted;
    volatile long snapshotCompletedAtMs;

    /** Changes the capture could not convert, sent to the dead-letter topic instead (acknowledged by Kafka). */
    public long deadLettered() {
        return deadLettered.get();
    }

    /** Rows read by the initial snapshot and acknowledged by Kafka. */
    public long snapshotRows() {
        return snapshotRows.get();
    }

    /** Rows read by incremental snapshots and acknowledged by Kafka (not counted in {@link #snapshotRows()}). */
    public long incrementalSnapshotRows() {
        return incrementalSnapshotRows.get();
    }

    /** Changes read from the WAL stream and acknowledged by Kafka. */
    public long streamedChanges() {
        return streamedChanges.get();
    }

    /** WAL position of the last acknowledged change. */
    public long lastLsn() {
        return lastLsn.get();
    }

    /** Source commit time of the last acknowledged streamed change, ms since the epoch (0 if none). */
    public long lastSourceTsMs() {
        return lastSourceTsMs.get();
    }

    /** Transaction commits announced on the commits topic (several transactions ending in one batch count once). */
    public long commitsAnnounced() {
        return commitsAnnounced.get();
    }

    public long batches() {
        return batches.get();
    }

    /** Wall-clock time the first streamed change was acknowledged, ms since the epoch (0 before). */
    public long snapshotCompletedAtMs() {
        return snapshotCompletedAtMs;
    }

    /** True once a streamed (non-snapshot) change has been captured, i.e. the initial snapshot is over. */
    public boolean snapshotCompleted() {
        return snapshotCompleted;
    }
}

package dev.understudy.cli;

import dev.understudy.pipeline.DriftMonitor;
import dev.understudy.pipeline.Pipeline;

/** One line of progress: capture, writer throughput and lag, drift. */
public final class StatusLine {
    private final Pipeline pipeline;
    private final long snapshotTotal;
    private final long startNanos = System.nanoTime();
    private long lastApplied;
    private long lastNanos = System.nanoTime();

    /** @param snapshotTotal rows the initial snapshot will read (an estimate is fine), or 0 if unknown */
    public StatusLine(Pipeline pipeline, long snapshotTotal) {
        this.pipeline = pipeline;
        this.snapshotTotal = snapshotTotal;
    }

    public String next(String extra) {
        long now = System.nanoTime();
        long applied = pipeline.writer() == null ? 0 : pipeline.writer().metrics().rowsApplied();
        double rate = (applied - lastApplied) / Math.max(1e-9, (now - lastNanos) / 1e9);
        lastApplied = applied;
        lastNanos = now;
        var capture = pipeline.legacyCapture().metrics();
        long open = 0;
        long pending = 0;
        for (DriftMonitor.Drift d : pipeline.drift().byTable().values()) {
            open += d.open();
            pending += d.pending();
        }
        var load = pipeline.initialLoad();
        String snapshot = load != null
                ? String.format("none: bulk initial load of %,d rows in %.1f s", load.rows(), load.millis() / 1000.0)
                : snapshotTotal > 0 && !capture.snapshotCompleted()
                ? String.format("%,d/%,d rows (%.0f%%)", capture.snapshotRows(), snapshotTotal, 100.0 * capture.snapshotRows() / snapshotTotal)
                : capture.snapshotRows() == 0 && capture.snapshotCompleted() ? "none (resumed from offsets)"
                : String.format("%,d rows%s", capture.snapshotRows(), capture.snapshotCompleted() ? " done" : "");
        String writerPart;
        if (pipeline.writer() == null) {
            writerPart = "no shadow writer (dual-write mode)";
        } else {
            var writer = pipeline.writer().metrics();
            // Held records wait for the rest of their source transaction (writer.transaction.boundaries); they count in the lag.
            String held = pipeline.transactionWatermarks() == null ? "" : String.format(" (%,d held for their transaction)", writer.heldRecords());
            writerPart = String.format("written %,d (%,.0f rows/s) | writer lag %,d%s", applied, rate, writer.lag(), held);
        }
        return String.format("[%5.1fs] snapshot %s | streamed %,d changes | %s | drift %,d open, %,d pending%s",
                (now - startNanos) / 1e9, snapshot, capture.streamedChanges(), writerPart, open, pending, extra == null ? "" : " | " + extra);
    }
}

package dev.understudy.capture;

import java.util.List;
import java.util.Optional;
import java.util.OptionalDouble;

/**
 * Immutable view of the current (or last) incremental snapshot of one capture.
 * <p>
 * Row counts are of rows read by the snapshot and acknowledged by Kafka. Debezium drops a chunk row
 * that the stream changed while the chunk's window was open (the streamed change stands for it), so
 * {@code rowsEmitted} can end slightly below the table's size under concurrent writes.
 *
 * @param signalId      id of the execute-snapshot signal that started it (null when the snapshot was
 *                      started elsewhere, e.g. resumed by Debezium after a restart)
 * @param requestedAtMs wall-clock time of the request, ms since the epoch (0 if unknown)
 * @param tables        per table, in request order
 * @param started       Debezium reported STARTED
 * @param completed     Debezium reported COMPLETED, and every row before that report is acknowledged by Kafka
 * @param aborted       Debezium reported ABORTED (a stop-snapshot signal)
 * @param completedAtMs wall-clock time completion was observed, ms since the epoch (0 before)
 */
public record IncrementalSnapshotProgress(String signalId, long requestedAtMs, List<TableProgress> tables, boolean started,
                                          boolean completed, boolean aborted, long completedAtMs) {
    /** No incremental snapshot requested or observed. */
    public static final IncrementalSnapshotProgress NONE = new IncrementalSnapshotProgress(null, 0, List.of(), false, false, false, 0);

    public IncrementalSnapshotProgress {
        tables = List.copyOf(tables);
    }

    /**
     * One table of the snapshot.
     *
     * @param table              schema-qualified name
     * @param estimatedTotalRows {@code pg_class.reltuples} (or, never analysed, the statistics' live-tuple
     *                           count) when requested; -1 if unknown
     * @param rowsEmitted        rows of this table read by the snapshot and acknowledged by Kafka so far
     * @param scanCompleted      Debezium reported TABLE_SCAN_COMPLETED for the table
     * @param totalRowsScanned   rows Debezium read from the table, from TABLE_SCAN_COMPLETED; -1 before
     * @param scanStatus         TABLE_SCAN_COMPLETED's status (SUCCEEDED, EMPTY, NO_PRIMARY_KEY, ...); null before
     */
    public record TableProgress(String table, long estimatedTotalRows, long rowsEmitted, boolean scanCompleted,
                                long totalRowsScanned, String scanStatus) {
        /** Share done, 0..1: 1 once scanned, else rows emitted over the estimate; empty without an estimate. */
        public OptionalDouble fraction() {
            if (scanCompleted) {
                return OptionalDouble.of(1.0);
            }
            if (estimatedTotalRows <= 0) {
                return OptionalDouble.empty();
            }
            return OptionalDouble.of(Math.min(1.0, (double) rowsEmitted / estimatedTotalRows));
        }
    }

    /** The tables, by name. */
    public List<String> requestedTables() {
        return tables.stream().map(TableProgress::table).toList();
    }

    public Optional<TableProgress> table(String table) {
        return tables.stream().filter(t -> t.table().equals(table)).findFirst();
    }

    /** Rows emitted over all tables. */
    public long rowsEmitted() {
        return tables.stream().mapToLong(TableProgress::rowsEmitted).sum();
    }

    /** Requested or started, and neither completed nor aborted. */
    public boolean running() {
        return !tables.isEmpty() && !completed && !aborted;
    }
}

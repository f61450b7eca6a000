package dev.understudy.capture;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * Progress of a capture's incremental snapshot, fed by {@link CdcCapture} with requests, with the
 * incremental-snapshot rows of each acknowledged batch, and with Debezium's notifications (in the
 * order they came through the change stream, after the rows before them were acknowledged).
 * <p>
 * Debezium runs one incremental snapshot at a time; an execute-snapshot signal arriving while one
 * runs adds its tables to it. Likewise a request here joins the running snapshot, and a request after
 * completion (or abort) starts a new view.
 */
final class IncrementalSnapshotTracker {
    private static final class TableState {
        final String table;
        long estimatedTotalRows;
        long rowsEmitted;
        boolean scanCompleted;
        long totalRowsScanned = -1;
        String scanStatus;

        TableState(String table, long estimatedTotalRows) {
            this.table = table;
            this.estimatedTotalRows = estimatedTotalRows;
        }
    }

    private String signalId;
    private long requestedAtMs;
    private final Map<String, TableState> tables = new LinkedHashMap<>();
    private boolean started;
    private boolean completed;
    private boolean aborted;
    private long completedAtMs;

    synchronized void requested(String signalId, List<String> requestedTables, Map<String, Long> estimates, long nowMs) {
        if (completed || aborted) {
            reset();
        }
        if (this.signalId == null) {
            this.signalId = signalId;
            this.requestedAtMs = nowMs;
        }
        for (String t : requestedTables) {
            TableState s = tables.computeIfAbsent(t, k -> new TableState(k, -1));
            s.estimatedTotalRows = estimates.getOrDefault(t, -1L);
        }
    }

    /** Incremental-snapshot rows acknowledged by Kafka, per schema-qualified table. */
    synchronized void rowsEmitted(Map<String, Long> byTable) {
        if (byTable.isEmpty()) {
            return;
        }
        if (completed || aborted) {
            // Rows after a completion belong to a snapshot started elsewhere (another client's signal).
            reset();
        }
        byTable.forEach((t, n) -> tables.computeIfAbsent(t, k -> new TableState(k, -1)).rowsEmitted += n);
    }

    synchronized void onNotification(SnapshotNotification n, long nowMs) {
        if (!n.incrementalSnapshot()) {
            return;
        }
        switch (n.type()) {
            case "STARTED" -> {
                if (completed || aborted) {
                    reset();
                }
                started = true;
                n.dataCollections().forEach(t -> tables.computeIfAbsent(t, k -> new TableState(k, -1)));
            }
            case "IN_PROGRESS", "RESUMED", "PAUSED" -> {
                started = true;
                n.dataCollections().forEach(t -> tables.computeIfAbsent(t, k -> new TableState(k, -1)));
            }
            case "TABLE_SCAN_COMPLETED" -> {
                String t = n.scannedCollection();
                if (t != null) {
                    TableState s = tables.computeIfAbsent(t, k -> new TableState(k, -1));
                    s.scanCompleted = true;
                    s.totalRowsScanned = n.totalRowsScanned();
                    s.scanStatus = n.status();
                }
            }
            case "COMPLETED" -> {
                started = true;
                completed = true;
                completedAtMs = nowMs;
            }
            case "ABORTED" -> {
                List<String> collections = n.dataCollections();
                // Without data collections the whole snapshot was stopped; with them, only those tables.
                if (collections.isEmpty() || tables.keySet().stream().allMatch(collections::contains)) {
                    aborted = true;
                    completedAtMs = nowMs;
                } else {
                    collections.forEach(tables::remove);
                }
            }
            default -> {
                // TABLE_CHUNK_* and future types carry nothing this view shows.
            }
        }
    }

    synchronized IncrementalSnapshotProgress progress() {
        if (tables.isEmpty() && signalId == null && !started) {
            return IncrementalSnapshotProgress.NONE;
        }
        List<IncrementalSnapshotProgress.TableProgress> out = new ArrayList<>(tables.size());
        for (TableState s : tables.values()) {
            out.add(new IncrementalSnapshotProgress.TableProgress(s.table, s.estimatedTotalRows, s.rowsEmitted, s.scanCompleted,
                    s.totalRowsScanned, s.scanStatus));
        }
        return new IncrementalSnapshotProgress(signalId, requestedAtMs, out, started, completed, aborted, completedAtMs);
    }

    private void reset() {
        signalId = null;
        requestedAtMs = 0;
        tables.clear();
        started = false;
        completed = false;
        aborted = false;
        completedAtMs = 0;
    }
}

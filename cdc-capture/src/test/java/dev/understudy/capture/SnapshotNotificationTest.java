package dev.understudy.capture;

import org.apache.kafka.connect.data.Schema;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Notifications shaped as Debezium's sink notification channel emits them, parsed and tracked. */
class SnapshotNotificationTest {
    /** Debezium's SchemaFactory.notificationValueSchema, field for field. */
    private static final Schema VALUE = SchemaBuilder.struct().name("io.debezium.connector.common.Notification")
            .field("id", Schema.STRING_SCHEMA)
            .field("aggregate_type", Schema.STRING_SCHEMA)
            .field("type", Schema.STRING_SCHEMA)
            .field("additional_data", SchemaBuilder.map(Schema.STRING_SCHEMA, Schema.STRING_SCHEMA).optional().build())
            .field("timestamp", Schema.OPTIONAL_INT64_SCHEMA)
            .build();

    static SourceRecord record(String aggregateType, String type, Map<String, String> data) {
        Struct value = new Struct(VALUE).put("id", "sig-1").put("aggregate_type", aggregateType).put("type", type)
                .put("additional_data", data).put("timestamp", 1_700_000_000_000L);
        return new SourceRecord(Map.of(), Map.of(), "it.legacy.__notifications", null, null, null, VALUE, value);
    }

    static SnapshotNotification notification(String type, Map<String, String> data) {
        return SnapshotNotification.from(record(SnapshotNotification.INCREMENTAL_SNAPSHOT, type, data)).orElseThrow();
    }

    @Test
    void parsesTableScanCompleted() {
        SnapshotNotification n = notification("TABLE_SCAN_COMPLETED", Map.of("connector_name", "it.legacy",
                "data_collections", "public.b,public.c", "scanned_collection", "public.b", "total_rows_scanned", "5001",
                "status", "SUCCEEDED"));
        assertTrue(n.incrementalSnapshot());
        assertEquals("sig-1", n.id());
        assertEquals("TABLE_SCAN_COMPLETED", n.type());
        assertEquals(List.of("public.b", "public.c"), n.dataCollections());
        assertEquals("public.b", n.scannedCollection());
        assertEquals(5001, n.totalRowsScanned());
        assertEquals("SUCCEEDED", n.status());
        assertEquals(1_700_000_000_000L, n.timestampMs());
    }

    @Test
    void toleratesMissingAndMalformedData() {
        SnapshotNotification n = SnapshotNotification.from(record("Incremental Snapshot", "COMPLETED", null)).orElseThrow();
        assertEquals(List.of(), n.dataCollections());
        assertEquals(-1, n.totalRowsScanned());
        assertNull(n.scannedCollection());
        assertEquals(-1, notification("TABLE_SCAN_COMPLETED", Map.of("total_rows_scanned", "many")).totalRowsScanned());
        assertFalse(SnapshotNotification.from(new SourceRecord(Map.of(), Map.of(), "t", null, "x")).isPresent());
        assertFalse(SnapshotNotification.from(record("Initial Snapshot", "STARTED", Map.of())).orElseThrow().incrementalSnapshot());
    }

    @Test
    void normalisesIdentifiersToSchemaAndTable() {
        assertEquals("public.b", SnapshotNotification.tableName(" public.b "));
        assertEquals("public.b", SnapshotNotification.tableName("legacy.public.b"));
        assertEquals("public.b", SnapshotNotification.tableName("\"public\".\"b\""));
    }

    @Test
    void tracksASnapshotFromRequestToCompletion() {
        IncrementalSnapshotTracker tracker = new IncrementalSnapshotTracker();
        assertEquals(IncrementalSnapshotProgress.NONE, tracker.progress());

        tracker.requested("sig-1", List.of("public.b"), Map.of("public.b", 5000L), 10);
        IncrementalSnapshotProgress p = tracker.progress();
        assertTrue(p.running());
        assertEquals("sig-1", p.signalId());
        assertEquals(List.of("public.b"), p.requestedTables());
        assertEquals(5000, p.table("public.b").orElseThrow().estimatedTotalRows());
        assertEquals(0.0, p.table("public.b").orElseThrow().fraction().orElseThrow());

        tracker.onNotification(notification("STARTED", Map.of("data_collections", "public.b")), 11);
        tracker.rowsEmitted(Map.of("public.b", 2500L));
        tracker.onNotification(notification("IN_PROGRESS", Map.of("data_collections", "public.b",
                "current_collection_in_progress", "public.b")), 12);
        p = tracker.progress();
        assertTrue(p.started());
        assertFalse(p.completed());
        assertEquals(2500, p.rowsEmitted());
        assertEquals(0.5, p.table("public.b").orElseThrow().fraction().orElseThrow(), 1e-9);

        tracker.rowsEmitted(Map.of("public.b", 2499L));
        tracker.onNotification(notification("TABLE_SCAN_COMPLETED", Map.of("data_collections", "public.b",
                "scanned_collection", "public.b", "total_rows_scanned", "5000", "status", "SUCCEEDED")), 13);
        tracker.onNotification(notification("COMPLETED", Map.of()), 14);
        p = tracker.progress();
        IncrementalSnapshotProgress.TableProgress b = p.table("public.b").orElseThrow();
        assertTrue(p.completed());
        assertFalse(p.running());
        assertEquals(14, p.completedAtMs());
        assertEquals(4999, b.rowsEmitted());
        assertEquals(5000, b.totalRowsScanned());
        assertEquals("SUCCEEDED", b.scanStatus());
        assertEquals(1.0, b.fraction().orElseThrow());

        // A later request starts a new view.
        tracker.requested("sig-2", List.of("public.a"), Map.of(), 20);
        p = tracker.progress();
        assertEquals("sig-2", p.signalId());
        assertEquals(List.of("public.a"), p.requestedTables());
        assertFalse(p.completed());
        assertTrue(p.table("public.a").orElseThrow().fraction().isEmpty(), "no estimate, no fraction");
    }

    @Test
    void aRequestWhileRunningJoinsTheSnapshot_andAbortEndsIt() {
        IncrementalSnapshotTracker tracker = new IncrementalSnapshotTracker();
        tracker.requested("sig-1", List.of("public.b"), Map.of("public.b", 10L), 1);
        tracker.requested("sig-2", List.of("public.c"), Map.of("public.c", 20L), 2);
        IncrementalSnapshotProgress p = tracker.progress();
        assertEquals("sig-1", p.signalId());
        assertEquals(List.of("public.b", "public.c"), p.requestedTables());

        tracker.onNotification(notification("ABORTED", Map.of("data_collections", "public.c")), 3);
        assertEquals(List.of("public.b"), tracker.progress().requestedTables());
        assertFalse(tracker.progress().aborted());
        tracker.onNotification(notification("ABORTED", Map.of()), 4);
        assertTrue(tracker.progress().aborted());
        assertFalse(tracker.progress().running());
    }

    @Test
    void rowsOfASnapshotStartedElsewhereAreTrackedWithoutARequest() {
        IncrementalSnapshotTracker tracker = new IncrementalSnapshotTracker();
        tracker.rowsEmitted(Map.of("public.b", 7L));
        IncrementalSnapshotProgress p = tracker.progress();
        assertNull(p.signalId());
        assertEquals(7, p.table("public.b").orElseThrow().rowsEmitted());
        assertEquals(-1, p.table("public.b").orElseThrow().estimatedTotalRows());
    }
}

package dev.understudy.capture;

import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * One Debezium notification as the {@code sink} notification channel emits it: a Connect record
 * whose value has {@code id}, {@code aggregate_type}, {@code type}, {@code additional_data} (a map of
 * strings) and {@code timestamp} (Debezium's SinkNotificationChannel.send).
 * <p>
 * Incremental snapshots report with aggregate type {@value #INCREMENTAL_SNAPSHOT} and the types of
 * Debezium's SnapshotStatus: STARTED, PAUSED, RESUMED, ABORTED, IN_PROGRESS (per chunk: {@code
 * current_collection_in_progress}), TABLE_SCAN_COMPLETED ({@code scanned_collection},
 * {@code total_rows_scanned}, {@code status}) and COMPLETED. All carry {@code connector_name} and, but
 * for COMPLETED, {@code data_collections} (comma-separated).
 */
record SnapshotNotification(String id, String aggregateType, String type, Map<String, String> additionalData, long timestampMs) {
    static final String INCREMENTAL_SNAPSHOT = "Incremental Snapshot";

    SnapshotNotification {
        additionalData = Map.copyOf(additionalData);
    }

    /** The notification a sink-channel record carries, or empty when the record is not shaped like one. */
    static Optional<SnapshotNotification> from(SourceRecord record) {
        if (!(record.value() instanceof Struct value)) {
            return Optional.empty();
        }
        String type = string(value, "type");
        String aggregateType = string(value, "aggregate_type");
        if (type == null || aggregateType == null) {
            return Optional.empty();
        }
        Map<String, String> data = new LinkedHashMap<>();
        Field f = value.schema().field("additional_data");
        if (f != null && value.get(f) instanceof Map<?, ?> map) {
            for (Map.Entry<?, ?> e : map.entrySet()) {
                if (e.getKey() != null && e.getValue() != null) {
                    data.put(e.getKey().toString(), e.getValue().toString());
                }
            }
        }
        Field ts = value.schema().field("timestamp");
        Object t = ts == null ? null : value.get(ts);
        return Optional.of(new SnapshotNotification(string(value, "id"), aggregateType, type, data,
                t instanceof Number n ? n.longValue() : 0L));
    }

    boolean incrementalSnapshot() {
        return INCREMENTAL_SNAPSHOT.equals(aggregateType);
    }

    /** The {@code data_collections} list, each as schema.table. */
    List<String> dataCollections() {
        List<String> out = new ArrayList<>();
        String v = additionalData.get("data_collections");
        if (v != null) {
            for (String s : v.split(",")) {
                if (!s.isBlank()) {
                    out.add(tableName(s));
                }
            }
        }
        return out;
    }

    /** {@code scanned_collection} of TABLE_SCAN_COMPLETED, as schema.table, or null. */
    String scannedCollection() {
        String v = additionalData.get("scanned_collection");
        return v == null ? null : tableName(v);
    }

    /** {@code current_collection_in_progress} of IN_PROGRESS, as schema.table, or null. */
    String collectionInProgress() {
        String v = additionalData.get("current_collection_in_progress");
        return v == null ? null : tableName(v);
    }

    /** {@code total_rows_scanned} of TABLE_SCAN_COMPLETED, or -1. */
    long totalRowsScanned() {
        String v = additionalData.get("total_rows_scanned");
        try {
            return v == null ? -1 : Long.parseLong(v.trim());
        } catch (NumberFormatException e) {
            return -1;
        }
    }

    /** {@code status} of TABLE_SCAN_COMPLETED (SUCCEEDED, EMPTY, NO_PRIMARY_KEY, SKIPPED, SQL_EXCEPTION, UNKNOWN_SCHEMA), or null. */
    String status() {
        return additionalData.get("status");
    }

    /**
     * A data-collection identifier as schema.table: PostgreSQL table ids print as schema.table, but an
     * identifier with the database in front (db.schema.table) or surrounding quotes is accepted too.
     */
    static String tableName(String identifier) {
        String s = identifier.trim().replace("\"", "");
        String[] parts = s.split("\\.");
        return parts.length <= 2 ? s : parts[parts.length - 2] + "." + parts[parts.length - 1];
    }

    private static String string(Struct value, String field) {
        Field f = value.schema().field(field);
        Object v = f == null ? null : value.get(f);
        return v == null ? null : v.toString();
    }
}

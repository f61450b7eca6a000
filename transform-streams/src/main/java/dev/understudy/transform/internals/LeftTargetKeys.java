package dev.understudy.transform.internals;

import dev.understudy.transform.TableMapping;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.Deserializer;

import java.util.HashMap;
import java.util.Map;

/**
 * The target key a legacy row leaves with a change: the key its previous image mapped to, when the
 * change maps it elsewhere (an update of a column the target key is copied from, such as an order
 * number handed from one order to another) or deletes it.
 *
 * <p>Why it is needed: a target key is a copy of legacy columns, not always of the legacy primary
 * key. When it is not, an update that changes those columns moves the row to another target key,
 * and the row under the old key must go, at the version of that very change: another legacy row
 * may take the old key at a later LSN, and only the LSN of the change that released the key orders
 * the release before the take-over for the writer. Debezium's update events carry no old image
 * of non-identity columns with the default replica identity, so the previous image comes from
 * {@link ToastFillProcessor}'s store of each row's last image (header {@link ToastFillProcessor#PRIOR_ROW}).
 *
 * <p>When every key column is a column of the legacy record key, the target key follows the legacy
 * key, which an update cannot change (Debezium emits a primary-key change as a delete and a
 * create), and nothing is looked up. That is decided once per legacy key schema.
 *
 * <p>One instance per processor (per task): not thread-safe.
 */
final class LeftTargetKeys {
    private final TableMapping mapping;
    private final Deserializer<GenericRecord> values;
    private final Map<Schema, Boolean> followsLegacyKey = new HashMap<>();

    LeftTargetKeys(TableMapping mapping, Deserializer<GenericRecord> values) {
        this.mapping = mapping;
        this.values = values;
    }

    /**
     * The target key an upserted row leaves, or null when it keeps its key (or had none).
     *
     * @param newKey the row's target key after the change, or null when it has none (a key column
     *               turned null: the row leaves its key without taking another)
     */
    GenericRecord leftByUpsert(Headers headers, String topic, GenericRecord legacyKey, GenericRecord newKey) {
        if (newKey != null && followsLegacyKey(legacyKey)) {
            return null;
        }
        GenericRecord oldKey = priorKey(headers, topic);
        return oldKey != null && !oldKey.equals(newKey) ? oldKey : null;
    }

    /**
     * The target key of a deleted row: from its record key when the target key follows the legacy
     * key, else from the row's prior image, else (no prior image known) from its old image, which
     * holds every column only under REPLICA IDENTITY FULL.
     *
     * <p>The old image is the last resort, not the first: with the default replica identity it holds
     * the key columns only, and Debezium fills a NOT NULL column it did not receive with a fallback
     * value (an empty string, zero), which would name a wrong target key rather than none.
     *
     * @return null when nothing names it (a row this topology never saw, and no full old image)
     */
    GenericRecord ofDelete(Headers headers, String topic, GenericRecord before, GenericRecord legacyKey) {
        if (followsLegacyKey(legacyKey)) {
            return mapping.targetKey(legacyKey);
        }
        GenericRecord prior = priorKey(headers, topic);
        if (prior != null || before == null) {
            return prior;
        }
        try {
            return mapping.targetKey(before);
        } catch (IllegalArgumentException e) {
            return null; // the old image lacks a key column: PostgreSQL logged the replica identity only
        }
    }

    private boolean followsLegacyKey(GenericRecord legacyKey) {
        if (legacyKey == null) {
            return false;
        }
        return followsLegacyKey.computeIfAbsent(legacyKey.getSchema(), s -> {
            try {
                mapping.targetKey(legacyKey);
                return true;
            } catch (IllegalArgumentException e) {
                return false;
            }
        });
    }

    private GenericRecord priorKey(Headers headers, String topic) {
        Header prior = headers.lastHeader(ToastFillProcessor.PRIOR_ROW);
        if (prior == null || prior.value() == null) {
            return null;
        }
        GenericRecord envelope = values.deserialize(topic, prior.value());
        GenericRecord row = Envelopes.after(envelope);
        if (row == null) {
            return null;
        }
        try {
            return mapping.targetKey(row);
        } catch (IllegalArgumentException e) {
            // The prior image had no target key (a key column was null): it held no target row.
            return null;
        }
    }
}

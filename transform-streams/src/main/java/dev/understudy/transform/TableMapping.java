package dev.understudy.transform;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;

/**
 * How one legacy table becomes one target table: the whole of a migration step for that table, in
 * one place, so that a declarative specification can later generate implementations of this
 * interface without touching the topologies that use it.
 *
 * <p>Implementations must be stateless and thread-safe: one instance is shared by every stream
 * thread and task of the application.
 */
public interface TableMapping {

    /** The legacy table, schema-qualified (e.g. {@code public.users}); names the legacy change topic. */
    String sourceTable();

    /** The target table, schema-qualified; names the new-schema and target change topics. */
    String targetTable();

    /**
     * The Avro schema of the target primary key. Must be built with
     * {@link dev.understudy.schemas.KeySchemas#of KeySchemas.of}, exactly as the capture of the target
     * table builds it, so that rows on the new-schema topic and changes on the target change topic
     * carry byte-identical keys (same schema, same registry id) and land in the same partitions.
     */
    Schema targetKeySchema();

    /** The Avro contract of the target row ({@code contracts/<table>.avsc}). */
    Schema targetValueSchema();

    /**
     * The target key of a legacy row. Also applied to delete images that carry only the legacy key
     * columns, and to the legacy Kafka record key itself, so it must read nothing but key columns.
     *
     * @throws IllegalArgumentException when the row lacks a key column or holds null in one
     */
    GenericRecord targetKey(GenericRecord sourceRow);

    /**
     * The target row of a legacy row, a record of {@link #targetValueSchema()}.
     *
     * @throws IllegalArgumentException when the legacy row cannot be mapped (missing column, wrong type)
     */
    GenericRecord targetRow(GenericRecord sourceRow);

    /**
     * Whether a legacy row has a row in this target at all (a filtered target). When it has not, the
     * migration emits a tombstone for its target key instead of a row: the legacy row may have been
     * in the target before this change.
     *
     * @throws IllegalArgumentException when the legacy row cannot be judged
     */
    default boolean includes(GenericRecord sourceRow) {
        return true;
    }

    /**
     * What ties a target key to legacy rows, as text: two generations whose mappings of a target give
     * the same text replay the same changes under the same keys, so their versions compare
     * ({@link dev.understudy.schemas.ChangeHeaders#LINEAGE}). It must change whenever the source
     * table, the legacy columns the key is copied from, or the join (joined table, foreign key,
     * referenced column) change. This default knows only the class, the tables and the key schema,
     * which an implementation that derives its key otherwise must override.
     */
    default String keyDerivation() {
        return getClass().getName() + " source=" + sourceTable() + " key=" + targetKeySchema()
                + (this instanceof JoinedTableMapping j ? " join=" + j.joinedTable() : "");
    }
}

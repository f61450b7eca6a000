package dev.understudy.transform;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;

/**
 * A {@link TableMapping} whose target rows also read one row of a second legacy table, found
 * through a foreign key of the driving ({@link #sourceTable()}) row that references the second
 * table's whole primary key. {@link MigrationTopology} runs it as a Kafka Streams foreign-key table
 * join (KIP-213) instead of the stateless single-table path.
 *
 * <p>The target key still comes from the driving row alone ({@link #targetKey}), so a delete of the
 * driving row, which may carry only its key columns, still names its target row.
 */
public interface JoinedTableMapping extends TableMapping {

    /** The legacy table the foreign key references, schema-qualified. */
    String joinedTable();

    /**
     * The foreign key of a driving row in the form {@link #joinedKey} produces for the row it
     * references, or null when the foreign key column is null (the row references nothing).
     *
     * @throws IllegalArgumentException when the row lacks the foreign key column
     */
    String foreignKey(GenericRecord sourceRow);

    /**
     * The key of a joined row, from a full row, a delete's key-only image or the legacy record key.
     *
     * @throws IllegalArgumentException when the row lacks the referenced column or holds null in it
     */
    String joinedKey(GenericRecord joinedRowOrKey);

    /**
     * Checks that the referenced column is the joined table's whole primary key, given the key schema
     * of the joined table's legacy records.
     *
     * @throws IllegalArgumentException when it is not
     */
    void checkJoinedKey(Schema joinedLegacyKey);

    /** The target row of a driving row and the row its foreign key references. */
    GenericRecord targetRow(GenericRecord sourceRow, GenericRecord joinedRow);

    /** A joined target has no row without its joined row; use {@link #targetRow(GenericRecord, GenericRecord)}. */
    @Override
    default GenericRecord targetRow(GenericRecord sourceRow) {
        throw new IllegalStateException("Target " + targetTable() + " joins " + joinedTable()
                + "; its rows are built from both rows, by the foreign-key join of MigrationTopology");
    }
}

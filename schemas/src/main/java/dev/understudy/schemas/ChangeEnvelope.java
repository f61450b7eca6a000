package dev.understudy.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;

/**
 * The value schema of a captured change, one per table, shaped like Debezium's envelope:
 * {@code before} and {@code after} row images, {@code op} (c create, u update, d delete,
 * r read by snapshot) and the {@link Contracts#SOURCE source} coordinates (LSN, transaction id).
 * Row fields are all nullable with a null default, so that an added nullable column is a
 * backward-compatible change and a delete's {@code before} can carry only the key columns
 * (PostgreSQL logs only the replica identity of a deleted row unless REPLICA IDENTITY FULL).
 */
public final class ChangeEnvelope {
    public static final String BEFORE = "before";
    public static final String AFTER = "after";
    public static final String OP = "op";
    public static final String SOURCE = "source";

    public static final String OP_CREATE = "c";
    public static final String OP_UPDATE = "u";
    public static final String OP_DELETE = "d";
    public static final String OP_READ = "r";

    /**
     * The value Debezium puts in an {@code after} image for a column PostgreSQL did not log because
     * its TOASTed value was unchanged (Debezium's {@code unavailable.value.placeholder}; this is its
     * default). Capture sets the property to this value and the migration fills such columns from the
     * row's prior image, so both sides read it from here.
     */
    public static final String UNAVAILABLE_VALUE_PLACEHOLDER = "__debezium_unavailable_value";

    private ChangeEnvelope() {
    }

    /** The envelope for rows of {@code rowSchema}, named after the table. */
    public static Schema of(String schemaName, String table, Schema rowSchema) {
        Schema nullableRow = Schema.createUnion(Schema.create(Schema.Type.NULL), rowSchema);
        return SchemaBuilder.record("Envelope")
                .namespace("understudy." + AvroNames.sanitize(schemaName) + "." + AvroNames.sanitize(table))
                .fields()
                .name(BEFORE).type(nullableRow).withDefault(null)
                .name(AFTER).type(nullableRow).withDefault(null)
                .name(OP).type().stringType().noDefault()
                .name(SOURCE).type(Contracts.SOURCE).noDefault()
                .endRecord();
    }
}

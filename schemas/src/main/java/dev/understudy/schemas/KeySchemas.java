package dev.understudy.schemas;

import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;

import java.util.List;

/**
 * Builds the Avro schema of a table's primary key. Every producer of records keyed by a given
 * table's key (the capture of that table, and the migration topology writing rows for it) builds
 * the key through here, so the key schemas are identical, the registry gives them the same id, and
 * the serialized keys are byte-identical. The default partitioner hashes those bytes, so topics
 * with the same partition count are co-partitioned by table key, which the comparison topology
 * relies on to join expected and actual rows without a repartition.
 */
public final class KeySchemas {
    private KeySchemas() {
    }

    /** A key field: column name and a non-null Avro type. */
    public record KeyField(String name, Schema type) {
    }

    public static Schema of(String schemaName, String table, List<KeyField> fields) {
        if (fields.isEmpty()) {
            throw new IllegalArgumentException("Table " + schemaName + "." + table
                    + " has no primary key; add one (ALTER TABLE ... ADD PRIMARY KEY) so its rows can be keyed");
        }
        SchemaBuilder.FieldAssembler<Schema> f = SchemaBuilder.record("Key")
                .namespace("understudy." + AvroNames.sanitize(schemaName) + "." + AvroNames.sanitize(table)).fields();
        for (KeyField field : fields) {
            Schema type = field.type();
            if (type.getType() == Schema.Type.UNION) {
                type = type.getTypes().stream().filter(t -> t.getType() != Schema.Type.NULL).findFirst().orElseThrow();
            }
            f = f.name(field.name()).type(type).noDefault();
        }
        return f.endRecord();
    }
}

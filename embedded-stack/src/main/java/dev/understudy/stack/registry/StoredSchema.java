package dev.understudy.stack.registry;

import java.util.Objects;

/** A schema as stored under its global id, independent of the subjects that use it. */
public record StoredSchema(int id, String schemaType, String schema) {
    public StoredSchema {
        Objects.requireNonNull(schemaType, "schemaType");
        Objects.requireNonNull(schema, "schema");
    }
}

package dev.understudy.stack.registry;

import java.util.Objects;

/**
 * One version of a subject: the schema registered as {@code version} of {@code subject}, with its
 * global {@code id}.
 *
 * @param schemaType "AVRO" (the Confluent API omits it from responses for Avro)
 * @param schema     the canonical schema text
 */
public record RegisteredSchema(String subject, int version, int id, String schemaType, String schema) {
    public RegisteredSchema {
        Objects.requireNonNull(subject, "subject");
        Objects.requireNonNull(schemaType, "schemaType");
        Objects.requireNonNull(schema, "schema");
        if (version < 1 || id < 1) {
            throw new IllegalArgumentException("version and id start at 1, got version " + version + ", id " + id);
        }
    }
}

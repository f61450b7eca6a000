package dev.understudy.stack.registry;

import java.util.List;

/**
 * How the registry parses, canonicalises and compares schemas of one type. Behind this interface so
 * that the REST layer and the store do not depend on where the rules come from; the registry uses
 * {@link ConfluentAvroCompatibility}, Confluent's own code.
 */
public interface SchemaCompatibility {

    /** The compatibility levels, as Confluent's {@code CompatibilityLevel} names them. */
    List<String> LEVELS = List.of("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE",
            "FULL", "FULL_TRANSITIVE");

    /** The schema type, as Confluent names it ("AVRO"). */
    String schemaType();

    /**
     * The canonical text of {@code schema}: two schemas are the same schema (one id) if their
     * canonical texts are equal.
     *
     * @throws IllegalArgumentException if {@code schema} is not a valid schema; the message says why
     */
    String canonicalize(String schema);

    /**
     * Why {@code schema} is not compatible at {@code level} with {@code previous} (oldest first),
     * as Confluent's checker words it; empty if it is compatible. Non-transitive levels compare with
     * the last of {@code previous} only, transitive levels with all of them.
     */
    List<String> incompatibilities(String level, String schema, List<String> previous);
}

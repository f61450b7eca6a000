package dev.understudy.stack.registry;

import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.CompatibilityChecker;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.CompatibilityLevel;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.avro.AvroSchema;

import java.util.List;
import java.util.Locale;

/**
 * Avro schemas as the Confluent registry treats them, with Confluent's own code: the
 * kafka-schema-registry-client 7.5.3 classes (and Avro 1.11.4) that
 * {@code org.apache.flink:flink-sql-avro-confluent-registry} ships relocated.
 *
 * <ul>
 * <li>Canonical text: {@code AvroSchema.canonicalString()}, which the Confluent registry stores and
 * hashes to de-duplicate schemas ({@code KafkaSchemaRegistry.canonicalizeSchema}), so two spellings
 * of one schema get one id here exactly when they do there.</li>
 * <li>Compatibility: {@code CompatibilityChecker.checker(level).isCompatible(new, previous)}, the
 * checker behind {@code AvroSchema.isCompatible}, so verdicts and the verbose messages
 * ({@code {errorType:'READER_FIELD_MISSING_DEFAULT_VALUE', ...}}, {@code {oldSchema: '...'}}) are
 * Confluent's.</li>
 * </ul>
 * Schemas cross as strings: the relocated Avro is not the application's Avro.
 */
public final class ConfluentAvroCompatibility implements SchemaCompatibility {

    @Override
    public String schemaType() {
        return SchemaRegistryApi.AVRO;
    }

    @Override
    public String canonicalize(String schema) {
        try {
            return new AvroSchema(schema).canonicalString();
        } catch (RuntimeException e) {
            throw new IllegalArgumentException(e.getMessage() == null ? e.toString() : e.getMessage(), e);
        }
    }

    @Override
    public List<String> incompatibilities(String level, String schema, List<String> previous) {
        CompatibilityLevel compatibilityLevel = CompatibilityLevel.forName(level.toUpperCase(Locale.ROOT));
        if (compatibilityLevel == null) {
            throw new IllegalArgumentException("Unknown compatibility level '" + level + "'; use one of " + LEVELS);
        }
        List<AvroSchema> previousSchemas = previous.stream().map(AvroSchema::new).toList();
        return CompatibilityChecker.checker(compatibilityLevel).isCompatible(new AvroSchema(schema), previousSchemas);
    }
}

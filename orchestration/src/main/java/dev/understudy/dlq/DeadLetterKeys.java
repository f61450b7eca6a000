package dev.understudy.dlq;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.ConfluentRegistryClient;
import org.apache.avro.generic.GenericRecord;

/**
 * Keys for display of dead letters that name none in their headers (the writer could not decode
 * them, or the transform stopped them before any key was built): their original key bytes, decoded
 * with the schema registry when they are Avro of a registered schema.
 */
public final class DeadLetterKeys {
    private final AvroDeserializer deserializer;

    /** Decodes with the registry of {@code cfg} ({@code registry.url}, its serde settings). */
    public DeadLetterKeys(PipelineConfig cfg) {
        this.deserializer = new AvroDeserializer(new ConfluentRegistryClient(cfg.get(PipelineConfig.REGISTRY_URL), cfg.serdeConfig()));
    }

    /** {@code l} itself when it names its key, else {@code l} with its decoded key (still none when it cannot be decoded). */
    public DeadLetter described(DeadLetter l) {
        return l.key() != null ? l : l.withKey(describe(l));
    }

    private String describe(DeadLetter l) {
        if (l.record().key() == null || l.originTopic() == null) {
            return null;
        }
        try {
            GenericRecord key = deserializer.deserialize(l.originTopic(), l.record().key());
            return key == null ? null : key.toString();
        } catch (RuntimeException e) {
            // Not Avro of a known schema (often why it was dead-lettered): there is nothing better to show.
            return null;
        }
    }
}

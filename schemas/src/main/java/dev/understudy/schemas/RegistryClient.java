package dev.understudy.schemas;

import org.apache.avro.Schema;

import java.util.List;
import java.util.Optional;

/**
 * The part of the Confluent Schema Registry REST API the pipeline relies on, kept small so that the
 * implementation behind it can change without touching the serdes. {@link ConfluentRegistryClient}
 * is the one used against a registry; {@link InMemoryRegistryClient} serves unit tests.
 */
public interface RegistryClient {

    /** Registers {@code schema} under {@code subject} (or finds it) and returns its global id. */
    int register(String subject, Schema schema);

    /** The id of {@code schema} if it is registered under {@code subject}; never registers. */
    Optional<Integer> lookup(String subject, Schema schema);

    /** The schema with this global id; cached, since ids are immutable. */
    Schema byId(int id);

    /** The latest live version under {@code subject}, if the subject exists. */
    Optional<Registered> latest(String subject);

    /**
     * Why {@code schema} could not be registered under {@code subject} at the subject's compatibility
     * level, as the registry words it (Confluent's verbose messages); empty when it is compatible or
     * the subject does not exist yet.
     */
    List<String> incompatibilities(String subject, Schema schema);

    /** Sets the subject's compatibility level (NONE, BACKWARD, ..., FULL_TRANSITIVE). */
    void setCompatibility(String subject, String level);

    /** How serializers over this client name subjects and choose schemas. */
    default SerdeConfig serdeConfig() {
        return SerdeConfig.defaults();
    }

    /** This client with other serializer settings (same registry, same caches). */
    default RegistryClient withSerdeConfig(SerdeConfig config) {
        RegistryClient self = this;
        return new RegistryClient() {
            @Override
            public int register(String subject, Schema schema) {
                return self.register(subject, schema);
            }

            @Override
            public Optional<Integer> lookup(String subject, Schema schema) {
                return self.lookup(subject, schema);
            }

            @Override
            public Schema byId(int id) {
                return self.byId(id);
            }

            @Override
            public Optional<Registered> latest(String subject) {
                return self.latest(subject);
            }

            @Override
            public List<String> incompatibilities(String subject, Schema schema) {
                return self.incompatibilities(subject, schema);
            }

            @Override
            public void setCompatibility(String subject, String level) {
                self.setCompatibility(subject, level);
            }

            @Override
            public SerdeConfig serdeConfig() {
                return config;
            }
        };
    }

    /** A schema as the registry holds it under a subject. */
    record Registered(String subject, int version, int id, Schema schema) {
    }

    /** Compatibility levels, as the registry spells them. */
    List<String> LEVELS = List.of("NONE", "BACKWARD", "BACKWARD_TRANSITIVE", "FORWARD", "FORWARD_TRANSITIVE", "FULL", "FULL_TRANSITIVE");
}

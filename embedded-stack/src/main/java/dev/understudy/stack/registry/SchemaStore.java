package dev.understudy.stack.registry;

import java.util.List;
import java.util.Optional;

/**
 * Storage behind the registry: subjects, each an ordered list of versions, and schemas with global
 * ids. Mirrors the model of the Confluent Schema Registry
 * (https://docs.confluent.io/platform/current/schema-registry/fundamentals/index.html): a schema
 * (its type and canonical text) gets one global id, whatever subjects it is registered under, and
 * within a subject each distinct schema gets the next version number.
 *
 * <p>Schemas reach the store already validated and canonicalised; the store compares them as text.
 * Implementations must be safe for concurrent use: the HTTP server calls them from several threads.
 * A store that keeps its state elsewhere (the compacted {@code _schemas} topic of a Confluent
 * registry) reports storage failures as {@link SchemaStoreException}.
 */
public interface SchemaStore extends AutoCloseable {

    /**
     * Registers {@code schema} under {@code subject}, or finds it there: if a live version of the
     * subject already holds this schema, that version is returned and nothing changes. Otherwise the
     * schema gets the id it already has under any subject, or the next free id, and becomes the
     * subject's next version.
     */
    RegisteredSchema register(String subject, String schemaType, String schema);

    /** The live version of {@code subject} that holds {@code schema}, if any. */
    Optional<RegisteredSchema> lookup(String subject, String schemaType, String schema);

    /** The schema with global id {@code id}. */
    Optional<StoredSchema> schemaById(int id);

    /** Every subject with at least one live version, in ascending order. */
    List<String> subjects();

    /** The live version numbers of {@code subject}, ascending; empty if the subject does not exist. */
    Optional<List<Integer>> versions(String subject);

    /** Version {@code version} of {@code subject}. */
    Optional<RegisteredSchema> version(String subject, int version);

    /** The highest live version of {@code subject}. */
    Optional<RegisteredSchema> latest(String subject);

    /** Every (subject, version) holding the schema with global id {@code id}, by subject then version. */
    List<RegisteredSchema> usesOf(int id);

    /** Releases what the store holds (connections, consumers); the in-memory store holds nothing. */
    @Override
    default void close() {
    }
}

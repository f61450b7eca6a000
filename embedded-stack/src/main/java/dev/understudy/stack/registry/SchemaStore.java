package dev.understudy.stack.registry;

import java.util.List;
import java.util.Optional;

/**
 * The registry's model and its rules, behind the REST layer: subjects, each an ordered list of
 * versions that may be soft-deleted, schemas with global ids, and compatibility levels and modes,
 * global and per subject. Mirrors the Confluent Schema Registry
 * (https://docs.confluent.io/platform/current/schema-registry/fundamentals/index.html) and its
 * {@code KafkaSchemaRegistry}: a schema (its type and canonical text) gets one global id whatever
 * subjects it is registered under; ids are never reused; versions of a subject increase and are not
 * reused after a soft delete.
 *
 * <p>Refusals are thrown as the registry's API errors, with Confluent's status and error code.
 * Implementations must be safe for concurrent use. Failures of the backing log are
 * {@link SchemaStoreException}s (HTTP 500, error code 50001).
 */
public interface SchemaStore extends AutoCloseable {

    /** The default global compatibility level, as Confluent's {@code schema.compatibility.level}. */
    String DEFAULT_COMPATIBILITY = "BACKWARD";
    String READWRITE = "READWRITE";
    String READONLY = "READONLY";

    /**
     * Registers {@code schema} (as sent by the client) under {@code subject}: a live version with the
     * same canonical schema is returned as it is; otherwise the schema must be compatible with the
     * subject's live versions at the subject's level and becomes the next version, with the id the
     * same schema has anywhere in the registry (deleted versions included), or a new one.
     */
    RegisteredSchema register(String subject, String schemaType, String schema);

    /** The version of {@code subject} holding {@code schema} (canonicalised first). */
    Optional<RegisteredSchema> lookup(String subject, String schemaType, String schema, boolean includeDeleted);

    /** The schema with global id {@code id}, as long as a version (deleted or not) holds it. */
    Optional<StoredSchema> schemaById(int id);

    List<String> subjects(boolean includeDeleted);

    /** Version numbers of {@code subject}, ascending; empty if there are none. */
    List<Integer> versions(String subject, boolean includeDeleted);

    Optional<RegisteredSchema> version(String subject, int version, boolean includeDeleted);

    /** The highest version of {@code subject} (live only, unless {@code includeDeleted}). */
    Optional<RegisteredSchema> latest(String subject, boolean includeDeleted);

    /** Every version holding the schema with id {@code id}, by subject then version. */
    List<RegisteredSchema> usesOf(int id, boolean includeDeleted);

    /**
     * Deletes every version of {@code subject}: softly (they stay readable with deleted=true and
     * keep their numbers), or permanently, which Confluent allows only after a soft delete.
     *
     * @return the versions deleted
     */
    List<Integer> deleteSubject(String subject, boolean permanent);

    /**
     * Deletes one version ({@code version} as in the URL: a number, "latest" or -1).
     *
     * @return the version number deleted
     */
    int deleteVersion(String subject, String version, boolean permanent);

    /**
     * Why {@code schema} is incompatible with version {@code version} of {@code subject} ("latest"
     * or a number), or with all its live versions if {@code version} is null, at the subject's
     * level; empty if compatible. Messages as Confluent's {@code ?verbose=true} gives them.
     */
    List<String> incompatibilities(String subject, String version, String schemaType, String schema);

    /** The compatibility level of {@code subject}, or the global one for null; empty if not set. */
    Optional<String> compatibility(String subject);

    /** The level registration applies to {@code subject}: its own, else the global one. */
    String compatibilityInScope(String subject);

    void setCompatibility(String subject, String level);

    /** Removes the subject-level compatibility; the previous level, if there was one. */
    Optional<String> deleteCompatibility(String subject);

    /** The mode of {@code subject}, or the global one for null; empty if not set. */
    Optional<String> mode(String subject);

    String modeInScope(String subject);

    void setMode(String subject, String mode);

    Optional<String> deleteMode(String subject);

    /** Releases what the store holds (its log's consumer and producer). */
    @Override
    default void close() {
    }
}

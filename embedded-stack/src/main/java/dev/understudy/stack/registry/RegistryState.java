package dev.understudy.stack.registry;

import com.fasterxml.jackson.databind.JsonNode;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.stream.Stream;

/**
 * The registry's state: what applying the {@link RegistryRecord}s of a {@link RegistryLog} in order
 * yields, as the Confluent registry's {@code KafkaStoreMessageHandler} builds its lookup cache from
 * the {@code _schemas} topic. Subjects hold versions, each a schema with its global id and a
 * soft-deleted flag; configs and modes hold the subject-level and global (null subject) settings.
 *
 * <p>Every method holds the state's monitor: the log's reader applies records while requests read.
 * Hold the monitor yourself to read several things consistently.
 */
final class RegistryState {
    private static final Logger LOG = LoggerFactory.getLogger(RegistryState.class);

    /** One version of a subject as stored: a Confluent {@code SchemaValue}. */
    record Version(String subject, int version, int id, String schemaType, String schema, boolean deleted) {
        RegisteredSchema registered() {
            return new RegisteredSchema(subject, version, id, schemaType, schema);
        }
    }

    /** Sorted, so that subjects list in order. */
    private final Map<String, TreeMap<Integer, Version>> subjects = new TreeMap<>();
    /** Key null: the global setting. */
    private final Map<String, String> compatibility = new HashMap<>();
    private final Map<String, String> modes = new HashMap<>();
    /**
     * The highest id any applied record used, even one later deleted: ids are never reused, as
     * Confluent's {@code IncrementalIdGenerator} starts from the highest id it has read.
     */
    private int maxId;
    private long applied;

    /**
     * Applies one record. Records it cannot read are logged and skipped, as Confluent's store
     * skips records that fail to deserialise, so that one bad record does not stop the registry.
     */
    synchronized void apply(RegistryRecord record) {
        applied++;
        JsonNode key;
        JsonNode value;
        try {
            key = record.keyJson();
            value = record.valueJson();
        } catch (IllegalArgumentException e) {
            LOG.warn("Skipping an unreadable registry record: {}", e.getMessage());
            return;
        }
        String keyType = key.path("keytype").asText("");
        String subject = key.hasNonNull("subject") ? key.get("subject").asText() : null;
        switch (keyType) {
            case "SCHEMA" -> applySchema(subject, key.path("version").asInt(), value);
            case "CONFIG" -> put(compatibility, subject, value == null ? null : value.path("compatibilityLevel").asText(null));
            case "MODE" -> put(modes, subject, value == null ? null : value.path("mode").asText(null));
            case "DELETE_SUBJECT" -> {
                if (value != null && subject != null) {
                    // Confluent marks every version up to the recorded one deleted; later versions stay.
                    int upTo = value.path("version").asInt();
                    subjects.getOrDefault(subject, new TreeMap<>()).replaceAll((v, version) -> v <= upTo
                            ? new Version(version.subject(), v, version.id(), version.schemaType(), version.schema(), true)
                            : version);
                }
            }
            case "CLEAR_SUBJECT" -> {
                // Confluent clears the soft-deleted versions of the subject from its caches.
                TreeMap<Integer, Version> versions = subjects.get(subject);
                if (versions != null) {
                    versions.values().removeIf(Version::deleted);
                    if (versions.isEmpty()) {
                        subjects.remove(subject);
                    }
                }
            }
            case "NOOP" -> {
            }
            default -> LOG.warn("Skipping a registry record of unknown key type '{}': {}", keyType, record.key());
        }
    }

    private void applySchema(String subject, int version, JsonNode value) {
        if (subject == null || version < 1) {
            LOG.warn("Skipping a SCHEMA record without subject or version");
            return;
        }
        if (value == null) {
            TreeMap<Integer, Version> versions = subjects.get(subject);
            if (versions != null) {
                versions.remove(version);
                if (versions.isEmpty()) {
                    subjects.remove(subject);
                }
            }
            return;
        }
        int id = value.path("id").asInt();
        String schemaType = value.hasNonNull("schemaType") ? value.get("schemaType").asText() : SchemaRegistryApi.AVRO;
        String schema = value.path("schema").asText();
        maxId = Math.max(maxId, id);
        subjects.computeIfAbsent(subject, s -> new TreeMap<>())
                .put(version, new Version(subject, version, id, schemaType, schema, value.path("deleted").asBoolean(false)));
    }

    private static void put(Map<String, String> settings, String subject, String setting) {
        if (setting == null) {
            settings.remove(subject);
        } else {
            settings.put(subject, setting);
        }
    }

    synchronized long appliedRecords() {
        return applied;
    }

    synchronized int maxId() {
        return maxId;
    }

    /** Subjects with a live version, or with any stored version if {@code includeDeleted}. */
    synchronized List<String> subjects(boolean includeDeleted) {
        return subjects.entrySet().stream()
                .filter(e -> includeDeleted || e.getValue().values().stream().anyMatch(v -> !v.deleted()))
                .map(Map.Entry::getKey)
                .toList();
    }

    synchronized boolean hasSubject(String subject, boolean includeDeleted) {
        return !versions(subject, includeDeleted).isEmpty();
    }

    /** The versions of {@code subject}, ascending. */
    synchronized List<Version> versions(String subject, boolean includeDeleted) {
        TreeMap<Integer, Version> versions = subjects.get(subject);
        if (versions == null) {
            return List.of();
        }
        return versions.values().stream().filter(v -> includeDeleted || !v.deleted()).toList();
    }

    synchronized Optional<Version> version(String subject, int version) {
        TreeMap<Integer, Version> versions = subjects.get(subject);
        return Optional.ofNullable(versions == null ? null : versions.get(version));
    }

    synchronized Optional<Version> latest(String subject, boolean includeDeleted) {
        List<Version> versions = versions(subject, includeDeleted);
        return versions.isEmpty() ? Optional.empty() : Optional.of(versions.get(versions.size() - 1));
    }

    /** The highest version number stored for the subject, deleted or not; 0 if none. */
    synchronized int highestVersion(String subject) {
        TreeMap<Integer, Version> versions = subjects.get(subject);
        return versions == null || versions.isEmpty() ? 0 : versions.lastKey();
    }

    /** The id a stored version (deleted or not) of any subject gives this schema. */
    synchronized Optional<Integer> idOf(String schemaType, String schema) {
        return allVersions().filter(v -> v.schemaType().equals(schemaType) && v.schema().equals(schema))
                .map(Version::id).findFirst();
    }

    synchronized Optional<StoredSchema> schemaById(int id) {
        return allVersions().filter(v -> v.id() == id).findFirst()
                .map(v -> new StoredSchema(id, v.schemaType(), v.schema()));
    }

    /** Every version holding the schema with this id, by subject then version. */
    synchronized List<Version> usesOf(int id, boolean includeDeleted) {
        return allVersions().filter(v -> v.id() == id && (includeDeleted || !v.deleted()))
                .sorted(Comparator.comparing(Version::subject).thenComparingInt(Version::version))
                .toList();
    }

    synchronized Optional<String> compatibility(String subject) {
        return Optional.ofNullable(compatibility.get(subject));
    }

    synchronized Optional<String> mode(String subject) {
        return Optional.ofNullable(modes.get(subject));
    }

    private Stream<Version> allVersions() {
        List<Version> all = new ArrayList<>();
        subjects.values().forEach(versions -> all.addAll(versions.values()));
        return all.stream();
    }
}

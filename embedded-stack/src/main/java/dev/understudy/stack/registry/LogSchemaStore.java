package dev.understudy.stack.registry;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.locks.ReentrantLock;
import java.util.function.Supplier;

/**
 * The registry's rules over a {@link RegistryLog}: every change is a record appended to the log, and
 * every answer is read from the {@link RegistryState} the log's records built. Follows Confluent's
 * {@code KafkaSchemaRegistry}: register, deleteSubject, deleteSchemaVersion, updateConfig and setMode
 * write the same records in the same cases.
 *
 * <p>One lock serialises this instance's writes (Confluent's per-subject lock on its leader); the
 * state's own monitor keeps reads consistent while the log's reader applies records. A write holds
 * only the write lock while it waits for its record to be applied. Several instances over one Kafka
 * log agree on what is in it, but only one of them should take writes: like Confluent's followers
 * they would otherwise race for ids, and this registry has no leader election to forward writes to.
 */
public class LogSchemaStore implements SchemaStore {
    private final RegistryLog log;
    private final SchemaCompatibility schemas;
    private final RegistryState state = new RegistryState();
    /** Serialises this instance's writes; never held by the log's reader, which waits for nothing. */
    private final ReentrantLock writeLock = new ReentrantLock();

    /** Replays {@code log} into memory; returns when what the log held has been applied. */
    public LogSchemaStore(RegistryLog log, SchemaCompatibility schemas) {
        this.log = Objects.requireNonNull(log, "log");
        this.schemas = Objects.requireNonNull(schemas, "schemas");
        try {
            log.start(state::apply);
        } catch (RuntimeException e) {
            log.close();
            throw e;
        }
    }

    public LogSchemaStore(RegistryLog log) {
        this(log, new ConfluentAvroCompatibility());
    }

    public RegistryLog log() {
        return log;
    }

    @Override
    public RegisteredSchema register(String subject, String schemaType, String schema) {
        String canonical = canonicalize(schemaType, schema);
        return locked(() -> {
            List<RegistryState.Version> live = state.versions(subject, false);
            // KafkaSchemaRegistry.registerOrForward looks the schema up under the subject first, so an
            // already registered schema is answered even in READONLY mode; only new versions are refused.
            for (RegistryState.Version version : live) {
                if (version.schemaType().equals(schemaType) && version.schema().equals(canonical)) {
                    return version.registered();
                }
            }
            requireWritable(subject);
            List<String> reasons = check(subject, canonical, live.stream().map(RegistryState.Version::schema).toList());
            if (!reasons.isEmpty()) {
                throw ApiError.incompatibleSchema(subject, reasons);
            }
            int id = state.idOf(schemaType, canonical).orElse(state.maxId() + 1);
            // The next version follows the highest stored one, soft-deleted versions included, so soft
            // deletes never free a number; permanently deleted versions are gone and may be reused.
            int version = state.highestVersion(subject) + 1;
            log.append(RegistryRecord.schema(subject, version, id, schemaType, canonical, false));
            return new RegisteredSchema(subject, version, id, schemaType, canonical);
        });
    }

    @Override
    public Optional<RegisteredSchema> lookup(String subject, String schemaType, String schema, boolean includeDeleted) {
        String canonical = canonicalize(schemaType, schema);
        return read(() -> state.versions(subject, includeDeleted).stream()
                .filter(v -> v.schemaType().equals(schemaType) && v.schema().equals(canonical))
                .reduce((first, second) -> second)
                .map(RegistryState.Version::registered));
    }

    @Override
    public Optional<StoredSchema> schemaById(int id) {
        return read(() -> state.schemaById(id));
    }

    @Override
    public List<String> subjects(boolean includeDeleted) {
        return read(() -> state.subjects(includeDeleted));
    }

    @Override
    public List<Integer> versions(String subject, boolean includeDeleted) {
        return read(() -> state.versions(subject, includeDeleted).stream().map(RegistryState.Version::version).toList());
    }

    @Override
    public Optional<RegisteredSchema> version(String subject, int version, boolean includeDeleted) {
        return read(() -> state.version(subject, version).filter(v -> includeDeleted || !v.deleted())
                .map(RegistryState.Version::registered));
    }

    @Override
    public Optional<RegisteredSchema> latest(String subject, boolean includeDeleted) {
        return read(() -> state.latest(subject, includeDeleted).map(RegistryState.Version::registered));
    }

    @Override
    public List<RegisteredSchema> usesOf(int id, boolean includeDeleted) {
        return read(() -> state.usesOf(id, includeDeleted).stream().map(RegistryState.Version::registered).toList());
    }

    /** As SubjectsResource.deleteSubject and KafkaSchemaRegistry.deleteSubject (Confluent 7.x). */
    @Override
    public List<Integer> deleteSubject(String subject, boolean permanent) {
        return locked(() -> {
            // SubjectsResource checks existence and the soft-deleted state first; the mode and the
            // not-soft-deleted check follow in KafkaSchemaRegistry.deleteSubject.
            if (!state.hasSubject(subject, true)) {
                throw ApiError.subjectNotFound(subject);
            }
            List<RegistryState.Version> live = state.versions(subject, false);
            if (!permanent && live.isEmpty()) {
                throw ApiError.subjectSoftDeleted(subject);
            }
            requireWritable(subject);
            if (!permanent) {
                int upTo = live.get(live.size() - 1).version();
                log.append(RegistryRecord.deleteSubject(subject, upTo));
                // Confluent 7.x drops the subject's mode and compatibility with its versions.
                dropSubjectSettings(subject);
                return live.stream().map(RegistryState.Version::version).toList();
            }
            if (!live.isEmpty()) {
                throw ApiError.subjectNotSoftDeleted(subject);
            }
            List<Integer> deleted = new ArrayList<>();
            for (RegistryState.Version version : state.versions(subject, true)) {
                log.append(RegistryRecord.schemaTombstone(subject, version.version()));
                deleted.add(version.version());
            }
            return deleted;
        });
    }

    /** As SubjectVersionsResource.deleteSchemaVersion and KafkaSchemaRegistry.deleteSchemaVersion. */
    @Override
    public int deleteVersion(String subject, String versionText, boolean permanent) {
        int requested = SchemaRegistryApi.parseVersion(versionText);
        return locked(() -> {
            // "latest" is the highest live version, also for a permanent delete (which then is 40407).
            Optional<RegistryState.Version> found = requested == SchemaRegistryApi.LATEST
                    ? state.latest(subject, false) : state.version(subject, requested);
            if (found.isPresent() && found.get().deleted() && !permanent) {
                throw ApiError.versionSoftDeleted(subject, versionText);
            }
            if (found.isEmpty()) {
                if (!state.hasSubject(subject, true)) {
                    throw ApiError.subjectNotFound(subject);
                }
                throw ApiError.versionNotFound(requested);
            }
            requireWritable(subject);
            RegistryState.Version version = found.get();
            if (permanent) {
                if (!version.deleted()) {
                    throw ApiError.versionNotSoftDeleted(subject, versionText);
                }
                log.append(RegistryRecord.schemaTombstone(subject, version.version()));
            } else {
                log.append(RegistryRecord.schema(subject, version.version(), version.id(), version.schemaType(),
                        version.schema(), true));
                if (!state.hasSubject(subject, false)) {
                    dropSubjectSettings(subject);
                }
            }
            return version.version();
        });
    }

    /**
     * As CompatibilityResource: the version is looked up first (live versions only; a missing
     * specific version is 40402 even when the subject is missing too), then the schema is parsed.
     */
    @Override
    public List<String> incompatibilities(String subject, String versionText, String schemaType, String schema) {
        int requested = versionText == null ? 0 : SchemaRegistryApi.parseVersion(versionText);
        List<String> previous = read(() -> {
            if (versionText == null) {
                return state.versions(subject, false).stream().map(RegistryState.Version::schema).toList();
            }
            if (requested == SchemaRegistryApi.LATEST) {
                // Nothing registered yet: anything is compatible.
                return state.latest(subject, false).map(v -> List.of(v.schema())).orElse(List.of());
            }
            RegistryState.Version version = state.version(subject, requested).filter(v -> !v.deleted())
                    .orElseThrow(() -> ApiError.versionNotFound(requested));
            return List.of(version.schema());
        });
        String canonical = canonicalize(schemaType, schema);
        return read(() -> check(subject, canonical, previous));
    }

    @Override
    public Optional<String> compatibility(String subject) {
        return read(() -> state.compatibility(subject));
    }

    @Override
    public String compatibilityInScope(String subject) {
        return read(() -> state.compatibility(subject).or(() -> state.compatibility(null)).orElse(DEFAULT_COMPATIBILITY));
    }

    @Override
    public void setCompatibility(String subject, String level) {
        String normalized = level == null ? null : level.toUpperCase(Locale.ROOT);
        if (!SchemaCompatibility.LEVELS.contains(normalized)) {
            throw ApiError.invalidCompatibilityLevel();
        }
        locked(() -> {
            log.append(RegistryRecord.config(subject, normalized));
            return null;
        });
    }

    @Override
    public Optional<String> deleteCompatibility(String subject) {
        return locked(() -> {
            Optional<String> previous = state.compatibility(subject);
            previous.ifPresent(p -> log.append(RegistryRecord.config(subject, null)));
            return previous;
        });
    }

    @Override
    public Optional<String> mode(String subject) {
        return read(() -> state.mode(subject));
    }

    @Override
    public String modeInScope(String subject) {
        return read(() -> state.mode(subject).or(() -> state.mode(null)).orElse(READWRITE));
    }

    @Override
    public void setMode(String subject, String mode) {
        String normalized = mode == null ? "" : mode.toUpperCase(Locale.ROOT);
        if (!normalized.equals(READWRITE) && !normalized.equals(READONLY)) {
            throw ApiError.invalidMode(mode);
        }
        locked(() -> {
            log.append(RegistryRecord.mode(subject, normalized));
            return null;
        });
    }

    @Override
    public Optional<String> deleteMode(String subject) {
        return locked(() -> {
            Optional<String> previous = state.mode(subject);
            previous.ifPresent(p -> log.append(RegistryRecord.mode(subject, null)));
            return previous;
        });
    }

    @Override
    public void close() {
        log.close();
    }

    /**
     * The checker's reasons, followed, if there are any, by the line Confluent appends
     * ({@code KafkaSchemaRegistry.isCompatibleWithPrevious}).
     */
    private List<String> check(String subject, String canonical, List<String> previous) {
        String level = state.compatibility(subject).or(() -> state.compatibility(null)).orElse(DEFAULT_COMPATIBILITY);
        if (previous.isEmpty()) {
            return List.of();
        }
        List<String> reasons = new ArrayList<>(schemas.incompatibilities(level, canonical, previous));
        if (!reasons.isEmpty()) {
            reasons.add("{validateFields: 'false', compatibility: '" + level + "'}");
        }
        return reasons;
    }

    private void requireWritable(String subject) {
        String mode = state.mode(subject).or(() -> state.mode(null)).orElse(READWRITE);
        if (READONLY.equals(mode)) {
            throw ApiError.readOnly(subject);
        }
    }

    private void dropSubjectSettings(String subject) {
        if (state.mode(subject).isPresent()) {
            log.append(RegistryRecord.mode(subject, null));
        }
        if (state.compatibility(subject).isPresent()) {
            log.append(RegistryRecord.config(subject, null));
        }
    }

    private String canonicalize(String schemaType, String schema) {
        if (!schemas.schemaType().equals(schemaType)) {
            throw ApiError.invalidSchema("Unsupported schema type '" + schemaType + "': this registry stores "
                    + schemas.schemaType() + " schemas only; send \"schemaType\": \"" + schemas.schemaType() + "\" or leave it out");
        }
        try {
            return schemas.canonicalize(schema);
        } catch (IllegalArgumentException e) {
            // Confluent: "Invalid schema <schema> with refs [] of type AVRO, details: <parser message>".
            throw ApiError.invalidSchema("Invalid schema " + SchemaRegistryApi.abbreviate(schema) + " with refs [] of type "
                    + schemaType + ", details: " + e.getMessage());
        }
    }

    private <T> T locked(Supplier<T> action) {
        writeLock.lock();
        try {
            return action.get();
        } finally {
            writeLock.unlock();
        }
    }

    private <T> T read(Supplier<T> action) {
        synchronized (state) {
            return action.get();
        }
    }
}

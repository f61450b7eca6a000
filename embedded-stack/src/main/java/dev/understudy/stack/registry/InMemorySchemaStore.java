package dev.understudy.stack.registry;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;

/**
 * A {@link SchemaStore} in memory: state lasts as long as the process, like the topics of the
 * embedded Kafka broker it runs next to. Every method holds the store's lock, so registration (id
 * and version assignment) is atomic.
 */
public final class InMemorySchemaStore implements SchemaStore {
    private record SchemaKey(String schemaType, String schema) {
    }

    private final Map<SchemaKey, Integer> idsBySchema = new HashMap<>();
    private final Map<Integer, StoredSchema> schemasById = new HashMap<>();
    /** Sorted, so that GET /subjects lists subjects in order. */
    private final Map<String, List<RegisteredSchema>> versionsBySubject = new TreeMap<>();
    /** Global ids start at 1, as in the Confluent registry. */
    private int nextId = 1;

    @Override
    public synchronized RegisteredSchema register(String subject, String schemaType, String schema) {
        Optional<RegisteredSchema> existing = lookup(subject, schemaType, schema);
        if (existing.isPresent()) {
            return existing.get();
        }
        int id = idsBySchema.computeIfAbsent(new SchemaKey(schemaType, schema), key -> {
            int newId = nextId++;
            schemasById.put(newId, new StoredSchema(newId, schemaType, schema));
            return newId;
        });
        List<RegisteredSchema> versions = versionsBySubject.computeIfAbsent(subject, s -> new ArrayList<>());
        int version = versions.isEmpty() ? 1 : versions.get(versions.size() - 1).version() + 1;
        RegisteredSchema registered = new RegisteredSchema(subject, version, id, schemaType, schema);
        versions.add(registered);
        return registered;
    }

    @Override
    public synchronized Optional<RegisteredSchema> lookup(String subject, String schemaType, String schema) {
        return versionsBySubject.getOrDefault(subject, List.of()).stream()
                .filter(v -> v.schemaType().equals(schemaType) && v.schema().equals(schema))
                .findFirst();
    }

    @Override
    public synchronized Optional<StoredSchema> schemaById(int id) {
        return Optional.ofNullable(schemasById.get(id));
    }

    @Override
    public synchronized List<String> subjects() {
        return List.copyOf(versionsBySubject.keySet());
    }

    @Override
    public synchronized Optional<List<Integer>> versions(String subject) {
        List<RegisteredSchema> versions = versionsBySubject.get(subject);
        if (versions == null || versions.isEmpty()) {
            return Optional.empty();
        }
        return Optional.of(versions.stream().map(RegisteredSchema::version).toList());
    }

    @Override
    public synchronized Optional<RegisteredSchema> version(String subject, int version) {
        return versionsBySubject.getOrDefault(subject, List.of()).stream()
                .filter(v -> v.version() == version)
                .findFirst();
    }

    @Override
    public synchronized Optional<RegisteredSchema> latest(String subject) {
        List<RegisteredSchema> versions = versionsBySubject.getOrDefault(subject, List.of());
        return versions.isEmpty() ? Optional.empty() : Optional.of(versions.get(versions.size() - 1));
    }

    @Override
    public synchronized List<RegisteredSchema> usesOf(int id) {
        return versionsBySubject.values().stream()
                .flatMap(List::stream)
                .filter(v -> v.id() == id)
                .sorted(Comparator.comparing(RegisteredSchema::subject).thenComparingInt(RegisteredSchema::version))
                .toList();
    }
}

package dev.understudy.schemas;

import org.apache.avro.Schema;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * A registry held in this process only, for unit tests of topologies and serdes (the counterpart of
 * Confluent's MockSchemaRegistryClient). Ids are global and an identical schema gets the same id in
 * every subject, as in the Confluent registry. Registration does not check compatibility;
 * {@link #incompatibilities} applies Confluent's rules at the subject's level (default BACKWARD).
 */
public final class InMemoryRegistryClient implements RegistryClient {
    private final Map<String, Integer> idsBySchema = new HashMap<>();
    private final Map<Integer, Schema> schemasById = new HashMap<>();
    private final Map<String, List<Integer>> versions = new HashMap<>();
    private final Map<String, String> levels = new HashMap<>();
    private final SerdeConfig serdeConfig;

    public InMemoryRegistryClient() {
        this(SerdeConfig.defaults());
    }

    public InMemoryRegistryClient(SerdeConfig serdeConfig) {
        this.serdeConfig = serdeConfig;
    }

    @Override
    public SerdeConfig serdeConfig() {
        return serdeConfig;
    }

    @Override
    public synchronized Optional<Integer> lookup(String subject, Schema schema) {
        Integer id = idsBySchema.get(schema.toString());
        List<Integer> v = versions.get(subject);
        return id != null && v != null && v.contains(id) ? Optional.of(id) : Optional.empty();
    }

    @Override
    public synchronized List<String> incompatibilities(String subject, Schema schema) {
        List<Integer> v = versions.get(subject);
        if (v == null || v.isEmpty()) {
            return List.of();
        }
        List<Schema> previous = new ArrayList<>();
        for (int id : v) {
            previous.add(schemasById.get(id));
        }
        return Compatibility.check(levels.getOrDefault(subject, "BACKWARD"), schema, previous);
    }

    @Override
    public synchronized void setCompatibility(String subject, String level) {
        levels.put(subject, level);
    }

    @Override
    public synchronized int register(String subject, Schema schema) {
        int id = idsBySchema.computeIfAbsent(schema.toString(), s -> idsBySchema.size() + 1);
        schemasById.put(id, schema);
        List<Integer> v = versions.computeIfAbsent(subject, s -> new ArrayList<>());
        if (!v.contains(id)) {
            v.add(id);
        }
        return id;
    }

    @Override
    public synchronized Schema byId(int id) {
        Schema s = schemasById.get(id);
        if (s == null) {
            throw new RegistryException("Schema id " + id + " not found", 404, 40403, null);
        }
        return s;
    }

    @Override
    public synchronized Optional<Registered> latest(String subject) {
        List<Integer> v = versions.get(subject);
        if (v == null || v.isEmpty()) {
            return Optional.empty();
        }
        int id = v.get(v.size() - 1);
        return Optional.of(new Registered(subject, v.size(), id, schemasById.get(id)));
    }
}

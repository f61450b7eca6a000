package dev.understudy.schemas.config;

import dev.understudy.schemas.Suggestions;

import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.TreeMap;

/**
 * The values of a list of declared {@link ConfigKey}s, parsed from text and validated, defaults filled
 * in. Modelled on Debezium's {@code io.debezium.config.Configuration}, from which each connector reads
 * its {@code Field}s: a stage builds its settings from a {@code ConfigValues} holding (at least) the keys
 * it declares, whichever configuration they were composed into.
 */
public final class ConfigValues {
    /** The declared keys by name, in declaration order. */
    private final Map<String, ConfigKey<?>> keys;
    /** Parsed values by key name; a key whose text was refused has none. */
    private final Map<String, Object> values;

    private ConfigValues(Map<String, ConfigKey<?>> keys, Map<String, Object> values) {
        this.keys = Collections.unmodifiableMap(keys);
        this.values = Collections.unmodifiableMap(values);
    }

    /**
     * Parses {@code raw} against {@code keys}, adding every problem found to {@code problems}: unknown
     * names (with the closest declared name), missing required keys, text not of a key's type, values a
     * key's validator refuses. Each problem names the key and what it expects. Keys absent from
     * {@code raw} get their default; a key whose text was refused gets no value.
     *
     * @throws IllegalArgumentException when two of {@code keys} share a name (two stages declaring one key)
     */
    public static ConfigValues parse(List<ConfigKey<?>> keys, Map<String, String> raw, List<String> problems) {
        Map<String, ConfigKey<?>> known = byName(keys);
        for (String name : new TreeMap<>(raw).keySet()) {
            if (!known.containsKey(name)) {
                problems.add("unknown key '" + name + "'" + Suggestions.closest(name, known.keySet())
                        .map(k -> "; did you mean '" + k + "'?").orElse("; known keys are listed in the README (Configuration)"));
            }
        }
        Map<String, Object> values = new LinkedHashMap<>();
        for (ConfigKey<?> key : keys) {
            String text = raw.get(key.name());
            if (text == null || (text.isBlank() && key.required())) {
                if (key.required()) {
                    problems.add("missing required key '" + key.name() + "': expects " + key.expectation() + ". " + key.doc());
                } else {
                    values.put(key.name(), key.defaultValue());
                }
                continue;
            }
            check(key, text, values, problems);
        }
        return new ConfigValues(known, values);
    }

    /**
     * Parses {@code raw} against {@code keys}.
     *
     * @throws IllegalArgumentException listing every problem (see {@link #parse(List, Map, List)})
     */
    public static ConfigValues parse(List<ConfigKey<?>> keys, Map<String, String> raw) {
        List<String> problems = new ArrayList<>();
        ConfigValues values = parse(keys, raw, problems);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("Invalid configuration (" + problems.size() + " problem" + (problems.size() == 1 ? "" : "s")
                    + "):\n  - " + String.join("\n  - ", problems));
        }
        return values;
    }

    private static <T> void check(ConfigKey<T> key, String text, Map<String, Object> values, List<String> problems) {
        T value;
        try {
            value = key.parse(text);
        } catch (NumberFormatException e) {
            problems.add("key '" + key.name() + "' has value '" + text + "': expects " + key.expectation());
            return;
        }
        String problem = key.validator().apply(value);
        if (problem != null) {
            String shown = key.secret() ? "(hidden)" : "'" + text + "'";
            problems.add("key '" + key.name() + "' has value " + shown + ": " + problem);
            return;
        }
        values.put(key.name(), value);
    }

    private static Map<String, ConfigKey<?>> byName(List<ConfigKey<?>> keys) {
        Map<String, ConfigKey<?>> known = new LinkedHashMap<>();
        for (ConfigKey<?> k : keys) {
            if (known.put(k.name(), k) != null) {
                throw new IllegalArgumentException("Config key '" + k.name() + "' is declared twice; each key has one owner,"
                        + " the stage that reads it: remove the other declaration");
            }
        }
        return known;
    }

    /**
     * The value of {@code key}: the parsed text or the default. Null only for a key whose text was refused
     * (a {@link #parse(List, Map, List)} that reported it) or a key without default left unset.
     *
     * @throws IllegalArgumentException when {@code key} is not one of the keys these values were parsed against
     */
    @SuppressWarnings("unchecked")
    public <T> T get(ConfigKey<T> key) {
        if (!keys.containsKey(key.name())) {
            throw new IllegalArgumentException("Config key '" + key.name() + "' is not among the keys of this configuration;"
                    + " add it to the key list of the stage that declares it");
        }
        return (T) values.get(key.name());
    }

    /** The declared keys, in declaration order. */
    public List<ConfigKey<?>> keys() {
        return List.copyOf(keys.values());
    }

    /**
     * The values of {@code subset} only, so that a stage keeps its own keys and not, say, the passwords
     * of the configuration they came from.
     *
     * @throws IllegalArgumentException when a key of {@code subset} is not among these keys
     */
    public ConfigValues select(List<ConfigKey<?>> subset) {
        Map<String, Object> selected = new LinkedHashMap<>();
        for (ConfigKey<?> k : subset) {
            selected.put(k.name(), get(k));
        }
        return new ConfigValues(byName(subset), selected);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof ConfigValues other && keys.keySet().equals(other.keys.keySet()) && values.equals(other.values);
    }

    @Override
    public int hashCode() {
        return Objects.hash(keys.keySet(), values);
    }

    /** {@code name=value, ...} in declaration order, secrets hidden. */
    @Override
    public String toString() {
        StringBuilder sb = new StringBuilder("{");
        for (ConfigKey<?> k : keys.values()) {
            Object v = values.get(k.name());
            sb.append(sb.length() == 1 ? "" : ", ").append(k.name()).append('=')
                    .append(k.secret() && v != null && !v.toString().isEmpty() ? "******" : v);
        }
        return sb.append('}').toString();
    }
}

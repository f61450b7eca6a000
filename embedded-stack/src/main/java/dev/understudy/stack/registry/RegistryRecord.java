package dev.understudy.stack.registry;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;

import java.io.IOException;
import java.util.Objects;

/**
 * One record of the registry's event log, in the JSON layout of the Confluent registry's
 * {@code _schemas} topic, so that the log can live in that topic and be read by either.
 *
 * <p>Keys, as Confluent's {@code io.confluent.kafka.schemaregistry.storage.SchemaRegistryKey}
 * subclasses serialise them (property order: keytype, subject, version, magic):
 * <ul>
 * <li>{@code {"keytype":"SCHEMA","subject":"s","version":1,"magic":1}} ({@code SchemaKey}; magic 1)</li>
 * <li>{@code {"keytype":"CONFIG","subject":"s"|null,"magic":0}} ({@code ConfigKey}; null subject: global)</li>
 * <li>{@code {"keytype":"MODE","subject":"s"|null,"magic":0}} ({@code ModeKey})</li>
 * <li>{@code {"keytype":"DELETE_SUBJECT","subject":"s","magic":0}} ({@code DeleteSubjectKey})</li>
 * <li>{@code {"keytype":"CLEAR_SUBJECT","subject":"s","magic":0}} ({@code ClearSubjectKey})</li>
 * <li>{@code {"keytype":"NOOP","magic":0}} ({@code NoopKey}, written by Confluent to find the log end)</li>
 * </ul>
 * Values: {@code SchemaValue} {@code {"subject","version","id","schemaType"?,"schema","deleted"}}
 * (schemaType left out for Avro), {@code ConfigValue} {@code {"compatibilityLevel":"BACKWARD"}},
 * {@code ModeValue} {@code {"mode":"READONLY"}}, {@code DeleteSubjectValue}
 * {@code {"subject","version"}} (the highest version deleted) and {@code ClearSubjectValue}
 * {@code {"subject"}}. A null value is a tombstone: the key's entry is removed (a permanent delete).
 *
 * @param key   the key as JSON text; compared byte for byte by log compaction, so always written
 *              in the same property order
 * @param value the value as JSON text, or null for a tombstone
 */
public record RegistryRecord(String key, String value) {
    static final ObjectMapper JSON = new ObjectMapper();

    /** The key types of Confluent's {@code SchemaRegistryKeyType}. */
    public enum KeyType { SCHEMA, CONFIG, MODE, NOOP, DELETE_SUBJECT, CLEAR_SUBJECT }

    public RegistryRecord {
        Objects.requireNonNull(key, "key");
    }

    static RegistryRecord schema(String subject, int version, int id, String schemaType, String schema, boolean deleted) {
        ObjectNode value = JSON.createObjectNode();
        value.put("subject", subject);
        value.put("version", version);
        value.put("id", id);
        if (!SchemaRegistryApi.AVRO.equals(schemaType)) {
            value.put("schemaType", schemaType);
        }
        value.put("schema", schema);
        value.put("deleted", deleted);
        return new RegistryRecord(schemaKey(subject, version), value.toString());
    }

    static RegistryRecord schemaTombstone(String subject, int version) {
        return new RegistryRecord(schemaKey(subject, version), null);
    }

    static RegistryRecord config(String subject, String compatibilityLevel) {
        String value = compatibilityLevel == null ? null
                : JSON.createObjectNode().put("compatibilityLevel", compatibilityLevel).toString();
        return new RegistryRecord(subjectKey(KeyType.CONFIG, subject), value);
    }

    static RegistryRecord mode(String subject, String mode) {
        String value = mode == null ? null : JSON.createObjectNode().put("mode", mode).toString();
        return new RegistryRecord(subjectKey(KeyType.MODE, subject), value);
    }

    static RegistryRecord deleteSubject(String subject, int upToVersion) {
        return new RegistryRecord(subjectKey(KeyType.DELETE_SUBJECT, subject),
                JSON.createObjectNode().put("subject", subject).put("version", upToVersion).toString());
    }

    static RegistryRecord clearSubject(String subject) {
        return new RegistryRecord(subjectKey(KeyType.CLEAR_SUBJECT, subject),
                JSON.createObjectNode().put("subject", subject).toString());
    }

    static RegistryRecord noop() {
        return new RegistryRecord(JSON.createObjectNode().put("keytype", KeyType.NOOP.name()).put("magic", 0).toString(), null);
    }

    private static String schemaKey(String subject, int version) {
        return JSON.createObjectNode().put("keytype", KeyType.SCHEMA.name()).put("subject", subject)
                .put("version", version).put("magic", 1).toString();
    }

    private static String subjectKey(KeyType type, String subject) {
        ObjectNode key = JSON.createObjectNode().put("keytype", type.name());
        if (subject == null) {
            key.putNull("subject");
        } else {
            key.put("subject", subject);
        }
        return key.put("magic", 0).toString();
    }

    /** The parsed key. @throws IllegalArgumentException if it is not a registry key */
    JsonNode keyJson() {
        return parse(key, "key");
    }

    /** The parsed value, or null for a tombstone. */
    JsonNode valueJson() {
        return value == null ? null : parse(value, "value");
    }

    private static JsonNode parse(String text, String what) {
        try {
            JsonNode node = JSON.readTree(text);
            if (node == null || !node.isObject()) {
                throw new IllegalArgumentException("Registry record " + what + " is not a JSON object: " + text);
            }
            return node;
        } catch (IOException e) {
            throw new IllegalArgumentException("Registry record " + what + " is not JSON: " + text, e);
        }
    }
}

package dev.understudy.schemas;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

import java.time.Instant;
import java.time.LocalDate;
import java.time.LocalDateTime;
import java.time.ZoneOffset;
import java.time.temporal.ChronoUnit;
import java.util.List;

/**
 * The one codec of a row key as JSON, both ways: an object with the key's fields in key order,
 * numbers (of plain numeric Avro types) as JSON numbers and everything else as its PostgreSQL text
 * ({@link RowValues#text}), e.g. {@code {"id":42}} or {@code {"tenant":"a","id":7}}. It is how the
 * writer's bookkeeping stores keys, how dead letters and divergence events name them, and what
 * verify, repair and the generation sweep compare against, so all of them must write it alike.
 */
public final class KeyJson {
    private static final ObjectMapper JSON = new ObjectMapper();

    private KeyJson() {
    }

    /** The JSON of a key record. */
    public static String encode(GenericRecord key) {
        StringBuilder sb = new StringBuilder("{");
        for (Schema.Field f : key.getSchema().getFields()) {
            Object v = key.get(f.pos());
            String text = RowValues.text(v, f.schema());
            field(sb, f.name(), text, v instanceof Number && RowValues.nonNull(f.schema()).getLogicalType() == null);
        }
        return sb.append('}').toString();
    }

    /**
     * The JSON of a key read as text (from SQL, {@code col::text}): {@code numeric[i]} says whether
     * field {@code i} is of a plain numeric type, written as a JSON number like {@link #encode}.
     */
    public static String encode(List<String> fields, boolean[] numeric, String[] texts) {
        StringBuilder sb = new StringBuilder("{");
        for (int i = 0; i < fields.size(); i++) {
            field(sb, fields.get(i), texts[i], numeric[i]);
        }
        return sb.append('}').toString();
    }

    /** The key record of {@code keySchema} back from its JSON; {@code table} names it in errors. */
    public static GenericRecord decode(String json, Schema keySchema, String table) {
        JsonNode node;
        try {
            node = JSON.readTree(json);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException("Key " + json + " of " + table + " is not JSON: " + e.getOriginalMessage(), e);
        }
        GenericRecord key = new GenericData.Record(keySchema);
        for (Schema.Field f : keySchema.getFields()) {
            JsonNode v = node.get(f.name());
            key.put(f.pos(), v == null || v.isNull() ? null : value(v, RowValues.nonNull(f.schema()), table, f.name()));
        }
        return key;
    }

    private static void field(StringBuilder sb, String name, String text, boolean number) {
        if (sb.length() > 1) {
            sb.append(',');
        }
        sb.append('"').append(escape(name)).append("\":");
        if (text == null) {
            sb.append("null");
        } else if (number) {
            sb.append(text);
        } else {
            sb.append('"').append(escape(text)).append('"');
        }
    }

    private static Object value(JsonNode v, Schema schema, String table, String column) {
        LogicalType logical = schema.getLogicalType();
        String text = v.asText();
        if (logical instanceof LogicalTypes.Date) {
            return (int) LocalDate.parse(text).toEpochDay();
        }
        if (logical instanceof LogicalTypes.TimestampMicros) {
            return ChronoUnit.MICROS.between(Instant.EPOCH, Instant.parse(text));
        }
        if (logical instanceof LogicalTypes.TimestampMillis) {
            return Instant.parse(text).toEpochMilli();
        }
        if (logical instanceof LogicalTypes.LocalTimestampMicros) {
            return ChronoUnit.MICROS.between(LocalDateTime.ofEpochSecond(0, 0, ZoneOffset.UTC), LocalDateTime.parse(text));
        }
        return switch (schema.getType()) {
            case STRING -> text;
            case INT -> v.asInt();
            case LONG -> v.asLong();
            case BOOLEAN -> Boolean.parseBoolean(text);
            case DOUBLE -> v.asDouble();
            case FLOAT -> (float) v.asDouble();
            default -> throw new IllegalStateException("Key column " + column + " of " + table + " has Avro type " + schema
                    + ", which cannot be rebuilt from its JSON; rows of " + table
                    + " keyed by it are not swept or repaired by key (the comparison reports them)");
        };
    }

    /** JSON string escaping (RFC 8259, section 7): quote, backslash and control characters. */
    static String escape(String s) {
        StringBuilder sb = new StringBuilder(s.length());
        for (char c : s.toCharArray()) {
            switch (c) {
                case '"' -> sb.append("\\\"");
                case '\\' -> sb.append("\\\\");
                case '\n' -> sb.append("\\n");
                case '\r' -> sb.append("\\r");
                case '\t' -> sb.append("\\t");
                default -> {
                    if (c < 0x20) {
                        sb.append(String.format("\\u%04x", (int) c));
                    } else {
                        sb.append(c);
                    }
                }
            }
        }
        return sb.toString();
    }
}

package dev.understudy.schemas;

import org.apache.avro.Schema;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.CompatibilityChecker;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.CompatibilityLevel;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.avro.AvroSchema;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Compatibility of Avro schemas by Confluent's own rules ({@code CompatibilityChecker}), without a
 * registry, and the translation of its verbose messages into a message that names the field, the
 * rule and a fix.
 */
public final class Compatibility {
    private static final Pattern ERROR_TYPE = Pattern.compile("errorType:'([A-Z_]+)'");
    private static final Pattern DESCRIPTION = Pattern.compile("description:'(.*?)', additionalInfo:'(.*?)'}");

    private Compatibility() {
    }

    /**
     * Confluent's verbose incompatibility messages for {@code candidate} against {@code previous}
     * (oldest first) at {@code level}: non-transitive levels check the latest only, transitive ones all.
     */
    public static List<String> check(String level, Schema candidate, List<Schema> previous) {
        CompatibilityLevel l = CompatibilityLevel.forName(level.toUpperCase(Locale.ROOT));
        if (l == null) {
            throw new IllegalArgumentException("unknown compatibility level '" + level + "'; expected one of " + RegistryClient.LEVELS);
        }
        List<AvroSchema> old = new ArrayList<>();
        for (Schema s : previous) {
            old.add(new AvroSchema(s.toString()));
        }
        return CompatibilityChecker.checker(l).isCompatible(new AvroSchema(candidate.toString()), old);
    }

    /** {@link #explain(List, Schema, Schema)} without schemas to name fields from. */
    public static List<String> explain(List<String> messages) {
        return explain(messages, null, null);
    }

    /**
     * One line per incompatibility: the rule, Confluent's description, the field, and the usual fix.
     * Confluent's messages name the field for a missing default but often not for a type change
     * (path '/'); then the fields whose type differs between {@code candidate} and {@code latest}
     * are named instead.
     */
    public static List<String> explain(List<String> messages, Schema candidate, Schema latest) {
        List<String> out = new ArrayList<>();
        for (String m : messages) {
            Matcher type = ERROR_TYPE.matcher(m);
            if (!type.find()) {
                continue; // the {oldSchema: ...} lines
            }
            String rule = type.group(1);
            Matcher d = DESCRIPTION.matcher(m);
            String description = m;
            String info = "";
            if (d.find()) {
                description = d.group(1);
                info = d.group(2);
            }
            String field = "READER_FIELD_MISSING_DEFAULT_VALUE".equals(rule) ? info : fieldFromPath(description, candidate);
            if (field.isEmpty() && candidate != null && latest != null) {
                field = String.join("', '", changedFields(candidate, latest));
            }
            String detail = !"READER_FIELD_MISSING_DEFAULT_VALUE".equals(rule) && !info.isEmpty() ? " (" + info + ")" : "";
            out.add("rule " + rule + (field.isEmpty() ? "" : ", field '" + field + "'") + ": " + description + detail
                    + "; fix: " + fix(rule, field));
        }
        if (out.isEmpty()) {
            out.addAll(messages);
        }
        return out;
    }

    private static final Pattern FIELD_PATH = Pattern.compile("path '/fields/(\\d+)");

    private static String fieldFromPath(String description, Schema schema) {
        Matcher p = FIELD_PATH.matcher(description);
        if (schema == null || schema.getType() != Schema.Type.RECORD || !p.find()) {
            return "";
        }
        int index = Integer.parseInt(p.group(1));
        return index < schema.getFields().size() ? schema.getFields().get(index).name() : "";
    }

    /** Top-level fields present in both schemas with different types. */
    static List<String> changedFields(Schema candidate, Schema latest) {
        List<String> out = new ArrayList<>();
        if (candidate.getType() != Schema.Type.RECORD || latest.getType() != Schema.Type.RECORD) {
            return out;
        }
        for (Schema.Field f : candidate.getFields()) {
            Schema.Field old = latest.getField(f.name());
            if (old != null && !old.schema().equals(f.schema())) {
                out.add(f.name());
            }
        }
        return out;
    }

    private static String fix(String errorType, String field) {
        String f = field.isEmpty() ? "the field" : "field '" + field + "'";
        return switch (errorType) {
            case "READER_FIELD_MISSING_DEFAULT_VALUE" -> "give " + f + " a default (e.g. type [\"null\", ...] with \"default\": null);"
                    + " if it is a renamed field, list its old name in \"aliases\"";
            case "TYPE_MISMATCH" -> "keep the type of " + f + " (Avro allows only promotions such as int to long),"
                    + " or add a new field with the new type and a default";
            case "NAME_MISMATCH" -> "keep the record or enum name, or list the old name in \"aliases\"";
            case "MISSING_UNION_BRANCH" -> "keep every branch of the union of " + f;
            case "MISSING_ENUM_SYMBOLS" -> "keep every enum symbol, or give the enum a \"default\" symbol";
            case "FIXED_SIZE_MISMATCH" -> "keep the fixed size";
            default -> "make the change compatible with the previous version, or change the subject's compatibility level deliberately";
        };
    }
}

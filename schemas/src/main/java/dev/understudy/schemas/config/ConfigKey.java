package dev.understudy.schemas.config;

import java.util.List;
import java.util.function.Function;

/**
 * One configuration key, declared once: name, type, default (or required), documentation with
 * units, and a validator. Modelled on Debezium's {@code io.debezium.config.Field}: each stage declares
 * the keys it reads next to the code that reads them, and the pipeline composes the stages' key
 * lists into its configuration ({@link ConfigValues} parses and validates any such list).
 *
 * @param validator returns a problem description for a parsed value, or null when it is fine
 */
public record ConfigKey<T>(String name, Class<T> type, T defaultValue, boolean required, boolean secret, String doc,
                           Function<T, String> validator) {

    public static ConfigKey<String> requiredString(String name, String doc) {
        return new ConfigKey<>(name, String.class, null, true, false, doc, v -> v.isBlank() ? "must not be blank" : null);
    }

    public static ConfigKey<String> string(String name, String defaultValue, String doc) {
        return new ConfigKey<>(name, String.class, defaultValue, false, false, doc, v -> null);
    }

    public static ConfigKey<String> secret(String name, String defaultValue, String doc) {
        return new ConfigKey<>(name, String.class, defaultValue, false, true, doc, v -> null);
    }

    public static ConfigKey<Integer> positiveInt(String name, int defaultValue, String doc) {
        return new ConfigKey<>(name, Integer.class, defaultValue, false, false, doc, v -> v <= 0 ? "must be greater than 0" : null);
    }

    public static ConfigKey<Long> positiveLong(String name, long defaultValue, String doc) {
        return new ConfigKey<>(name, Long.class, defaultValue, false, false, doc, v -> v <= 0 ? "must be greater than 0" : null);
    }

    public static ConfigKey<Boolean> bool(String name, boolean defaultValue, String doc) {
        return new ConfigKey<>(name, Boolean.class, defaultValue, false, false, doc, v -> null);
    }

    /** A string limited to {@code choices} (compared ignoring case). */
    public static ConfigKey<String> choice(String name, String defaultValue, List<String> choices, String doc) {
        return new ConfigKey<>(name, String.class, defaultValue, false, false, doc,
                v -> choices.stream().anyMatch(c -> c.equalsIgnoreCase(v)) ? null : "must be one of " + String.join(", ", choices));
    }

    public ConfigKey<T> withValidator(Function<T, String> more) {
        Function<T, String> first = validator;
        return new ConfigKey<>(name, type, defaultValue, required, secret, doc, v -> {
            String p = first.apply(v);
            return p != null ? p : more.apply(v);
        });
    }

    /** What the key expects, for error messages and the README reference. */
    public String expectation() {
        String t = type == Integer.class || type == Long.class ? "an integer" : type == Boolean.class ? "true or false" : "a string";
        return t + (required ? " (required)" : " (default: " + (defaultValue == null || "".equals(defaultValue) ? "empty" : defaultValue) + ")");
    }

    /**
     * The value of {@code raw}, trimmed; validation is separate ({@link #validator()}).
     *
     * @throws NumberFormatException when {@code raw} is not of the key's type
     */
    @SuppressWarnings("unchecked")
    T parse(String raw) {
        String s = raw.trim();
        if (type == String.class) {
            return (T) s;
        }
        if (type == Integer.class) {
            return (T) Integer.valueOf(s);
        }
        if (type == Long.class) {
            return (T) Long.valueOf(s);
        }
        if (type == Boolean.class) {
            if (!s.equalsIgnoreCase("true") && !s.equalsIgnoreCase("false")) {
                throw new NumberFormatException(s);
            }
            return (T) Boolean.valueOf(s);
        }
        throw new IllegalStateException("Unsupported config type " + type);
    }
}

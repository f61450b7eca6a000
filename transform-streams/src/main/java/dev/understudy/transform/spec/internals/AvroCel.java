package dev.understudy.transform.spec.internals;

import com.google.protobuf.ByteString;
import dev.cel.common.types.CelKind;
import dev.cel.common.types.CelType;
import dev.cel.common.types.NullableType;
import dev.cel.common.types.SimpleType;
import dev.cel.common.values.CelByteString;
import dev.cel.common.values.NullValue;
import org.apache.avro.LogicalType;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.generic.GenericFixed;

import java.nio.ByteBuffer;
import java.util.Objects;
import java.util.Optional;

/**
 * The bridge between Avro row values and CEL values.
 *
 * <p>CEL has one integer type (int, 64-bit), one floating type (double), string, bool and bytes
 * (CEL language definition, "Values"). So Avro int and long, and the logical types stored in them
 * (date as days since the epoch, timestamp-micros and local-timestamp-micros as microseconds,
 * time-micros), all become CEL int; float and double become double; a decimal carried as text
 * (PostgreSQL numeric) stays a string. Source columns are declared as nullable (wrapper) types:
 * the CEL checker lets a wrapper type be compared with {@code null} and used where its primitive
 * is expected (CEL language definition, "Wrapper types"), which is what a nullable column is.
 */
public final class AvroCel {
    private AvroCel() {
    }

    /** The CEL primitive of an Avro field type (its non-null branch), or empty if CEL cannot carry it. */
    public static Optional<CelType> primitive(Schema fieldSchema) {
        Schema s = nonNull(fieldSchema);
        return switch (s.getType()) {
            case INT, LONG -> Optional.of(SimpleType.INT);
            case FLOAT, DOUBLE -> Optional.of(SimpleType.DOUBLE);
            case BOOLEAN -> Optional.of(SimpleType.BOOL);
            case STRING, ENUM -> Optional.of(SimpleType.STRING);
            case BYTES, FIXED -> Optional.of(SimpleType.BYTES);
            default -> Optional.empty();
        };
    }

    /** The declared type of a source column: the nullable form of its primitive. */
    public static Optional<CelType> variable(Schema fieldSchema) {
        return primitive(fieldSchema).map(NullableType::create);
    }

    /** An Avro value as CEL evaluates it; null becomes CEL's null value. */
    public static Object toCel(Object value) {
        if (value == null) {
            // A Java null in the activation reads as an unknown, not as CEL null; the runtime's
            // null is this constant.
            return NullValue.NULL_VALUE;
        }
        if (value instanceof Integer i) {
            return i.longValue();
        }
        if (value instanceof Float f) {
            return f.doubleValue();
        }
        if (value instanceof CharSequence || value instanceof GenericEnumSymbol<?>) {
            return value.toString();
        }
        // The default (non-CelValue) runtime binds bytes functions such as size() to protobuf's
        // ByteString; a CelByteString would match no overload.
        if (value instanceof ByteBuffer bb) {
            return ByteString.copyFrom(bb.duplicate());
        }
        if (value instanceof GenericFixed fixed) {
            return ByteString.copyFrom(fixed.bytes());
        }
        return value; // Long, Double, Boolean
    }

    public static boolean isCelNull(Object value) {
        return value == null || value instanceof NullValue || value instanceof com.google.protobuf.NullValue;
    }

    /**
     * A CEL result as a value of the Avro field type, or throws IllegalArgumentException naming
     * what did not fit. Integers are range-checked into Avro int (and dates).
     */
    public static Object toAvro(Object celValue, Schema fieldSchema, String what) {
        if (isCelNull(celValue)) {
            if (!isNullable(fieldSchema)) {
                throw new IllegalArgumentException(what + " is null, but the column is not nullable");
            }
            return null;
        }
        Schema s = nonNull(fieldSchema);
        switch (s.getType()) {
            case INT -> {
                if (celValue instanceof Long l && l >= Integer.MIN_VALUE && l <= Integer.MAX_VALUE) {
                    return l.intValue();
                }
            }
            case LONG -> {
                if (celValue instanceof Long l) {
                    return l;
                }
            }
            case FLOAT -> {
                if (celValue instanceof Double d) {
                    return d.floatValue();
                }
                if (celValue instanceof Long l) {
                    return l.floatValue();
                }
            }
            case DOUBLE -> {
                if (celValue instanceof Double d) {
                    return d;
                }
                if (celValue instanceof Long l) {
                    return l.doubleValue();
                }
            }
            case BOOLEAN -> {
                if (celValue instanceof Boolean b) {
                    return b;
                }
            }
            case STRING -> {
                if (celValue instanceof String str) {
                    return str;
                }
            }
            case BYTES -> {
                if (celValue instanceof CelByteString b) {
                    return ByteBuffer.wrap(b.toByteArray());
                }
                if (celValue instanceof ByteString b) {
                    return ByteBuffer.wrap(b.toByteArray());
                }
            }
            default -> {
            }
        }
        throw new IllegalArgumentException(what + " is " + celValue + " (" + celValue.getClass().getSimpleName()
                + "), which does not fit Avro " + describe(fieldSchema));
    }

    /**
     * A copied source value as a value of the target field type: text as String (decoders produce
     * Utf8), int widened to long, float to double. The types were checked to fit beforehand.
     */
    public static Object copy(Object value, Schema targetField, String what) {
        return value == null ? null : copy(value, nonNull(targetField), targetField, what);
    }

    /** As {@link #copy(Object, Schema, String)}, with {@code t} the target field's type without null, found once per column. */
    public static Object copy(Object value, Schema t, Schema targetField, String what) {
        if (value == null) {
            return null;
        }
        return switch (t.getType()) {
            case STRING -> value.toString();
            case LONG -> value instanceof Number n && !(value instanceof Float) && !(value instanceof Double) ? n.longValue() : mismatch(value, targetField, what);
            case INT -> value instanceof Integer ? value : mismatch(value, targetField, what);
            case DOUBLE -> value instanceof Number n ? n.doubleValue() : mismatch(value, targetField, what);
            case FLOAT -> value instanceof Float ? value : mismatch(value, targetField, what);
            case BOOLEAN -> value instanceof Boolean ? value : mismatch(value, targetField, what);
            case BYTES -> value instanceof ByteBuffer bb ? bb.duplicate()
                    : value instanceof GenericFixed f ? ByteBuffer.wrap(f.bytes().clone()) : mismatch(value, targetField, what);
            default -> value;
        };
    }

    private static Object mismatch(Object value, Schema targetField, String what) {
        throw new IllegalArgumentException(what + " holds " + value + " (" + value.getClass().getSimpleName()
                + "), which does not fit Avro " + describe(targetField));
    }

    /**
     * Whether a source column of Avro type {@code source} can be copied unchanged into a target
     * column of type {@code target}: same type and logical type, or a widening that loses nothing
     * (int to long, float to double, enum to string).
     */
    public static boolean copyFits(Schema source, Schema target) {
        Schema s = nonNull(source);
        Schema t = nonNull(target);
        String sl = logicalName(s);
        String tl = logicalName(t);
        if (s.getType() == t.getType() && Objects.equals(sl, tl)) {
            return true;
        }
        if (sl != null || tl != null) {
            return false;
        }
        return (s.getType() == Schema.Type.INT && t.getType() == Schema.Type.LONG)
                || (s.getType() == Schema.Type.FLOAT && t.getType() == Schema.Type.DOUBLE)
                || (s.getType() == Schema.Type.ENUM && t.getType() == Schema.Type.STRING)
                || (s.getType() == Schema.Type.FIXED && t.getType() == Schema.Type.BYTES);
    }

    /** Whether a CEL result type can be stored in the Avro field: same primitive, int into a floating column, null into a nullable one; dyn is checked per row. */
    public static boolean resultFits(CelType result, Schema fieldSchema) {
        if (result.kind() == CelKind.DYN || result.kind() == CelKind.ANY) {
            return true;
        }
        if (result.kind() == CelKind.NULL_TYPE) {
            return isNullable(fieldSchema);
        }
        Optional<CelType> target = primitive(fieldSchema);
        if (target.isEmpty()) {
            return false;
        }
        // A nullable (wrapper) result reports the kind of its primitive.
        CelKind k = result.kind();
        return k == target.get().kind() || (k == CelKind.INT && target.get().kind() == CelKind.DOUBLE);
    }

    /** How a CEL type reads in messages: wrapper types as "string or null". */
    public static String describe(CelType type) {
        if (type instanceof NullableType n) {
            return n.targetType().name() + " or null";
        }
        return type.name();
    }

    /** How an Avro field type reads in messages, e.g. "int (date), nullable". */
    public static String describe(Schema fieldSchema) {
        Schema s = nonNull(fieldSchema);
        String base = s.getType().getName();
        String logical = logicalName(s);
        return base + (logical == null ? "" : " (" + logical + ")") + (isNullable(fieldSchema) ? ", nullable" : "");
    }

    public static String logicalName(Schema s) {
        LogicalType lt = s.getLogicalType();
        return lt == null ? null : lt.getName();
    }

    public static boolean isNullable(Schema fieldSchema) {
        if (fieldSchema.getType() == Schema.Type.NULL) {
            return true;
        }
        return fieldSchema.getType() == Schema.Type.UNION
                && fieldSchema.getTypes().stream().anyMatch(t -> t.getType() == Schema.Type.NULL);
    }

    public static Schema nonNull(Schema schema) {
        if (schema.getType() != Schema.Type.UNION) {
            return schema;
        }
        for (Schema s : schema.getTypes()) {
            if (s.getType() != Schema.Type.NULL) {
                return s;
            }
        }
        return schema;
    }
}

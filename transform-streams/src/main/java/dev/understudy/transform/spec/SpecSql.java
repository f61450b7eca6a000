package dev.understudy.transform.spec;

import java.util.HashMap;
import java.sql.SQLException;
import java.sql.ResultSet;
import java.sql.PreparedStatement;
import java.sql.Connection;
import dev.understudy.schemas.SqlNames;
import dev.understudy.transform.spec.internals.Casts;
import dev.understudy.transform.spec.internals.SpecModel;
import org.apache.avro.LogicalType;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.regex.Pattern;

/**
 * A spec target as SQL over the legacy database: the rows the target table should hold, computed by
 * PostgreSQL from the legacy tables, independently of the pipeline. Every value is cast to the target
 * column's type, so that its text ({@code ::text}, with the session's TimeZone fixed) is the text
 * the target column gives for the same value; a checksum of that text on each side compares rows.
 * <p>
 * Covered: copies and renames ({@code column:}, joined columns included), constants ({@code default:}),
 * casts to int, long, double, boolean, string and date, expressions that only name a column, and the
 * join (an inner join, as the pipeline's foreign-key join). Not covered, with a
 * {@link NotTranslatable} that names the column: other CEL expressions and filters, which
 * SQL cannot evaluate the same way; casts with {@code onFailure} semantics SQL has no equivalent for are
 * translated only where a failing cast cannot occur.
 */
public final class SpecSql {
    /** A CEL identifier, optionally qualified by a join alias (CEL spec, "Syntax": {@code [_a-zA-Z][_a-zA-Z0-9]*}). */
    private static final Pattern REFERENCE = Pattern.compile("[_a-zA-Z][_a-zA-Z0-9]*(\\.[_a-zA-Z][_a-zA-Z0-9]*)?");

    /**
     * The legacy side of a target.
     *
     * @param from     the FROM clause: the driving table as {@code s}, joined to {@code j} for a join
     * @param keys     SQL of each key field, in key order, cast to the target column's type
     * @param rawKeys  the key columns themselves, uncast, for range predicates an index can serve
     *                 (keys are always copied columns of the driving table)
     * @param fields   contract field names, in contract order
     * @param values   SQL of each field, same order, cast to the target column's type
     */
    public record Projection(String from, List<String> keyFields, List<String> keys, List<String> rawKeys, List<String> fields,
                             List<String> values) {
    }

    /** A spec feature SQL cannot compute the way the migration does; the message names the column and what to do. */
    public static final class NotTranslatable extends IllegalArgumentException {
        NotTranslatable(String message) {
            super(message);
        }
    }

    private SpecSql() {
    }

    /**
     * @param targetTypes the target table's column types as PostgreSQL writes them ({@code format_type}), by column name
     * @throws NotTranslatable naming the spec column that SQL cannot compute the same way
     */
    public static Projection legacy(SpecTableMapping mapping, Map<String, String> targetTypes) {
        SpecModel.Target t = mapping.model();
        String where = "target '" + t.name() + "' (" + t.table() + ")";
        if (t.filter() != null) {
            throw new NotTranslatable(where + " has a filter (" + t.filter().text() + "), a CEL expression that is"
                    + " not translated to SQL; it cannot be verified against the legacy database yet");
        }
        String from = qualified(t.sourceTable()) + " s";
        if (t.join() != null) {
            from += " JOIN " + qualified(t.join().table()) + " j ON j." + quote(t.join().referencedColumn()) + " = s." + quote(t.join().foreignKey());
        }
        List<String> fields = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (SpecModel.Column c : t.columns().values()) {
            String type = typeOf(targetTypes, c.field(), t.table());
            fields.add(c.field());
            values.add("(" + value(t, c, type, where) + ")::" + type);
        }
        List<String> keys = new ArrayList<>();
        List<String> rawKeys = new ArrayList<>();
        for (String k : t.key()) {
            keys.add(values.get(fields.indexOf(k)));
            rawKeys.add(column(t, ((SpecModel.Copy) t.columns().get(k)).column()));
        }
        return new Projection(from, List.copyOf(t.key()), keys, rawKeys, fields, values);
    }

    /** The target side: the target table's own columns, for the same fields. */
    public static Projection target(SpecTableMapping mapping) {
        SpecModel.Target t = mapping.model();
        List<String> fields = new ArrayList<>(t.columns().keySet());
        List<String> values = fields.stream().map(f -> "t." + quote(f)).toList();
        List<String> keys = t.key().stream().map(k -> "t." + quote(k)).toList();
        return new Projection(qualified(t.table()) + " t", List.copyOf(t.key()), keys, keys, fields, values);
    }

    private static String value(SpecModel.Target t, SpecModel.Column c, String type, String where) {
        if (c instanceof SpecModel.Copy copy) {
            return column(t, copy.column());
        }
        if (c instanceof SpecModel.Expression e) {
            String text = e.text().strip();
            if (REFERENCE.matcher(text).matches() && (!text.contains(".") || (t.join() != null && text.startsWith(t.join().alias() + ".")))) {
                return column(t, text);
            }
            throw new NotTranslatable(where + ", column '" + c.field() + "': the expression '" + e.text()
                    + "' is CEL that is not translated to SQL (only a plain column reference is); this target cannot be verified"
                    + " against the legacy database yet");
        }
        if (c instanceof SpecModel.Constant constant) {
            return literal(constant.value(), t.contract().getField(c.field()).schema(), type, where + ", column '" + c.field() + "'");
        }
        SpecModel.Cast cast = (SpecModel.Cast) c;
        String source = column(t, cast.column());
        return switch (cast.to()) {
            case STRING -> source + "::text";
            case INT, LONG, DOUBLE, FLOAT, BOOLEAN, DATE -> {
                if (cast.onFailure() != Casts.OnFailure.FAIL) {
                    throw new NotTranslatable(where + ", column '" + c.field() + "': a cast to " + cast.to().spec
                            + " with onFailure " + cast.onFailure().spec + " has no SQL equivalent (a failing cast in SQL fails the"
                            + " whole query); this target cannot be verified against the legacy database yet");
                }
                yield "btrim(" + source + "::text)";
            }
            default -> throw new NotTranslatable(where + ", column '" + c.field() + "': a cast to " + cast.to().spec
                    + " is not translated to SQL; this target cannot be verified against the legacy database yet");
        };
    }

    private static String column(SpecModel.Target t, String reference) {
        if (t.isJoined(reference)) {
            return "j." + quote(t.join().column(reference));
        }
        return "s." + quote(reference);
    }

    private static String literal(Object value, Schema fieldSchema, String type, String where) {
        if (value == null) {
            return "NULL";
        }
        Schema s = fieldSchema;
        if (s.getType() == Schema.Type.UNION) {
            s = s.getTypes().stream().filter(x -> x.getType() != Schema.Type.NULL).findFirst().orElse(s);
        }
        LogicalType logical = s.getLogicalType();
        if (logical instanceof LogicalTypes.Date) {
            return "(DATE '1970-01-01' + " + ((Number) value).intValue() + ")";
        }
        if (logical instanceof LogicalTypes.TimestampMicros) {
            return "(TIMESTAMPTZ 'epoch' + " + ((Number) value).longValue() + " * INTERVAL '1 microsecond')";
        }
        if (logical instanceof LogicalTypes.TimestampMillis) {
            return "(TIMESTAMPTZ 'epoch' + " + ((Number) value).longValue() + " * INTERVAL '1 millisecond')";
        }
        if (logical == null && (value instanceof Number || value instanceof Boolean)) {
            return value.toString();
        }
        if (logical == null && value instanceof CharSequence text) {
            return "'" + text.toString().replace("'", "''") + "'";
        }
        throw new NotTranslatable(where + ": the default " + value + " (" + s + ") is not translated to SQL;"
                + " this target cannot be verified against the legacy database yet");
    }

    private static String typeOf(Map<String, String> targetTypes, String column, String table) {
        String type = targetTypes.get(column);
        if (type == null) {
            throw new IllegalArgumentException("Target table " + table + " has no column '" + column + "', which the spec writes;"
                    + " run the target's Flyway migrations for this spec first");
        }
        return type;
    }

    /** {@code schema.table} quoted part by part. */
    public static String qualified(String table) {
        return SqlNames.qualified(table);
    }

    public static String quote(String identifier) {
        return SqlNames.quote(identifier);
    }

    /** The target table's column types as PostgreSQL writes them ({@code format_type}), by column name; commits the read. */
    public static Map<String, String> targetTypes(Connection target, String table) throws SQLException {
        Map<String, String> types = new HashMap<>();
        try (PreparedStatement ps = target.prepareStatement("SELECT a.attname, format_type(a.atttypid, a.atttypmod) FROM pg_attribute a "
                + "WHERE a.attrelid = to_regclass(?) AND a.attnum > 0 AND NOT a.attisdropped")) {
            ps.setString(1, qualified(table));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    types.put(rs.getString(1), rs.getString(2));
                }
            }
        }
        if (!target.getAutoCommit()) {
            target.commit();
        }
        if (types.isEmpty()) {
            throw new IllegalStateException("Target table " + table + " does not exist; run the pipeline (or its Flyway migrations) first");
        }
        return types;
    }
}

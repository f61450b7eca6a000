package dev.understudy.transform.internals;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;

/**
 * Field access on legacy rows that fails with a message naming the table and column, instead of
 * silently reading null: a column dropped or renamed in the legacy schema must stop the mapping,
 * not turn into nulls in the target.
 */
public final class Rows {
    private Rows() {
    }

    /** The value of {@code column} in {@code row}, possibly null; fails when the row has no such column. */
    public static Object get(GenericRecord row, String table, String column) {
        Schema.Field f = row.getSchema().getField(column);
        if (f == null) {
            throw new IllegalArgumentException("Row of " + table + " (Avro " + row.getSchema().getFullName()
                    + ") has no column '" + column + "'; its columns are " + columnNames(row.getSchema())
                    + ". Update the table mapping if the legacy schema changed.");
        }
        return row.get(f.pos());
    }

    /** A non-null long column (key columns); accepts any integral Avro number. */
    public static long requiredLong(GenericRecord row, String table, String column) {
        Object v = get(row, table, column);
        if (v == null) {
            throw new IllegalArgumentException("Column '" + column + "' of " + table + " is null; it is a key column and must have a value");
        }
        return asLong(v, table, column);
    }

    /** A nullable long column (timestamps in micros, bigints). */
    public static Long optionalLong(GenericRecord row, String table, String column) {
        Object v = get(row, table, column);
        return v == null ? null : asLong(v, table, column);
    }

    /** A nullable text column, as a String whatever the decoder produced (Avro Utf8 or String). */
    public static String optionalString(GenericRecord row, String table, String column) {
        Object v = get(row, table, column);
        if (v == null) {
            return null;
        }
        if (v instanceof CharSequence cs) {
            return cs.toString();
        }
        throw new IllegalArgumentException("Column '" + column + "' of " + table + " holds a " + v.getClass().getSimpleName()
                + ", expected text");
    }

    private static long asLong(Object v, String table, String column) {
        if (v instanceof Long || v instanceof Integer || v instanceof Short || v instanceof Byte) {
            return ((Number) v).longValue();
        }
        throw new IllegalArgumentException("Column '" + column + "' of " + table + " holds a " + v.getClass().getSimpleName()
                + " (" + v + "), expected an integral number");
    }

    private static String columnNames(Schema schema) {
        return schema.getFields().stream().map(Schema.Field::name).toList().toString();
    }
}

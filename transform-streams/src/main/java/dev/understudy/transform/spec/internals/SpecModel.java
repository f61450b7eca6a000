package dev.understudy.transform.spec.internals;

import org.apache.avro.Schema;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;

/** A parsed migration spec; every element keeps the key path and line it was read from. */
public final class SpecModel {
    private SpecModel() {
    }

    public record Spec(Path file, String migration, String flyway, Map<String, Source> sources, List<Target> targets) {
    }

    public record Source(String alias, String path, int line, String table) {
    }

    /**
     * A target table. {@code sourceTable} is the legacy table of {@code from}; {@code filter} may be null.
     * {@code columns} is in contract field order.
     */
    public record Target(String name, String path, int line, String table, String from, int fromLine, String sourceTable,
                         String contractName, Schema contract, List<String> key, int keyLine,
                         Expression filter, Map<String, Column> columns, Join join) {
        /** Whether a source column reference ({@code column:} or {@code cast.column}) names the joined row's column. */
        public boolean isJoined(String column) {
            return join != null && column.startsWith(join.alias() + ".");
        }
    }

    /**
     * {@code join: { <alias>: { source: <source alias>, on: { <fk column>: <referenced key column> } } }}:
     * the target's rows also read one row of another legacy table, found through a foreign key of
     * the driving ({@code from}) row that references that table's whole primary key.
     */
    public record Join(String alias, String path, int line, String source, String table, String foreignKey,
                       String referencedColumn, int onLine) {
        /** The joined table's column named by {@code alias.column}. */
        public String column(String reference) {
            return reference.substring(alias.length() + 1);
        }
    }

    /** Where a target column's value comes from. */
    public sealed interface Column permits Copy, Constant, Expression, Cast {
        /** The target (contract) field; null for a filter. */
        String field();

        String path();

        int line();
    }

    /** {@code column: x}: the source column's value, copied (renamed when the names differ). */
    public record Copy(String field, String path, int line, String column) implements Column {
    }

    /** {@code default: v}: the same value on every row (already converted to the field's Avro type). */
    public record Constant(String field, String path, int line, Object value) implements Column {
    }

    /** {@code expression: "..."} (or a target's {@code filter}): CEL over the source row's columns. */
    public record Expression(String field, String path, int line, String text) implements Column {
    }

    /** {@code cast: {column, to, onFailure}}: a source column converted to another type. */
    public record Cast(String field, String path, int line, String column, Casts.To to, Casts.OnFailure onFailure)
            implements Column {
    }

    /** The source columns a target reads by name (copies and casts), with where each is named. */
    public static List<Column> columnReads(Target target) {
        return target.columns().values().stream().filter(c -> c instanceof Copy || c instanceof Cast).toList();
    }

    public static String readColumn(Column c) {
        return c instanceof Copy copy ? copy.column() : c instanceof Cast cast ? cast.column() : null;
    }
}

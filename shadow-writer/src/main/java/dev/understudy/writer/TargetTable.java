package dev.understudy.writer;

import dev.understudy.schemas.AvroNames;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A target table as the catalog describes it: its name as stored, its columns (with the types the
 * writer casts its text values to) and its primary key. Read once per writer connection.
 */
record TargetTable(String qualifiedName, String quotedName, List<TargetTable.Column> columns, Map<String, TargetTable.Column> byName,
                   List<TargetTable.Column> primaryKey) {
    /**
     * A column as the catalog describes it.
     *
     * @param type     {@code format_type(atttypid, atttypmod)}, e.g. {@code character varying(20)}
     * @param castType {@code format_type(atttypid, -1)}: the type without modifiers, used in casts.
     *                 An explicit cast to {@code varchar(n)} or {@code char(n)} silently truncates
     *                 (PostgreSQL docs, "Character Types"), whereas storing an unbounded value into
     *                 the column applies the modifier as an assignment cast, which raises 22001 for an
     *                 over-long value; so the cast must not carry the modifier. Passing -1 rather than
     *                 NULL makes format_type print {@code bpchar} rather than {@code character}, which
     *                 would mean {@code character(1)}.
     */
    record Column(String name, String type, String castType, boolean generated, boolean identityAlways) {
    }

    /** A relation found in the catalog: its oid, and its schema and name as stored. */
    private record Found(long oid, String schema, String name) {
    }

    private static final String FIND = "SELECT c.oid, n.nspname, c.relname FROM pg_class c "
            + "JOIN pg_namespace n ON n.oid = c.relnamespace WHERE c.relkind IN ('r', 'p') AND ";

    /** The table or partitioned table matching {@code condition} (after {@link #FIND}), or null. */
    private static Found find(Connection c, String condition, String... parameters) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement(FIND + condition)) {
            for (int i = 0; i < parameters.length; i++) {
                ps.setString(i + 1, parameters[i]);
            }
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? new Found(rs.getLong(1), rs.getString(2), rs.getString(3)) : null;
            }
        }
    }

    static TargetTable load(Connection c, String table) throws SQLException {
        int dot = table.indexOf('.');
        String wantedSchema = dot < 0 ? "public" : table.substring(0, dot);
        String wantedName = dot < 0 ? table : table.substring(dot + 1);
        // Exact names first (as stored in the catalog); then PostgreSQL's own parsing of the
        // name, for a quoted or case-folded spelling.
        Found found = find(c, "n.nspname = ? AND c.relname = ?", wantedSchema, wantedName);
        if (found == null) {
            // A savepoint, because an unparsable name may raise 42601/42602 rather than return
            // NULL, and that must not abort the caller's transaction.
            Savepoint sp = c.getAutoCommit() ? null : c.setSavepoint();
            try {
                found = find(c, "c.oid = to_regclass(?)", table);
                if (sp != null) {
                    c.releaseSavepoint(sp);
                }
            } catch (SQLException e) {
                if (!"42601".equals(e.getSQLState()) && !"42602".equals(e.getSQLState())) {
                    throw e;
                }
                if (sp != null) {
                    c.rollback(sp);
                }
            }
        }
        if (found == null) {
            throw new TableMappingException("Target table " + table + " does not exist (looked for schema '" + wantedSchema
                    + "', table '" + wantedName + "'). Run the target migrations first, or fix the topic-to-table mapping");
        }
        long oid = found.oid();
        String schema = found.schema();
        String name = found.name();
        String qualified = schema + "." + name;

        List<Column> columns = new ArrayList<>();
        Map<String, Column> byName = new LinkedHashMap<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
                + "format_type(a.atttypid, -1), a.attgenerated <> '', a.attidentity = 'a' FROM pg_attribute a "
                + "WHERE a.attrelid = ?::oid AND a.attnum > 0 AND NOT a.attisdropped ORDER BY a.attnum")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    Column col = new Column(rs.getString(1), rs.getString(2), rs.getString(3), rs.getBoolean(4), rs.getBoolean(5));
                    columns.add(col);
                    byName.put(col.name(), col);
                }
            }
        }
        List<Column> primaryKey = new ArrayList<>();
        try (PreparedStatement ps = c.prepareStatement("SELECT a.attname FROM pg_index i "
                + "CROSS JOIN LATERAL unnest(i.indkey) WITH ORDINALITY AS k(attnum, ord) "
                + "JOIN pg_attribute a ON a.attrelid = i.indrelid AND a.attnum = k.attnum "
                + "WHERE i.indrelid = ?::oid AND i.indisprimary ORDER BY k.ord")) {
            ps.setLong(1, oid);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    primaryKey.add(byName.get(rs.getString(1)));
                }
            }
        }
        if (primaryKey.isEmpty()) {
            throw new TableMappingException("Target table " + qualified + " has no primary key. The writer upserts with "
                    + "ON CONFLICT on the primary key and keys its bookkeeping by it; add one "
                    + "(ALTER TABLE " + TableApplier.quote(schema) + "." + TableApplier.quote(name) + " ADD PRIMARY KEY (...)) and restart");
        }
        return new TargetTable(qualified, TableApplier.quote(schema) + "." + TableApplier.quote(name), List.copyOf(columns),
                Collections.unmodifiableMap(byName), List.copyOf(primaryKey));
    }

    /**
     * The column a field writes to: the column of the same name, else the one whose name
     * sanitized to an Avro name (AvroNames.sanitize, as the capture does) equals the field's.
     */
    Column columnFor(String field) {
        Column exact = byName.get(field);
        if (exact != null) {
            return exact;
        }
        Column match = null;
        for (Column col : columns) {
            if (AvroNames.sanitize(col.name()).equals(field)) {
                if (match != null) {
                    return null;
                }
                match = col;
            }
        }
        return match;
    }
}

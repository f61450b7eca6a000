package dev.understudy.writer;

import dev.understudy.schemas.ChangeOrder;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.IdentityHashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;
import java.util.stream.Collectors;

/**
 * Applies decoded changes to one target table with plain JDBC, idempotently and never backwards.
 * <p>
 * Idempotence and ordering rest on a bookkeeping table, {@value #BOOKKEEPING_TABLE}, holding for
 * every key ever written the generation and version of its last applied change and whether that
 * change was a delete. A change is applied only when its (generation, version, joined version) is
 * above the stored one ({@link ChangeOrder}: a later spec generation replaces the rows
 * of an earlier one, see {@code ChangeHeaders.GENERATION}; the joined version orders a join's
 * results of one driving-row state, see {@code ChangeHeaders.JOINED_VERSION}), so
 * <ul>
 *   <li>replaying a record changes nothing (its version equals the stored one);</li>
 *   <li>an older change never overwrites a newer row, and an older delete never removes it;</li>
 *   <li>a replayed older insert does not resurrect a deleted row: the delete left a tombstone
 *   version behind, even though the row itself is gone.</li>
 * </ul>
 * The bookkeeping rows are written in the same transaction as the target rows, so both commit or
 * neither does, and the writer may commit Kafka offsets after the database without risking loss:
 * records re-read after a crash between the two commits are simply stale.
 * <p>
 * Each batch costs a fixed number of statements whatever its size: one guard query, one bookkeeping
 * upsert, one upsert per value schema (normally one) and one delete, each taking its rows as
 * {@code text[]} arrays expanded by {@code unnest}. Values travel as text and are cast server-side
 * to the column's type, so every type with a text input function works without per-type JDBC code.
 * <p>
 * The caller owns the transaction: the connection must have auto-commit off, and the caller
 * commits or rolls back after {@link #apply}. Not thread-safe: use one instance per writer thread.
 */
public final class TableApplier {
    private static final Logger log = LoggerFactory.getLogger(TableApplier.class);

    /** The bookkeeping table; its DDL is in {@link BookkeepingTables}. */
    static final String BOOKKEEPING_TABLE = BookkeepingTables.ROW_VERSION;

    /**
     * Locks the bookkeeping rows of the batch's keys, so that a second writer (for instance the new
     * owner of a partition during a rebalance) working on the same keys waits for this transaction
     * instead of both deciding against the same stored version. Sorting takes the locks in one
     * order across writers, which keeps two writers of overlapping batches from deadlocking.
     */
    private static final String GUARD_SQL = guardSql("?");

    /**
     * Records the versions of the kept changes. The guard query cannot lock a key that has no
     * bookkeeping row yet, so two writers may both see it as new; ON CONFLICT DO UPDATE makes the
     * second wait for the first's row and then re-evaluates the WHERE against it (PostgreSQL INSERT
     * docs, "ON CONFLICT Clause": the update is applied to the latest version of the conflicting row
     * under READ COMMITTED). RETURNING lists only the rows inserted or updated, so it names exactly
     * the changes that won and must be written to the target.
     */
    private static final String VERSION_UPSERT_SQL = versionUpsertSql("unnest(?::text[], ?::bigint[], ?::bigint[], ?::bigint[], ?::bigint[], ?::boolean[]) "
            + "AS u(pk, lineage, generation, version, joined_version, deleted)");

    /** {@link #GUARD_SQL} over the keys of {@code keys}, a {@code text[]} expression: {@code ?} is the batch's. */
    static String guardSql(String keys) {
        return "SELECT pk, lineage, version, joined_version, generation, deleted FROM " + BOOKKEEPING_TABLE
                + " WHERE table_name = ? AND pk = ANY(" + keys + ") ORDER BY pk FOR UPDATE";
    }

    /**
     * {@link #VERSION_UPSERT_SQL} over the rows of {@code rows}, a FROM item named {@code u} with columns
     * pk, lineage, generation, version, joined_version and deleted: the batch's arrays expanded by unnest.
     */
    static String versionUpsertSql(String rows) {
        return "INSERT INTO " + BOOKKEEPING_TABLE
                + " AS rv (table_name, pk, lineage, generation, version, joined_version, deleted) "
                + "SELECT ?, u.pk, u.lineage, u.generation, u.version, u.joined_version, u.deleted "
                + "FROM " + rows + " "
                + "ON CONFLICT (table_name, pk) DO UPDATE SET lineage = EXCLUDED.lineage, generation = EXCLUDED.generation, "
                + "version = EXCLUDED.version, joined_version = EXCLUDED.joined_version, deleted = EXCLUDED.deleted "
                // Row comparison: by lineage, version, joined version, generation, then a row before a
                // tombstone (false < true; PostgreSQL docs, "Row Constructor Comparison"): ChangeOrder.
                + "WHERE (rv.lineage, rv.version, rv.joined_version, rv.generation, NOT rv.deleted) "
                + "< (EXCLUDED.lineage, EXCLUDED.version, EXCLUDED.joined_version, EXCLUDED.generation, NOT EXCLUDED.deleted) "
                + "RETURNING rv.pk";
    }

    private final String requestedTable;
    private TargetTable catalog;
    private final Map<Schema, KeyPlan> keyPlans = new HashMap<>();
    private final Map<KeyPlan, Map<Schema, UpsertPlan>> upsertPlans = new IdentityHashMap<>();

    /**
     * Reads the table's columns and primary key from the catalog and creates the bookkeeping table
     * if it is missing. With auto-commit off the caller commits afterwards.
     *
     * @param table the target table as {@code schema.table} (or {@code table} in {@code public}),
     *              spelled as stored in the catalog; a quoted or mixed-case SQL spelling is also accepted
     * @throws TableMappingException when the table does not exist or has no primary key
     */
    public TableApplier(Connection c, String table) throws SQLException {
        this.requestedTable = Objects.requireNonNull(table, "table");
        BookkeepingTables.ensureRowVersion(c);
        this.catalog = TargetTable.load(c, table);
    }

    /** The table as {@code schema.table}, as named in the catalog and in the bookkeeping table. */
    public String table() {
        return catalog.qualifiedName();
    }

    /** TargetTable.Column names in table order. */
    public List<String> columns() {
        return catalog.columns().stream().map(TargetTable.Column::name).toList();
    }

    /** Primary-key column names in key order. */
    public List<String> primaryKey() {
        return catalog.primaryKey().stream().map(TargetTable.Column::name).toList();
    }

    /** TargetTable.Column type as PostgreSQL spells it, with modifiers, e.g. {@code character varying(20)}; null for an unknown column. */
    public String columnType(String column) {
        TargetTable.Column col = catalog.byName().get(column);
        return col == null ? null : col.type();
    }

    /**
     * Checks that records with these schemas map onto the table: every key field to a primary-key
     * column and back, every value field to a writable column. {@link #apply} does this for every
     * schema it meets; calling it up front fails earlier.
     *
     * @param valueSchema null to check the key only
     * @throws TableMappingException naming the field and the fix
     */
    public void validate(Connection c, Schema keySchema, Schema valueSchema) throws SQLException {
        KeyPlan keyPlan = keyPlan(c, keySchema);
        if (valueSchema != null) {
            upsertPlan(c, keyPlan, valueSchema);
        }
    }

    /**
     * Applies a batch of changes in the caller's transaction.
     * <ol>
     *   <li>The batch collapses to one change per key: the highest version, the later one on a tie.
     *   The batch arrives in Kafka order and a key always lands in the same partition, so for a key
     *   this is normally its last change; taking the highest version keeps an older change that arrives
     *   late in the partition (such as a re-read snapshot row, version 0) from hiding a newer one in
     *   the same batch. Collapsing also keeps every key once per statement, which ON CONFLICT DO UPDATE
     *   requires (it fails with 21000 "cannot affect row a second time" otherwise).</li>
     *   <li>Changes at or below the stored version are dropped as stale.</li>
     *   <li>The versions of the rest are recorded, then the rows are upserted and deleted.</li>
     * </ol>
     * When a statement fails with a permanent, row-dependent error (SQLSTATE class 22 data exception,
     * 23 integrity constraint violation, ...), the batch is rolled back to a savepoint taken before it
     * and the changes are applied one at a time, each in its own savepoint; a change that fails again
     * becomes a dead letter and the others still land. Retriable errors, and permanent errors that
     * every row would hit alike ({@link SqlErrorClassifier#affectsEveryRow}), propagate with the
     * transaction left for the caller to roll back.
     *
     * @throws TableMappingException when a record's schema does not fit the table
     * @throws SQLException          on a retriable or statement-level database error
     */
    public ApplyResult apply(Connection c, List<RowChange> batch) throws SQLException {
        if (batch.isEmpty()) {
            return ApplyResult.EMPTY;
        }
        if (c.getAutoCommit()) {
            throw new IllegalStateException("TableApplier for " + table() + " needs a connection with auto-commit off: "
                    + "the caller owns the transaction, and savepoints isolate failing rows within it");
        }
        Map<String, RowChange> latest = new LinkedHashMap<>(batch.size() * 2);
        for (RowChange change : batch) {
            String pk = change.keyJson();
            RowChange previous = latest.get(pk);
            if (previous == null || change.order().compareTo(previous.order()) >= 0) {
                latest.put(pk, change);
            }
        }
        int superseded = batch.size() - latest.size();

        List<DeadLetter> deadLetters = new ArrayList<>();
        List<Prepared> rows = prepareAll(c, latest, deadLetters);
        if (rows.isEmpty()) {
            return new ApplyResult(0, 0, 0, superseded, deadLetters);
        }

        boolean catalogChecked = false;
        while (true) {
            Savepoint beforeBatch = c.setSavepoint();
            SQLException failed;
            try {
                Outcome o = write(c, rows);
                c.releaseSavepoint(beforeBatch);
                return new ApplyResult(o.upserted, o.deleted, o.stale, superseded, deadLetters);
            } catch (SQLException e) {
                if (!isRowLevel(e)) {
                    throw e;
                }
                c.rollback(beforeBatch);
                failed = e;
            }
            // The statements cast to the column types read when they were built. A column changed since
            // (widened to take the values that overflowed, say, before a dead-letter replay) would keep
            // failing with the old cast: read the table again once, and rebuild if it changed.
            if (!catalogChecked) {
                catalogChecked = true;
                if (refreshCatalog(c)) {
                    deadLetters.clear();
                    rows = prepareAll(c, latest, deadLetters);
                    if (rows.isEmpty()) {
                        return new ApplyResult(0, 0, 0, superseded, deadLetters);
                    }
                    continue;
                }
            }
            log.warn("A batch of {} changes to {} failed with SQLSTATE {} ({}); applying them one at a time to isolate the failing rows",
                    rows.size(), table(), SqlErrorClassifier.sqlState(failed), firstLine(failed.getMessage()));
            break;
        }

        // One savepoint per change: each becomes a subtransaction, which costs more than the batch
        // path but only runs for a batch that already failed.
        int upserted = 0;
        int deleted = 0;
        int stale = 0;
        for (Prepared p : rows) {
            Savepoint one = c.setSavepoint();
            try {
                Outcome o = write(c, List.of(p));
                c.releaseSavepoint(one);
                upserted += o.upserted;
                deleted += o.deleted;
                stale += o.stale;
            } catch (SQLException e) {
                if (!isRowLevel(e)) {
                    throw e;
                }
                c.rollback(one);
                String state = SqlErrorClassifier.sqlState(e);
                DeadLetter dl = DeadLetter.of(p.change, state, "The target database refused the "
                        + (p.change.isDelete() ? "delete" : "upsert") + " of " + table() + " key " + p.pk
                        + " (SQLSTATE " + state + "): " + e.getMessage()
                        + " -- fix the row or the target table, then replay the record from the dead-letter topic");
                deadLetters.add(dl);
                log.warn("Dead-lettering change to {} key {} from {} version {} (SQLSTATE {}): {}", table(), p.pk,
                        p.change.coordinates(), p.change.version(), state, firstLine(e.getMessage()));
            }
        }
        return new ApplyResult(upserted, deleted, stale, superseded, deadLetters);
    }

    /** Prepares the newest change of each key, in key order (see below); conversion failures become dead letters. */
    private List<Prepared> prepareAll(Connection c, Map<String, RowChange> latest, List<DeadLetter> deadLetters) throws SQLException {
        List<Prepared> rows = new ArrayList<>(latest.size());
        for (Map.Entry<String, RowChange> e : latest.entrySet()) {
            Prepared p = prepare(c, e.getValue(), e.getKey(), deadLetters);
            if (p != null) {
                rows.add(p);
            }
        }
        // Key order for every statement: two writers touching overlapping keys (a rebalance hand-over)
        // then lock bookkeeping rows and insert index entries in the same order, which avoids most
        // deadlocks; any remaining one is 40P01, retriable.
        rows.sort(Comparator.comparing(Prepared::pk));
        return rows;
    }

    private static boolean isRowLevel(SQLException e) {
        return SqlErrorClassifier.classify(e) == SqlErrorClassifier.Kind.PERMANENT && !SqlErrorClassifier.affectsEveryRow(e);
    }

    /** Renders a change's values as text; a value that cannot be rendered dead-letters the change. */
    private Prepared prepare(Connection c, RowChange change, String pk, List<DeadLetter> deadLetters) throws SQLException {
        KeyPlan keyPlan = keyPlan(c, change.key().getSchema());
        UpsertPlan upsertPlan = change.isDelete() ? null : upsertPlan(c, keyPlan, change.value().getSchema());
        String[] keyTexts;
        String[] values = null;
        try {
            keyTexts = keyPlan.render(change.key());
            if (upsertPlan != null) {
                values = upsertPlan.render(change.key(), change.value());
            }
        } catch (RenderException e) {
            deadLetters.add(DeadLetter.of(change, null, "Cannot convert " + e.getMessage() + " for " + table() + " key " + pk
                    + "; fix the transform's output for this field, then replay the record from the dead-letter topic"));
            log.warn("Dead-lettering change to {} key {} from {}: cannot convert {}", table(), pk, change.coordinates(), e.getMessage());
            return null;
        }
        return new Prepared(change, pk, keyTexts, keyPlan, values, upsertPlan);
    }

    /** Guard, bookkeeping, upserts, deletes; one statement each (one upsert per value schema). */
    private Outcome write(Connection c, List<Prepared> rows) throws SQLException {
        String[] pks = new String[rows.size()];
        for (int i = 0; i < pks.length; i++) {
            pks[i] = rows.get(i).pk;
        }
        Map<String, ChangeOrder> stored = new HashMap<>();
        try (PreparedStatement ps = c.prepareStatement(GUARD_SQL)) {
            ps.setString(1, table());
            ps.setArray(2, c.createArrayOf("text", pks));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    stored.put(rs.getString(1), new ChangeOrder(rs.getLong(2), rs.getLong(3), rs.getLong(4), rs.getLong(5), rs.getBoolean(6)));
                }
            }
        }
        List<Prepared> fresh = new ArrayList<>(rows.size());
        for (Prepared p : rows) {
            ChangeOrder order = stored.get(p.pk);
            if (order == null || p.change.order().isAfter(order)) {
                fresh.add(p);
            }
        }
        if (fresh.isEmpty()) {
            return new Outcome(0, 0, rows.size());
        }

        String[] freshPks = new String[fresh.size()];
        Long[] versions = new Long[fresh.size()];
        Long[] joinedVersions = new Long[fresh.size()];
        Long[] generations = new Long[fresh.size()];
        Long[] lineages = new Long[fresh.size()];
        Boolean[] deletes = new Boolean[fresh.size()];
        for (int i = 0; i < fresh.size(); i++) {
            Prepared p = fresh.get(i);
            freshPks[i] = p.pk;
            versions[i] = p.change.version();
            joinedVersions[i] = p.change.joinedVersion();
            generations[i] = p.change.generation();
            lineages[i] = p.change.lineage();
            deletes[i] = p.change.isDelete();
        }
        Set<String> won = new HashSet<>();
        try (PreparedStatement ps = c.prepareStatement(VERSION_UPSERT_SQL)) {
            ps.setString(1, table());
            ps.setArray(2, c.createArrayOf("text", freshPks));
            ps.setArray(3, c.createArrayOf("bigint", lineages));
            ps.setArray(4, c.createArrayOf("bigint", generations));
            ps.setArray(5, c.createArrayOf("bigint", versions));
            ps.setArray(6, c.createArrayOf("bigint", joinedVersions));
            ps.setArray(7, c.createArrayOf("boolean", deletes));
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    won.add(rs.getString(1));
                }
            }
        }

        Map<UpsertPlan, List<Prepared>> upserts = new IdentityHashMap<>();
        Map<KeyPlan, List<Prepared>> deletions = new IdentityHashMap<>();
        int upserted = 0;
        int deleted = 0;
        for (Prepared p : fresh) {
            if (!won.contains(p.pk)) {
                continue;
            }
            if (p.change.isDelete()) {
                deletions.computeIfAbsent(p.keyPlan, k -> new ArrayList<>()).add(p);
                deleted++;
            } else {
                upserts.computeIfAbsent(p.upsertPlan, k -> new ArrayList<>()).add(p);
                upserted++;
            }
        }
        for (Map.Entry<UpsertPlan, List<Prepared>> e : upserts.entrySet()) {
            UpsertPlan plan = e.getKey();
            List<Prepared> group = e.getValue();
            try (PreparedStatement ps = c.prepareStatement(plan.sql)) {
                for (int col = 0; col < plan.bindings.size(); col++) {
                    String[] column = new String[group.size()];
                    for (int i = 0; i < column.length; i++) {
                        column[i] = group.get(i).values[col];
                    }
                    ps.setArray(col + 1, c.createArrayOf("text", column));
                }
                ps.executeUpdate();
            }
        }
        for (Map.Entry<KeyPlan, List<Prepared>> e : deletions.entrySet()) {
            KeyPlan plan = e.getKey();
            List<Prepared> group = e.getValue();
            try (PreparedStatement ps = c.prepareStatement(plan.deleteSql)) {
                for (int col = 0; col < plan.fields.size(); col++) {
                    String[] column = new String[group.size()];
                    for (int i = 0; i < column.length; i++) {
                        column[i] = group.get(i).keyTexts[col];
                    }
                    ps.setArray(col + 1, c.createArrayOf("text", column));
                }
                ps.executeUpdate();
            }
        }
        return new Outcome(upserted, deleted, rows.size() - upserted - deleted);
    }

    // ---------------------------------------------------------------------------------------------
    // Mapping records onto the table

    private KeyPlan keyPlan(Connection c, Schema keySchema) throws SQLException {
        KeyPlan plan = keyPlans.get(keySchema);
        if (plan == null) {
            try {
                plan = buildKeyPlan(keySchema);
            } catch (TableMappingException first) {
                // The table may have changed since it was read (a migration ran): read it again once.
                refreshCatalog(c);
                plan = buildKeyPlan(keySchema);
            }
            keyPlans.put(keySchema, plan);
        }
        return plan;
    }

    private UpsertPlan upsertPlan(Connection c, KeyPlan keyPlan, Schema valueSchema) throws SQLException {
        Map<Schema, UpsertPlan> byValue = upsertPlans.computeIfAbsent(keyPlan, k -> new HashMap<>());
        UpsertPlan plan = byValue.get(valueSchema);
        if (plan == null) {
            try {
                plan = buildUpsertPlan(keyPlan, valueSchema);
            } catch (TableMappingException first) {
                refreshCatalog(c);
                plan = buildUpsertPlan(keyPlan, valueSchema);
            }
            byValue.put(valueSchema, plan);
        }
        return plan;
    }

    /** Reads the table's columns again; true (and the statements rebuilt) when they changed. */
    private boolean refreshCatalog(Connection c) throws SQLException {
        TargetTable fresh = TargetTable.load(c, requestedTable);
        if (!fresh.equals(catalog)) {
            log.info("Re-read the catalog of {}: columns {}", fresh.qualifiedName(),
                    fresh.columns().stream().map(col -> col.name() + " " + col.type()).toList());
            catalog = fresh;
            keyPlans.clear();
            upsertPlans.clear();
            return true;
        }
        return false;
    }

    private KeyPlan buildKeyPlan(Schema keySchema) {
        TargetTable cat = catalog;
        if (keySchema.getType() != Schema.Type.RECORD) {
            throw new TableMappingException("The key schema for " + cat.qualifiedName() + " is " + keySchema.getType()
                    + ", not a record of the primary-key columns " + names(cat.primaryKey())
                    + "; key the topic's records with a record of the primary key (see dev.understudy.schemas.KeySchemas)");
        }
        Map<TargetTable.Column, Schema.Field> byColumn = new HashMap<>();
        for (Schema.Field f : keySchema.getFields()) {
            TargetTable.Column col = cat.columnFor(f.name());
            if (col == null) {
                throw new TableMappingException("Key field '" + f.name() + "' of key schema " + keySchema.getFullName()
                        + " has no column in " + cat.qualifiedName() + " (columns: " + names(cat.columns()) + "). The key must be "
                        + cat.qualifiedName() + "'s primary key " + names(cat.primaryKey())
                        + "; map the topic to the right table or fix the key the transform writes");
            }
            if (!cat.primaryKey().contains(col)) {
                throw new TableMappingException("Key field '" + f.name() + "' of key schema " + keySchema.getFullName()
                        + " maps to column " + col.name() + ", which is not part of " + cat.qualifiedName() + "'s primary key "
                        + names(cat.primaryKey()) + "; make the table's primary key match the key, or fix the key the transform writes");
            }
            if (byColumn.put(col, f) != null) {
                throw new TableMappingException("Key schema " + keySchema.getFullName() + " has two fields for column "
                        + col.name() + " of " + cat.qualifiedName() + "; rename one of them");
            }
        }
        List<Schema.Field> fields = new ArrayList<>();
        for (TargetTable.Column pk : cat.primaryKey()) {
            Schema.Field f = byColumn.get(pk);
            if (f == null) {
                throw new TableMappingException("Key schema " + keySchema.getFullName() + " lacks primary-key column "
                        + pk.name() + " of " + cat.qualifiedName() + " (primary key " + names(cat.primaryKey())
                        + "); key the records with every primary-key column");
            }
            fields.add(f);
        }
        StringBuilder sql = new StringBuilder("DELETE FROM ").append(cat.quotedName()).append(" AS t USING unnest(");
        appendParams(sql, fields.size());
        sql.append(") AS k(");
        appendAliases(sql, "k", fields.size());
        sql.append(") WHERE ");
        for (int i = 0; i < cat.primaryKey().size(); i++) {
            if (i > 0) {
                sql.append(" AND ");
            }
            TargetTable.Column pk = cat.primaryKey().get(i);
            sql.append("t.").append(quote(pk.name())).append(" = k.k").append(i + 1).append("::").append(pk.castType());
        }
        return new KeyPlan(fields, sql.toString());
    }

    private UpsertPlan buildUpsertPlan(KeyPlan keyPlan, Schema valueSchema) {
        TargetTable cat = catalog;
        if (valueSchema.getType() != Schema.Type.RECORD) {
            throw new TableMappingException("The value schema for " + cat.qualifiedName() + " is " + valueSchema.getType()
                    + ", not a record of its columns; the transform must write target rows as records");
        }
        List<Binding> bindings = new ArrayList<>();
        for (int i = 0; i < cat.primaryKey().size(); i++) {
            // The key is authoritative for the primary key: it is what the version guard and the
            // partitioner used, so a value that disagrees with it must not move the row.
            bindings.add(new Binding(cat.primaryKey().get(i), true, keyPlan.fields.get(i)));
        }
        Set<TargetTable.Column> bound = new HashSet<>(cat.primaryKey());
        for (Schema.Field f : valueSchema.getFields()) {
            TargetTable.Column col = cat.columnFor(f.name());
            if (col == null) {
                throw new TableMappingException("Value field '" + f.name() + "' of value schema " + valueSchema.getFullName()
                        + " has no column in " + cat.qualifiedName() + " (columns: " + names(cat.columns())
                        + "). Apply the target migration that adds the column, or remove the field from the transform's output; "
                        + "then restart the writer");
            }
            if (cat.primaryKey().contains(col)) {
                continue;
            }
            if (col.generated()) {
                throw new TableMappingException("Value field '" + f.name() + "' of value schema " + valueSchema.getFullName()
                        + " maps to generated column " + col.name() + " of " + cat.qualifiedName()
                        + ", which cannot be written; remove the field from the transform's output");
            }
            if (!bound.add(col)) {
                throw new TableMappingException("Value schema " + valueSchema.getFullName() + " has two fields for column "
                        + col.name() + " of " + cat.qualifiedName() + "; rename one of them");
            }
            bindings.add(new Binding(col, false, f));
        }

        StringBuilder sql = new StringBuilder("INSERT INTO ").append(cat.quotedName()).append(" (");
        for (int i = 0; i < bindings.size(); i++) {
            sql.append(i > 0 ? ", " : "").append(quote(bindings.get(i).column.name()));
        }
        sql.append(")");
        // A GENERATED ALWAYS identity column refuses explicit values unless the INSERT says
        // OVERRIDING SYSTEM VALUE (PostgreSQL INSERT docs); the key comes from the source, so it must win.
        if (bindings.stream().anyMatch(b -> b.column.identityAlways())) {
            sql.append(" OVERRIDING SYSTEM VALUE");
        }
        sql.append(" SELECT ");
        for (int i = 0; i < bindings.size(); i++) {
            sql.append(i > 0 ? ", " : "").append("v.v").append(i + 1).append("::").append(bindings.get(i).column.castType());
        }
        sql.append(" FROM unnest(");
        appendParams(sql, bindings.size());
        sql.append(") AS v(");
        appendAliases(sql, "v", bindings.size());
        sql.append(") ON CONFLICT (");
        for (int i = 0; i < cat.primaryKey().size(); i++) {
            sql.append(i > 0 ? ", " : "").append(quote(cat.primaryKey().get(i).name()));
        }
        sql.append(") DO ");
        List<Binding> nonKey = bindings.subList(cat.primaryKey().size(), bindings.size());
        if (nonKey.isEmpty()) {
            sql.append("NOTHING");
        } else {
            // EXCLUDED is the row proposed for insertion (PostgreSQL INSERT docs, "ON CONFLICT Clause").
            // Columns without a field keep their current value on update and their default on insert.
            sql.append("UPDATE SET ");
            for (int i = 0; i < nonKey.size(); i++) {
                String col = quote(nonKey.get(i).column.name());
                sql.append(i > 0 ? ", " : "").append(col).append(" = EXCLUDED.").append(col);
            }
        }
        return new UpsertPlan(bindings, sql.toString());
    }

    /**
     * How rows of one (key, value) schema pair are written by {@code COPY ... FROM STDIN} in text
     * format: the columns and the text of each value are the upsert's own ({@link #upsertPlan}: the
     * key's fields for the primary key, the value's other fields, {@link ColumnText} for each value),
     * so a row copied in holds what the writer's upsert of the same change would hold. The upsert
     * casts each text to the column's type without its modifier and stores it with an assignment
     * cast; {@code COPY} reads the text with the column's input function and modifier: both the
     * type's input function, then the modifier as on INSERT (PostgreSQL docs, "COPY", "Type
     * Conversion: Value Storage").
     */
    public final class CopyPlan {
        private final KeyPlan keyPlan;
        private final UpsertPlan plan;

        private CopyPlan(KeyPlan keyPlan, UpsertPlan plan) {
            this.keyPlan = keyPlan;
            this.plan = plan;
        }

        /** {@code COPY "schema"."table" ("a", "b") FROM STDIN}: text format, tab-separated, \N for null. */
        public String copySql() {
            return "COPY " + catalog.quotedName() + " (" + plan.bindings.stream().map(b -> quote(b.column.name()))
                    .collect(Collectors.joining(", ")) + ") FROM STDIN";
        }

        /**
         * Appends the row's line to {@code out}.
         *
         * @throws IllegalArgumentException naming the field and column when a value has no text
         *                                  (a null primary-key field, say)
         */
        public void appendLine(StringBuilder out, GenericRecord key, GenericRecord value) {
            String[] texts;
            try {
                keyPlan.render(key);
                texts = plan.render(key, value);
            } catch (RenderException e) {
                throw new IllegalArgumentException("Cannot copy a row of " + table() + " with key " + key + ": " + e.getMessage(), e);
            }
            for (int i = 0; i < texts.length; i++) {
                if (i > 0) {
                    out.append('\t');
                }
                appendCopyText(out, texts[i]);
            }
            out.append('\n');
        }
    }

    /**
     * The copy plan of rows keyed by {@code keySchema} with values of {@code valueSchema}.
     *
     * @throws TableMappingException as the writer's own apply would, naming the field without a column
     */
    public CopyPlan copyPlan(Connection c, Schema keySchema, Schema valueSchema) throws SQLException {
        KeyPlan keyPlan = keyPlan(c, keySchema);
        return new CopyPlan(keyPlan, upsertPlan(c, keyPlan, valueSchema));
    }

    /**
     * One value in COPY's text format (PostgreSQL docs, "COPY", "Text Format"): {@code \N} for null;
     * a backslash, and the newline, carriage return and tab that would end the field or the row,
     * backslash-escaped. Every other character stands for itself.
     */
    static void appendCopyText(StringBuilder out, String text) {
        if (text == null) {
            out.append("\\N");
            return;
        }
        int plain = 0;
        while (plain < text.length()) {
            char ch = text.charAt(plain);
            if (ch == '\\' || ch == '\n' || ch == '\r' || ch == '\t') {
                break;
            }
            plain++;
        }
        // Most values need no escape: appended in one copy rather than a character at a time.
        out.append(text, 0, plain);
        for (int i = plain; i < text.length(); i++) {
            char ch = text.charAt(i);
            switch (ch) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> out.append(ch);
            }
        }
    }

    private static void appendParams(StringBuilder sql, int n) {
        for (int i = 0; i < n; i++) {
            sql.append(i > 0 ? ", " : "").append("?::text[]");
        }
    }

    private static void appendAliases(StringBuilder sql, String prefix, int n) {
        for (int i = 0; i < n; i++) {
            sql.append(i > 0 ? ", " : "").append(prefix).append(i + 1);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Bookkeeping table and catalog

    static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    private static String names(List<TargetTable.Column> columns) {
        return columns.stream().map(TargetTable.Column::name).collect(Collectors.joining(", ", "(", ")"));
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }

    /** How a key schema maps onto the primary key, and the delete statement for it. */
    private static final class KeyPlan {
        final List<Schema.Field> fields;
        final String deleteSql;

        KeyPlan(List<Schema.Field> fields, String deleteSql) {
            this.fields = fields;
            this.deleteSql = deleteSql;
        }

        String[] render(GenericRecord key) {
            String[] out = new String[fields.size()];
            for (int i = 0; i < out.length; i++) {
                Schema.Field f = fields.get(i);
                out[i] = renderField(key, f, f.name());
                if (out[i] == null) {
                    throw new RenderException("key field '" + f.name() + "': it is null, and primary-key columns cannot be");
                }
            }
            return out;
        }
    }

    private record Binding(TargetTable.Column column, boolean fromKey, Schema.Field field) {
    }

    /** How a (key, value) schema pair maps onto the table, and the upsert statement for it. */
    private static final class UpsertPlan {
        final List<Binding> bindings;
        final String sql;

        UpsertPlan(List<Binding> bindings, String sql) {
            this.bindings = bindings;
            this.sql = sql;
        }

        String[] render(GenericRecord key, GenericRecord value) {
            String[] out = new String[bindings.size()];
            for (int i = 0; i < out.length; i++) {
                Binding b = bindings.get(i);
                out[i] = renderField(b.fromKey ? key : value, b.field, b.column.name());
            }
            return out;
        }
    }

    private static String renderField(GenericRecord record, Schema.Field field, String column) {
        Object v = record.get(field.pos());
        try {
            return ColumnText.text(v, field.schema());
        } catch (RuntimeException e) {
            throw new RenderException("field '" + field.name() + "' (" + field.schema() + ") to text for column " + column
                    + ": " + e);
        }
    }

    private static final class RenderException extends RuntimeException {
        RenderException(String message) {
            super(message, null, false, false);
        }
    }

    private record Prepared(RowChange change, String pk, String[] keyTexts, KeyPlan keyPlan, String[] values,
                            UpsertPlan upsertPlan) {
    }

    private record Outcome(int upserted, int deleted, int stale) {
    }
}

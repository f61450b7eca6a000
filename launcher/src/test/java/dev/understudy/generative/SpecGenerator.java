package dev.understudy.generative;

import dev.understudy.generative.SchemaGenerator.Column;
import dev.understudy.generative.SchemaGenerator.LegacySchema;
import dev.understudy.generative.SchemaGenerator.Role;
import dev.understudy.generative.SchemaGenerator.Table;

import java.util.ArrayList;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Set;
import java.util.SplittableRandom;

import static dev.understudy.generative.SchemaGenerator.pick;
import static dev.understudy.generative.SchemaGenerator.quote;

/**
 * Draws a spec over a generated legacy schema: copies, renames, casts with each failure policy,
 * constants, CEL expressions, filters, a split (the driving table feeds two targets) and a
 * foreign-key join; and with it the target contracts and the Flyway migrations.
 * <p>
 * Every column carries, next to its spec text, the same value as SQL over the legacy tables
 * ({@code s} the driving row, {@code j} the joined row), written here from the generator's own
 * model and never from the product's SQL translation; {@link ExpectedProjection} assembles it. So
 * the CEL drawn is limited to what SQL computes exactly: ASCII case mapping, concatenation, size,
 * integer arithmetic and ternaries on null.
 * <p>
 * Targets:
 * <ul>
 *   <li>the ledger: every driving row, keyed by the driving key, with the balance; no filter, so the
 *   sum of its balances is the conserved total whenever the target holds whole legacy transactions.
 *   Only what {@code verify} translates to SQL (copies, renames, constants, casts failing the stream);</li>
 *   <li>a second target from the driving table (the split): joined to the parent when there is one,
 *   keyed by the unique number (a non-key column) or the driving key, with expressions, casts that
 *   dead-letter or null, and a filter now and then;</li>
 *   <li>with a side table, a single-table target from it, keyed by its unique text or its key.</li>
 * </ul>
 */
final class SpecGenerator {
    private SpecGenerator() {
    }

    /** While the known join/renumbering bug is open, {@code -Dgenerative.avoidOpenBugs=true} keys targets by legacy keys only. */
    static final boolean AVOID_OPEN_BUGS = Boolean.getBoolean("generative.avoidOpenBugs");

    private static final String LOWER = "abcdefghijklmnopqrstuvwxyz";
    private static final String UPPER = "ABCDEFGHIJKLMNOPQRSTUVWXYZ";

    /**
     * A target column: its type in the target, its contract type, its value source as spec text
     * (the mapping after {@code name:}) and the same value as SQL over the legacy row.
     */
    record TargetColumn(String name, String ddl, String avro, boolean nullable, String yaml, String sql) {
    }

    /**
     * @param passSql   conditions a legacy row must meet to have a target row besides the filter: casts
     *                  with onFailure dead-letter send the row's changes to the dead-letter topic instead
     * @param deadLetters whether the target has a cast that dead-letters
     */
    record Target(String id, String schema, String table, Table from, String joinAlias, List<TargetColumn> columns, int keyCount,
                  String filterCel, String filterSql, List<String> passSql, boolean ledger, boolean keyedByNonKey,
                  String balanceColumn, boolean deadLetters) {
        String qualified() {
            return quote(schema) + "." + quote(table);
        }

        List<TargetColumn> keyColumns() {
            return columns.subList(0, keyCount);
        }

        Target withColumn(TargetColumn c) {
            List<TargetColumn> cols = new ArrayList<>(columns);
            cols.add(c);
            return new Target(id, schema, table, from, joinAlias, cols, keyCount, filterCel, filterSql, passSql, ledger, keyedByNonKey,
                    balanceColumn, deadLetters);
        }
    }

    record Spec(String migration, String flyway, LegacySchema schema, List<Target> targets) {
        Target ledger() {
            return targets.stream().filter(Target::ledger).findFirst().orElseThrow();
        }

        String yaml() {
            StringBuilder y = new StringBuilder();
            y.append("migration: ").append(migration).append('\n');
            y.append("flyway: \"").append(flyway).append("\"\n");
            y.append("sources:\n");
            y.append("  drv: { table: ").append(str(schema.driving().specName())).append(" }\n");
            if (schema.parent() != null) {
                y.append("  par: { table: ").append(str(schema.parent().specName())).append(" }\n");
            }
            if (schema.side() != null) {
                y.append("  sid: { table: ").append(str(schema.side().specName())).append(" }\n");
            }
            y.append("targets:\n");
            for (Target t : targets) {
                y.append("  ").append(t.id()).append(":\n");
                y.append("    table: ").append(str(t.schema() + "." + t.table())).append('\n');
                y.append("    from: ").append(t.from() == schema.side() ? "sid" : "drv").append('\n');
                y.append("    contract: ").append(t.id()).append(".avsc\n");
                y.append("    key: [").append(String.join(", ", t.keyColumns().stream().map(c -> str(c.name())).toList())).append("]\n");
                if (t.filterCel() != null) {
                    y.append("    filter: ").append(str(t.filterCel())).append('\n');
                }
                if (t.joinAlias() != null) {
                    y.append("    join:\n      ").append(t.joinAlias()).append(": { source: par, on: { ")
                            .append(str(schema.driving().role(Role.REF).name())).append(": ")
                            .append(str(schema.parent().key().get(0).name())).append(" } }\n");
                }
                y.append("    columns:\n");
                for (TargetColumn c : t.columns()) {
                    y.append("      ").append(str(c.name())).append(": ").append(c.yaml()).append('\n');
                }
            }
            return y.toString();
        }

        String contract(Target t) {
            StringBuilder sb = new StringBuilder("{\"type\": \"record\", \"name\": \"").append(dev.understudy.schemas.AvroNames.sanitize(t.table()))
                    .append("\", \"namespace\": \"understudy.generative.").append(dev.understudy.schemas.AvroNames.sanitize(t.schema()))
                    .append("\", \"fields\": [\n");
            for (int i = 0; i < t.columns().size(); i++) {
                TargetColumn c = t.columns().get(i);
                sb.append("  {\"name\": \"").append(c.name()).append("\", \"type\": ")
                        .append(c.nullable() ? "[\"null\", " + c.avro() + "], \"default\": null" : c.avro())
                        .append('}').append(i + 1 < t.columns().size() ? ",\n" : "\n");
            }
            return sb.append("]}\n").toString();
        }

        /** Flyway V1: every target table. */
        String flywayV1() {
            StringBuilder sb = new StringBuilder();
            Set<String> schemas = new LinkedHashSet<>();
            targets.forEach(t -> schemas.add(t.schema()));
            for (String s : schemas) {
                if (!s.equals("public")) {
                    sb.append("CREATE SCHEMA IF NOT EXISTS ").append(quote(s)).append(";\n");
                }
            }
            for (Target t : targets) {
                sb.append("CREATE TABLE ").append(t.qualified()).append(" (\n");
                for (TargetColumn c : t.columns()) {
                    sb.append("  ").append(quote(c.name())).append(' ').append(c.ddl()).append(c.nullable() ? "" : " NOT NULL").append(",\n");
                }
                sb.append("  PRIMARY KEY (").append(String.join(", ", t.keyColumns().stream().map(c -> quote(c.name())).toList()))
                        .append(")\n);\n");
            }
            return sb.toString();
        }
    }

    /** The next generation: a new migration name and Flyway version, one target gaining a nullable column. */
    record Evolution(Spec spec, String flyway, String targetId) {
    }

    static Spec generate(LegacySchema schema, SplittableRandom r, String migration) {
        List<Target> targets = new ArrayList<>();
        targets.add(ledger(schema, r));
        targets.add(second(schema, r));
        if (schema.side() != null) {
            targets.add(side(schema, r));
        }
        return new Spec(migration, "1", schema, targets);
    }

    static Evolution evolve(Spec v1, SplittableRandom r, String migration) {
        // The column goes to the most involved target: the join when there is one.
        Target t = v1.targets().get(1);
        Table from = t.from();
        TargetColumn added;
        String name = pick(r, "added_v2", "AddedInV2");
        if (t.joinAlias() != null) {
            Column rank = v1.schema().parent().role(Role.RANK);
            added = r.nextBoolean()
                    ? new TargetColumn(name, "integer", TypeCatalog.INT, true, "{ column: " + str(t.joinAlias() + "." + rank.name()) + " }",
                    "j." + rank.quoted())
                    : new TargetColumn(name, "text", TypeCatalog.STRING, true,
                    "{ expression: " + str(t.joinAlias() + "." + v1.schema().parent().role(Role.TITLE).name()) + " }",
                    "j." + v1.schema().parent().role(Role.TITLE).quoted());
        } else {
            Column label = from.role(Role.LABEL);
            added = new TargetColumn(name, "text", TypeCatalog.STRING, true,
                    "{ expression: " + str(label.name() + " == null ? " + label.name() + " : " + label.name() + ".upperAscii()") + " }",
                    "translate(s." + label.quoted() + ", '" + LOWER + "', '" + UPPER + "')");
        }
        List<Target> targets = new ArrayList<>(v1.targets());
        targets.set(1, t.withColumn(added));
        String alter = "ALTER TABLE " + t.qualified() + " ADD COLUMN " + quote(added.name()) + " " + added.ddl() + ";\n";
        return new Evolution(new Spec(migration, "2", v1.schema(), targets), alter, t.id());
    }

    private static Target ledger(LegacySchema schema, SplittableRandom r) {
        Table d = schema.driving();
        List<TargetColumn> cols = new ArrayList<>();
        for (Column k : d.key()) {
            cols.add(copy(k, false, r.nextInt(3) == 0 ? "Key" + k.name() : k.name()));
        }
        Column bal = d.role(Role.BALANCE);
        String balanceName = pick(r, bal.name(), "amount", "Saldo");
        cols.add(copy(bal, false, balanceName));
        if (r.nextBoolean()) {
            Column a = d.role(Role.AMOUNT);
            cols.add(new TargetColumn(pick(r, "amount_n", "AmountN"), "bigint", TypeCatalog.LONG, true,
                    "{ cast: { column: " + str(a.name()) + ", to: long, onFailure: fail } }", "s." + a.quoted() + "::bigint"));
        }
        if (r.nextBoolean()) {
            Column n = d.role(Role.NOTE);
            cols.add(copy(n, true, n.name()));
        }
        Column label = d.role(Role.LABEL);
        // verify translates an expression that only names a column, but recognizes only lower-case
        // names as such; while that is open, -Dgenerative.avoidOpenBugs=true keeps mixed-case ones out.
        boolean plainReference = r.nextBoolean() && !(AVOID_OPEN_BUGS && !label.name().equals(label.name().toLowerCase()));
        if (!plainReference) {
            cols.add(copy(label, true, pick(r, "label_copy", "LabelCopy")));
        } else {
            // An expression that only names a column: CEL in the spec, a plain copy to verify.
            cols.add(new TargetColumn(pick(r, "label_expr", "LabelExpr"), "text", TypeCatalog.STRING, true,
                    "{ expression: " + str(label.name()) + " }", "s." + label.quoted()));
        }
        addConstants(r, cols, false);
        addPayloadCopies(r, d, cols);
        String tschema = SchemaGenerator.tableName(pick(r, "public", "shadow", "ReadModel"));
        return new Target("ledger", tschema, SchemaGenerator.tableName(pick(r, "ledger", "Balances", "account_balances")), d, null, cols, d.key().size(),
                null, null, List.of(), true, false, balanceName, false);
    }

    private static Target second(LegacySchema schema, SplittableRandom r) {
        Table d = schema.driving();
        boolean join = schema.parent() != null;
        String alias = join ? pick(r, "cust", "acct", "holder") : null;
        boolean byNumber = !AVOID_OPEN_BUGS && r.nextInt(3) != 0;
        List<TargetColumn> cols = new ArrayList<>();
        if (byNumber) {
            Column num = d.role(Role.NUM);
            cols.add(copy(num, false, pick(r, num.name(), "OrderNumber")));
        } else {
            for (Column k : d.key()) {
                cols.add(copy(k, false, k.name()));
            }
        }
        int keyCount = cols.size();
        if (join) {
            Table p = schema.parent();
            Column title = p.role(Role.TITLE);
            cols.add(new TargetColumn(pick(r, "client_name", "ClientName"), "text", TypeCatalog.STRING, true,
                    "{ column: " + str(alias + "." + title.name()) + " }", "j." + title.quoted()));
            if (r.nextBoolean()) {
                cols.add(new TargetColumn(pick(r, "client_label", "ClientLabel"), "text", TypeCatalog.STRING, false,
                        "{ expression: " + str(alias + "." + title.name() + " == null ? 'untitled' : " + alias + "." + title.name()) + " }",
                        "COALESCE(j." + title.quoted() + ", 'untitled')"));
            }
            if (r.nextBoolean()) {
                // The reference itself, read from the joined row's key.
                Column pk = p.key().get(0);
                cols.add(new TargetColumn(pick(r, "client_key", "ClientKey"), pk.ddl(), pk.avro(), true,
                        "{ column: " + str(alias + "." + pk.name()) + " }", "j." + pk.quoted()));
            }
        }
        List<String> pass = new ArrayList<>();
        boolean deadLetters = addCasts(r, d, cols, pass);
        addExpressions(r, d, cols);
        addConstants(r, cols, true);
        addPayloadCopies(r, d, cols);
        String[] filter = r.nextInt(3) == 0 ? null : filter(r, d);
        String tschema = SchemaGenerator.tableName(pick(r, "public", "shadow", "ReadModel"));
        return new Target("view", tschema, SchemaGenerator.tableName(pick(r, "order_view", "OrderView", "orders_by_number")), d, alias, cols, keyCount,
                filter == null ? null : filter[0], filter == null ? null : filter[1], pass, false, byNumber, null, deadLetters);
    }

    private static Target side(LegacySchema schema, SplittableRandom r) {
        Table s = schema.side();
        boolean byNumber = !AVOID_OPEN_BUGS && r.nextBoolean();
        List<TargetColumn> cols = new ArrayList<>();
        if (byNumber) {
            Column num = s.role(Role.NUM);
            cols.add(copy(num, false, pick(r, num.name(), "Sku")));
        } else {
            cols.add(copy(s.key().get(0), false, s.key().get(0).name()));
        }
        addExpressions(r, s, cols);
        addConstants(r, cols, true);
        addPayloadCopies(r, s, cols);
        String[] filter = r.nextBoolean() ? null : filter(r, s);
        return new Target("catalog", SchemaGenerator.tableName(pick(r, "public", "Catalog")),
                SchemaGenerator.tableName(pick(r, "items", "ItemView")), s, null, cols, 1,
                filter == null ? null : filter[0], filter == null ? null : filter[1], List.of(), false, byNumber, null, false);
    }

    private static TargetColumn copy(Column c, boolean nullable, String name) {
        return new TargetColumn(name, c.ddl(), c.avro(), nullable || c.nullable(), "{ column: " + str(c.name()) + " }", "s." + c.quoted());
    }

    private static void addPayloadCopies(SplittableRandom r, Table t, List<TargetColumn> cols) {
        for (Column c : t.payload()) {
            if (r.nextInt(4) != 0) {
                String name = r.nextBoolean() ? c.name() : c.name() + "_r";
                cols.add(copy(c, true, name));
            }
        }
    }

    private static void addConstants(SplittableRandom r, List<TargetColumn> cols, boolean any) {
        int n = r.nextInt(any ? 3 : 2);
        for (int i = 0; i < n; i++) {
            String name = "const_" + i;
            switch (r.nextInt(4)) {
                case 0 -> cols.add(new TargetColumn(name, "text", TypeCatalog.STRING, true, "{ default: null }", "NULL"));
                case 1 -> {
                    String v = pick(r, "gen \u00fc 'q' \"d\"", "", "\u65e5\u672c");
                    cols.add(new TargetColumn(name, "text", TypeCatalog.STRING, true, "{ default: " + str(v) + " }",
                            TypeCatalog.Values.literal(v)));
                }
                case 2 -> {
                    long v = pick(r, 42L, -7L, 9_007_199_254_740_993L);
                    cols.add(new TargetColumn(name, "bigint", TypeCatalog.LONG, true, "{ default: " + v + " }", Long.toString(v)));
                }
                default -> {
                    boolean v = r.nextBoolean();
                    cols.add(new TargetColumn(name, "boolean", "\"boolean\"", true, "{ default: " + v + " }", Boolean.toString(v)));
                }
            }
        }
    }

    /**
     * Casts of the code column (text to int or long, dead-lettering or nulling what does not
     * convert) and of the quantity to text. Returns whether one dead-letters.
     */
    private static boolean addCasts(SplittableRandom r, Table t, List<TargetColumn> cols, List<String> pass) {
        Column code = t.role(Role.CODE);
        boolean deadLetters = false;
        int n = r.nextInt(3);
        for (int i = 0; i < n; i++) {
            boolean toInt = r.nextBoolean();
            String policy = r.nextBoolean() ? "dead-letter" : "null";
            String ok = WorkloadGenerator.codeConverts("s." + code.quoted(), toInt);
            String value = "CASE WHEN " + ok + " THEN s." + code.quoted() + "::numeric END";
            cols.add(new TargetColumn("code_" + (toInt ? "int" : "long") + "_" + i, toInt ? "integer" : "bigint",
                    toInt ? TypeCatalog.INT : TypeCatalog.LONG, true,
                    "{ cast: { column: " + str(code.name()) + ", to: " + (toInt ? "int" : "long") + ", onFailure: " + policy + " } }", value));
            if (policy.equals("dead-letter")) {
                deadLetters = true;
                pass.add("(s." + code.quoted() + " IS NULL OR " + ok + ")");
            }
        }
        if (r.nextBoolean()) {
            Column q = t.role(Role.QTY);
            cols.add(new TargetColumn(pick(r, "qty_text", "QtyText"), "text", TypeCatalog.STRING, true,
                    "{ cast: { column: " + str(q.name()) + ", to: string, onFailure: " + pick(r, "fail", "null", "dead-letter") + " } }",
                    "s." + q.quoted() + "::text"));
        }
        return deadLetters;
    }

    private static void addExpressions(SplittableRandom r, Table t, List<TargetColumn> cols) {
        String l = t.role(Role.LABEL).name();
        String lq = "s." + t.role(Role.LABEL).quoted();
        String q = t.role(Role.QTY).name();
        String qq = "s." + t.role(Role.QTY).quoted();
        String n = t.role(Role.NUM).name();
        String nq = "s." + t.role(Role.NUM).quoted();
        int count = 1 + r.nextInt(3);
        Set<Integer> used = new LinkedHashSet<>();
        for (int i = 0; i < count; i++) {
            int which = r.nextInt(6);
            if (!used.add(which)) {
                continue;
            }
            String name = "expr_" + which;
            TargetColumn c = switch (which) {
                case 0 -> new TargetColumn(name, "text", TypeCatalog.STRING, true,
                        "{ expression: " + str(l + " == null ? " + l + " : " + l + ".upperAscii()") + " }",
                        "translate(" + lq + ", '" + LOWER + "', '" + UPPER + "')");
                case 1 -> new TargetColumn(name, "text", TypeCatalog.STRING, false,
                        "{ expression: " + str(l + " == null ? 'none' : " + l + ".lowerAscii() + '#' + string(size(" + l + "))") + " }",
                        "CASE WHEN " + lq + " IS NULL THEN 'none' ELSE translate(" + lq + ", '" + UPPER + "', '" + LOWER + "') || '#' || length("
                                + lq + ")::text END");
                case 2 -> new TargetColumn(name, "bigint", TypeCatalog.LONG, false,
                        "{ expression: " + str(q + " == null ? -1 : " + q + " * 3 + 7") + " }",
                        "CASE WHEN " + qq + " IS NULL THEN -1 ELSE " + qq + "::bigint * 3 + 7 END");
                case 3 -> new TargetColumn(name, "text", TypeCatalog.STRING, false,
                        "{ expression: " + str(n + " + '/' + (" + q + " == null ? 'null' : string(" + q + " % 7))") + " }",
                        nq + " || '/' || COALESCE((" + qq + " % 7)::text, 'null')");
                case 4 -> new TargetColumn(name, "bigint", TypeCatalog.LONG, false,
                        "{ expression: " + str("size(" + n + ")") + " }", "length(" + nq + ")");
                default -> new TargetColumn(name, "bigint", TypeCatalog.LONG, false,
                        "{ expression: " + str(q + " == null ? 0 : " + q + " / 4") + " }", "COALESCE(" + qq + " / 4, 0)");
            };
            cols.add(c);
        }
    }

    /** A filter as {CEL, SQL}. */
    private static String[] filter(SplittableRandom r, Table t) {
        String l = t.role(Role.LABEL).name();
        String lq = "s." + t.role(Role.LABEL).quoted();
        String q = t.role(Role.QTY).name();
        String qq = "s." + t.role(Role.QTY).quoted();
        String n = t.role(Role.NUM).name();
        String nq = "s." + t.role(Role.NUM).quoted();
        return switch (r.nextInt(3)) {
            case 0 -> new String[]{q + " != null && " + q + " % 3 != 1", "(" + qq + " IS NOT NULL AND " + qq + " % 3 <> 1)"};
            case 1 -> new String[]{l + " == null || size(" + l + ") < 6", "(" + lq + " IS NULL OR length(" + lq + ") < 6)"};
            // Numbers handed over pass through a temporary 'T...' value, which this filter hides.
            default -> new String[]{"!" + n + ".startsWith('T')", "left(" + nq + ", 1) <> 'T'"};
        };
    }

    /** A YAML double-quoted scalar. */
    static String str(String s) {
        return "\"" + s.replace("\\", "\\\\").replace("\"", "\\\"") + "\"";
    }
}

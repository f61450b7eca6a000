package dev.understudy.generative;

import dev.understudy.generative.TypeCatalog.PgType;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.UUID;

/**
 * Draws a legacy schema: one to three tables, in {@code public} or another schema, with quoted and
 * mixed-case identifiers, keys of int, bigint, uuid, text or composite type, and payload columns
 * drawn from {@link TypeCatalog}.
 * <ul>
 *   <li>the driving table (always): its key, a reference to the parent, a unique text "number" some
 *   targets are keyed by (an order number), a balance that every workload transaction conserves (the
 *   ledger invariant), a label and a quantity for expressions and filters, a code that casts read, an
 *   amount in text that always converts, a note that is sometimes TOAST-sized, and payload columns;</li>
 *   <li>a parent table (optional), which the driving table references and a target joins;</li>
 *   <li>a side table (optional), with its own unique text key for a single-table target keyed by a
 *   non-key column.</li>
 * </ul>
 */
final class SchemaGenerator {
    private SchemaGenerator() {
    }

    enum KeyKind {
        INT("integer"), BIGINT("bigint"), UUID("uuid"), TEXT("text"), COMPOSITE(null);

        final String ddl;

        KeyKind(String ddl) {
            this.ddl = ddl;
        }
    }

    /** What a column is for: the workload and the spec generator pick columns by role. */
    enum Role { KEY, REF, NUM, BALANCE, LABEL, QTY, CODE, AMOUNT, NOTE, TITLE, RANK, PAYLOAD }

    /** A legacy column; {@code type} is set for payload columns (their edge values come from it). */
    record Column(String name, String ddl, String avro, boolean nullable, Role role, PgType type) {
        String quoted() {
            return quote(name);
        }
    }

    record Table(String schema, String name, List<Column> columns, List<Column> key, KeyKind keyKind) {
        String qualified() {
            return quote(schema) + "." + quote(name);
        }

        /** {@code schema.table} as the spec names it. */
        String specName() {
            return schema + "." + name;
        }

        Column role(Role role) {
            return columns.stream().filter(c -> c.role() == role).findFirst().orElse(null);
        }

        List<Column> payload() {
            return columns.stream().filter(c -> c.role() == Role.PAYLOAD).toList();
        }

        /** The key columns as an SQL row constructor, e.g. {@code ("a", "b")}. */
        String keyTuple(String alias) {
            String prefix = alias == null ? "" : alias + ".";
            return "(" + String.join(", ", key.stream().map(c -> prefix + c.quoted()).toList()) + ")";
        }
    }

    /**
     * @param driving         the driving table (every spec's ledger target reads it)
     * @param parent          the referenced table, or null
     * @param side            the side table, or null
     * @param foreignKey      whether the reference is declared (ON UPDATE CASCADE ON DELETE SET NULL), else rows dangle
     * @param openingBalance  each driving row's balance at the start; the sum is conserved
     * @param fullIdentity    whether the driving and side tables have REPLICA IDENTITY FULL (whole old rows in
     *                        the WAL) rather than the default (the old key only)
     */
    record LegacySchema(Table driving, Table parent, Table side, boolean foreignKey, long openingBalance, boolean fullIdentity) {
        List<Table> tables() {
            List<Table> out = new ArrayList<>();
            out.add(driving);
            if (parent != null) {
                out.add(parent);
            }
            if (side != null) {
                out.add(side);
            }
            return out;
        }

        List<String> ddl() {
            List<String> out = new ArrayList<>();
            tables().stream().map(Table::schema).filter(s -> !s.equals("public")).distinct()
                    .forEach(s -> out.add("CREATE SCHEMA IF NOT EXISTS " + quote(s)));
            // The parent first: the driving table may reference it.
            if (parent != null) {
                out.add(create(parent));
            }
            out.add(create(driving));
            if (side != null) {
                out.add(create(side));
            }
            if (parent != null && foreignKey) {
                out.add("ALTER TABLE " + driving.qualified() + " ADD FOREIGN KEY (" + driving.role(Role.REF).quoted() + ") REFERENCES "
                        + parent.qualified() + " ON UPDATE CASCADE ON DELETE SET NULL");
            }
            if (fullIdentity) {
                out.add("ALTER TABLE " + driving.qualified() + " REPLICA IDENTITY FULL");
                if (side != null) {
                    out.add("ALTER TABLE " + side.qualified() + " REPLICA IDENTITY FULL");
                }
            }
            return out;
        }

        private static String create(Table t) {
            StringBuilder sb = new StringBuilder("CREATE TABLE " + t.qualified() + " (");
            for (Column c : t.columns()) {
                sb.append(c.quoted()).append(' ').append(c.ddl()).append(c.nullable() ? "" : " NOT NULL");
                if (c.type() != null && c.type().legacyCheck() != null) {
                    sb.append(' ').append(c.type().legacyCheck().formatted(c.quoted()));
                }
                sb.append(", ");
                if (c.role() == Role.NUM) {
                    sb.setLength(sb.length() - 2);
                    sb.append(" UNIQUE, ");
                }
            }
            sb.append("PRIMARY KEY ").append(t.keyTuple(null)).append(')');
            return sb.toString();
        }

        String describe() {
            StringBuilder sb = new StringBuilder();
            for (String s : ddl()) {
                sb.append("  ").append(s).append(";\n");
            }
            return sb.toString();
        }
    }

    /**
     * {@code -Dgenerative.lowerCaseTables=true} folds schema and table names (legacy and target) to
     * lower case, for while mixed-case table names are refused at start (columns stay mixed case).
     */
    static final boolean LOWER_CASE_TABLES = Boolean.getBoolean("generative.lowerCaseTables");

    /** A schema or table name as drawn, or folded to lower case under {@link #LOWER_CASE_TABLES}. */
    static String tableName(String drawn) {
        return LOWER_CASE_TABLES ? drawn.toLowerCase(java.util.Locale.ROOT) : drawn;
    }

    static LegacySchema generate(SplittableRandom r) {
        List<PgType> types = TypeCatalog.drawable();
        String schema = tableName(pick(r, "public", "public", "sales", "Sales", "Ledger_EU", "crm"));
        int tables = 1 + r.nextInt(3);
        boolean withParent = tables >= 2 && (tables == 3 || r.nextInt(4) != 0);
        boolean withSide = tables == 3 || (tables == 2 && !withParent);

        Table parent = null;
        if (withParent) {
            KeyKind kind = pick(r, KeyKind.INT, KeyKind.BIGINT, KeyKind.UUID, KeyKind.TEXT);
            List<Column> cols = new ArrayList<>();
            Column pk = new Column(pick(r, "id", "ClientId", "client_id"), kind.ddl, avroOf(kind.ddl), false, Role.KEY, null);
            cols.add(pk);
            cols.add(new Column(pick(r, "title", "DisplayName", "name"), "text", TypeCatalog.STRING, true, Role.TITLE, null));
            cols.add(new Column(pick(r, "rank", "Tier"), "integer", TypeCatalog.INT, true, Role.RANK, null));
            addPayload(r, types, cols, r.nextInt(3), "p");
            parent = new Table(r.nextInt(3) == 0 ? tableName(pick(r, "crm", "Accounts")) : schema,
                    tableName(pick(r, "clients", "Customers", "accountHolders")),
                    cols, List.of(pk), kind);
        }

        KeyKind kind = pick(r, KeyKind.INT, KeyKind.BIGINT, KeyKind.UUID, KeyKind.TEXT, KeyKind.COMPOSITE);
        List<Column> cols = new ArrayList<>();
        List<Column> key = new ArrayList<>();
        if (kind == KeyKind.COMPOSITE) {
            key.add(new Column(pick(r, "region", "Region"), "text", TypeCatalog.STRING, false, Role.KEY, null));
            key.add(new Column(pick(r, "seq", "LineNo"), "integer", TypeCatalog.INT, false, Role.KEY, null));
        } else {
            key.add(new Column(pick(r, "id", "OrderId", "order_id"), kind.ddl, avroOf(kind.ddl), false, Role.KEY, null));
        }
        cols.addAll(key);
        if (parent != null) {
            Column pk = parent.key().get(0);
            cols.add(new Column(pick(r, "client_ref", "ClientRef", "owner"), pk.ddl(), pk.avro(), true, Role.REF, null));
        }
        cols.add(new Column(pick(r, "order_no", "OrderNo", "number"), "text", TypeCatalog.STRING, false, Role.NUM, null));
        cols.add(new Column(pick(r, "balance", "Balance"), "bigint", TypeCatalog.LONG, false, Role.BALANCE, null));
        cols.add(new Column(pick(r, "label", "Label", "displayName"), "text", TypeCatalog.STRING, true, Role.LABEL, null));
        cols.add(new Column(pick(r, "qty", "Quantity"), "integer", TypeCatalog.INT, true, Role.QTY, null));
        cols.add(new Column(pick(r, "code", "Code"), "text", TypeCatalog.STRING, true, Role.CODE, null));
        cols.add(new Column(pick(r, "amount_txt", "AmountText"), "varchar(30)", TypeCatalog.STRING, true, Role.AMOUNT, null));
        cols.add(new Column(pick(r, "note", "Notes"), "text", TypeCatalog.STRING, true, Role.NOTE, null));
        addPayload(r, types, cols, 1 + r.nextInt(4), "c");
        Table driving = new Table(schema, tableName(pick(r, "orders", "Orders", "OrderLines", "line_items")), cols, key, kind);

        Table side = null;
        if (withSide) {
            KeyKind sideKind = pick(r, KeyKind.INT, KeyKind.BIGINT, KeyKind.UUID, KeyKind.TEXT);
            List<Column> sc = new ArrayList<>();
            Column pk = new Column(pick(r, "id", "ItemId"), sideKind.ddl, avroOf(sideKind.ddl), false, Role.KEY, null);
            sc.add(pk);
            sc.add(new Column(pick(r, "sku", "SkuCode"), "text", TypeCatalog.STRING, false, Role.NUM, null));
            sc.add(new Column(pick(r, "label", "Caption"), "text", TypeCatalog.STRING, true, Role.LABEL, null));
            sc.add(new Column(pick(r, "qty", "OnHand"), "integer", TypeCatalog.INT, true, Role.QTY, null));
            addPayload(r, types, sc, 1 + r.nextInt(4), "s");
            side = new Table(r.nextBoolean() ? schema : "public", tableName(pick(r, "products", "Stock_Items", "skus")), sc, List.of(pk), sideKind);
        }
        return new LegacySchema(driving, parent, side, parent != null && r.nextInt(3) != 0, 1_000, r.nextBoolean());
    }

    private static void addPayload(SplittableRandom r, List<PgType> types, List<Column> cols, int n, String prefix) {
        for (int i = 0; i < n; i++) {
            PgType t = types.get(r.nextInt(types.size()));
            // Mixed-case names now and then, always quoted.
            String name = (r.nextBoolean() ? prefix.toUpperCase() + "Val" : prefix + "_val") + i;
            cols.add(new Column(name, t.ddl(), t.avro(), true, Role.PAYLOAD, t));
        }
    }

    static String avroOf(String ddl) {
        return switch (ddl) {
            case "integer" -> TypeCatalog.INT;
            case "bigint" -> TypeCatalog.LONG;
            default -> TypeCatalog.STRING;
        };
    }

    /**
     * A fresh key value for a table, as SQL literals in key column order; {@code n} is unique per
     * trial. Text keys are sometimes unicode.
     */
    static List<String> newKey(Table t, long n, SplittableRandom r) {
        return switch (t.keyKind()) {
            case INT -> List.of(Long.toString(n));
            case BIGINT -> List.of(Long.toString(5_000_000_000L + n * 7919));
            case UUID -> List.of("'" + new UUID(r.nextLong(), n) + "'::uuid");
            case TEXT -> List.of(TypeCatalog.Values.literal((r.nextInt(4) == 0 ? "k\u00e9y-" : "K") + n));
            case COMPOSITE -> List.of(TypeCatalog.Values.literal("r" + (n % 5)), Long.toString(n));
        };
    }

    static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }

    @SafeVarargs
    static <T> T pick(SplittableRandom r, T... options) {
        return options[r.nextInt(options.length)];
    }
}

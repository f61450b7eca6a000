package dev.understudy.schemas;

/**
 * Table names as SQL spells them. A table is named {@code schema.table} everywhere in Understudy
 * (specs, topics, config), with each part as the catalog stores it, so {@code Ledger_EU.orders}
 * names the schema {@code Ledger_EU}; in SQL that must be quoted part by part, or PostgreSQL folds
 * it to lower case (docs, "Identifiers and Key Words") and finds another table, or none.
 */
public final class SqlNames {
    private SqlNames() {
    }

    /** {@code schema.table} quoted part by part, e.g. {@code "Ledger_EU"."orders"}; a name without a schema is in {@code public}. */
    public static String qualified(String table) {
        int dot = table.indexOf('.');
        return dot < 0 ? quote("public") + "." + quote(table) : quote(table.substring(0, dot)) + "." + quote(table.substring(dot + 1));
    }

    /** One identifier, double-quoted with inner quotes doubled. */
    public static String quote(String identifier) {
        return '"' + identifier.replace("\"", "\"\"") + '"';
    }
}

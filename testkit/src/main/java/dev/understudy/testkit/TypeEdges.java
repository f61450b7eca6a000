package dev.understudy.testkit;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Collections;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The edge values per PostgreSQL type of the type reference, docs/types.md, for tests that carry
 * every type: the edge values of each type as SQL literals, the values the contract's Avro type cannot
 * hold, the rows of the docs' type table, and the DDL and rows of a table with one column per type
 * filled with those values. What such a test checks of the values is its own.
 */
public final class TypeEdges {
    /** Big enough to be stored out of line (TOAST) and not compressible (md5 hex). */
    public static final String TOASTED = "(SELECT string_agg(md5(i::text), '') FROM generate_series(1, 300) i)";

    /**
     * Edge values per type of the table, as SQL literals. Every type of the table must have an entry
     * and every entry a row in the table, so neither list can drift from the other.
     */
    public static final Map<String, List<String>> EDGES;

    static {
        Map<String, List<String>> edges = new LinkedHashMap<>();
        edges.put("smallint", List.of("-32768", "32767", "0"));
        edges.put("integer", List.of("-2147483648", "2147483647", "0"));
        edges.put("bigint", List.of("-9223372036854775808", "9223372036854775807", "0"));
        edges.put("numeric", List.of("'NaN'", "'Infinity'", "'-Infinity'", "0.000000000000000000001", "1.50",
                "-123456789012345678901234567890.123456789", "1e100", "0"));
        edges.put("numeric(12,2)", List.of("9999999999.99", "-9999999999.99", "0.00", "0.1"));
        edges.put("real", List.of("'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "3.4028235e38", "1.4e-45", "0.1"));
        edges.put("double precision", List.of("'NaN'", "'Infinity'", "'-Infinity'", "'-0'", "1.7976931348623157e308",
                "4.9e-324", "0.1"));
        edges.put("money", List.of("'-92233720368547758.08'", "'92233720368547758.07'", "'0'", "'12.34'"));
        edges.put("boolean", List.of("true", "false"));
        edges.put("character(5)", List.of("'ab'", "''", "'ñé✓'", "'abcde'"));
        edges.put("character varying(10)", List.of("''", "'ünï 𝄞'", "' spaced '"));
        edges.put("text", List.of("''", "'unicode ✓ 𝄞 ß'", TOASTED, "E'tab\\tnew\\nline \\\\ back'", "'quote '' \" '", "'NULL'"));
        edges.put("bytea", List.of("'\\x'", "'\\x00ff10'", "decode(" + TOASTED + ", 'hex')"));
        edges.put("date", List.of("'infinity'", "'-infinity'", "'4713-01-01 BC'", "'4714-11-24 BC'", "'5874897-12-31'",
                "'1582-10-10'", "'0001-01-01'", "'2024-02-29'", "'1970-01-01'"));
        edges.put("time", List.of("'00:00:00'", "'24:00:00'", "'23:59:59.999999'", "'12:34:56.000001'"));
        edges.put("timestamp", List.of("'infinity'", "'-infinity'", "'4714-11-24 00:00:00 BC'", "'294247-01-10 04:00:54.775805'",
                "'1582-10-10 12:00:00'", "'0001-01-01 00:00:00'", "'2024-03-10 02:30:00.5'", "'10000-01-01 00:00:00'"));
        edges.put("timestamptz", List.of("'infinity'", "'-infinity'", "'4714-11-24 00:00:00+00 BC'", "'294247-01-10 04:00:54.775805+00'",
                "'0001-01-01 00:00:00+00'", "'1890-01-01 00:00:00'", "'2024-03-01 12:34:56.123456+05:30'",
                "'2024-10-06 00:30:00'"));
        edges.put("interval", List.of("'1 day'", "'00:00:00.000001'", "'1 mon'", "'-1 days +02:03:04.5'", "'178000000 years'",
                "'1 year 2 mons 3 days 04:05:06.789'", "'-1 year -2 mons'", "'2147483647 hours'", "'-2147483647 days'", "'0'"));
        edges.put("time with time zone", List.of("'12:34:56.789+05:30'", "'10:00:00-03:06:28'"));
        edges.put("uuid", List.of("'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"));
        edges.put("json", List.of("'{\"b\": 1,  \"a\" : [1,2]}'", "'\"str ✓\"'", "'null'", "'[]'"));
        edges.put("jsonb", List.of("'{\"b\": 1,  \"a\" : [1,2]}'", "'\"str ✓\"'", "'null'", "'{}'"));
        edges.put("xml", List.of("'<?xml version=\"1.0\"?><a>x</a>'", "'<a b=\"1\"/>'", "'text content'", "''"));
        edges.put("inet", List.of("'192.168.0.1/24'", "'::1'", "'10.0.0.1'"));
        edges.put("cidr", List.of("'10.0.0.0/8'", "'2001:db8::/32'"));
        edges.put("macaddr", List.of("'08:00:2b:01:02:03'"));
        edges.put("macaddr8", List.of("'08:00:2b:01:02:03:04:05'"));
        edges.put("bit(4)", List.of("B'1010'", "B'0000'"));
        edges.put("bit varying", List.of("B''", "B'1'", "B'10101010101'"));
        edges.put("integer[]", List.of("'{{1,2},{3,4}}'", "'[0:1]={5,6}'", "'{}'", "'{NULL,1}'", "'{{{1}}}'"));
        edges.put("text[]", List.of("'{\"a b\",NULL,\"\\\"q\\\"\",\"\"}'", "'{}'", "'{{a,b},{c,d}}'", "'{NULL}'"));
        edges.put("date[]", List.of("'{infinity,\"4713-01-01 BC\",2024-01-01}'", "'[2:2]={-infinity}'"));
        edges.put("point", List.of("'(1.5,-2)'", "'(0,0)'"));
        edges.put("int4range", List.of("'[1,5)'", "'empty'", "'(,3]'"));
        edges.put("tsvector", List.of("'a fat cat'", "''"));
        EDGES = Collections.unmodifiableMap(edges);
    }

    /**
     * Values of carried types that the contract's Avro type cannot hold (docs/types.md, column
     * Refused): each must be dead-lettered by the capture with its coordinates, the rest of the table
     * and the other tables going on.
     */
    public static final Map<String, List<String>> DEAD_LETTERED = Map.of(
            "timestamp", List.of("'294276-12-31 23:59:59.999999'"),
            "timestamptz", List.of("'294276-12-31 23:59:59.999999+00'", "'294247-01-10 04:00:54.775806+00'"));

    private TypeEdges() {
    }

    /** One row of the docs' table. */
    public record TypeRow(String pgType, String avro, boolean refused, String column) {
    }

    /**
     * The column that carries {@code pgType} in a table of every type: {@code c_} and the type's name,
     * {@code []} read as {@code array} and each run of characters other than a-z and 0-9 as one {@code _},
     * none at the end.
     */
    public static String column(String pgType) {
        return "c_" + pgType.replace("[]", " array").replaceAll("[^a-z0-9]+", "_").replaceAll("_$", "");
    }

    /** Edge value {@code k mod (edges + 1)} of the type, as a SQL literal, the last being NULL. */
    public static String value(TypeRow t, int k) {
        List<String> edges = EDGES.get(t.pgType());
        int i = Math.floorMod(k, edges.size() + 1);
        return i == edges.size() ? "NULL" : edges.get(i);
    }

    /**
     * {@code CREATE TABLE table} with an integer primary key {@code id} and one column per type;
     * {@code legacy} adds the constraints docs/types.md asks of the legacy database's columns.
     */
    public static String createTable(String table, List<TypeRow> types, boolean legacy) {
        StringBuilder ddl = new StringBuilder("CREATE TABLE " + table + " (id integer PRIMARY KEY");
        for (TypeRow t : types) {
            ddl.append(", ").append(t.column()).append(' ').append(t.pgType());
            if (legacy && t.pgType().equals("interval")) {
                // The constraint docs/types.md asks of interval columns (Debezium reads intervals through PGInterval).
                ddl.append(" CHECK (isfinite(").append(t.column()).append(") AND abs(extract(hour FROM ").append(t.column())
                        .append(")) < 2147483648)");
            }
        }
        return ddl.append(")").toString();
    }

    /** Rows {@code first..first+count-1}; row k holds, per type, edge value {@code (k + shift) mod (edges + 1)}, the last being NULL. */
    public static void insertRows(Statement s, String table, List<TypeRow> types, int first, int count, int shift) throws SQLException {
        for (int k = 0; k < count; k++) {
            StringBuilder sql = new StringBuilder("INSERT INTO " + table + " VALUES (" + (first + k));
            for (TypeRow t : types) {
                sql.append(", (").append(value(t, k + shift)).append(")::").append(t.pgType());
            }
            s.execute(sql.append(")").toString());
        }
    }

    /** The rows of the type table: first column the type, second the Avro type, both in backticks. */
    public static List<TypeRow> readTypeTable(Path doc) throws IOException {
        List<TypeRow> out = new ArrayList<>();
        Set<String> columns = new HashSet<>();
        for (String line : Files.readAllLines(doc)) {
            if (!line.startsWith("| `")) {
                continue;
            }
            String[] cells = line.split("\\|");
            String type = unquote(cells[1]);
            String avro = unquote(cells[2]);
            String column = column(type);
            check(columns.add(column), "two types named alike: " + column);
            out.add(new TypeRow(type, avro, avro.equals("refused"), column));
        }
        check(out.size() > 20, "type rows in " + doc + ": " + out.size());
        return out;
    }

    private static String unquote(String cell) {
        String c = cell.trim();
        check(c.startsWith("`") && c.endsWith("`"), "expected a `quoted` cell: " + c);
        return c.substring(1, c.length() - 1);
    }

    /** {@code relative} resolved against the nearest directory, from the working directory up, that holds it. */
    public static Path locate(String relative) {
        Path dir = Path.of("").toAbsolutePath();
        while (dir != null && !Files.exists(dir.resolve(relative))) {
            dir = dir.getParent();
        }
        check(dir != null, relative + " not found above " + Path.of("").toAbsolutePath());
        return dir.resolve(relative);
    }

    private static void check(boolean condition, String message) {
        if (!condition) {
            throw new IllegalStateException(message);
        }
    }
}

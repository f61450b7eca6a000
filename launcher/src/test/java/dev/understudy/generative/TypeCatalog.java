package dev.understudy.generative;

import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;
import java.util.function.Function;

/**
 * The PostgreSQL column types the generator draws from, each with the Avro type its contract field
 * needs (as docs/types.md gives it), its edge values and a generator of ordinary values (SQL literals, or NULL).
 * <p>
 * One list, so that it grows as type fidelity is fixed: a type the pipeline does not carry exactly
 * yet is in the list with {@code carried = false} and is drawn only with
 * {@code -Dgenerative.types=all}; enabling it for every run is flipping that one flag.
 */
final class TypeCatalog {
    private TypeCatalog() {
    }

    /**
     * @param ddl      the column type in DDL, also the target column's type (a copy keeps the type)
     * @param avro     the contract field's non-null Avro type as JSON
     * @param carried  whether the pipeline is expected to carry every value below exactly today
     * @param edges    edge values as SQL literals
     * @param ordinary an ordinary value as an SQL literal
     * @param legacyCheck a column constraint the legacy column needs to be carried ({@code %s} is the
     *                 quoted column name), or null
     */
    record PgType(String name, String ddl, String avro, boolean carried, List<String> edges,
                  Function<SplittableRandom, String> ordinary, String legacyCheck) {
        PgType(String name, String ddl, String avro, boolean carried, List<String> edges, Function<SplittableRandom, String> ordinary) {
            this(name, ddl, avro, carried, edges, ordinary, null);
        }

        /** A value for a column of this type: NULL now and then, an edge value often, else an ordinary one. */
        String value(SplittableRandom r) {
            int dice = r.nextInt(100);
            if (dice < 10) {
                return "NULL";
            }
            if (dice < 40 && !edges.isEmpty()) {
                return edges.get(r.nextInt(edges.size()));
            }
            return ordinary.apply(r);
        }
    }

    static final String INT = "\"int\"";
    static final String LONG = "\"long\"";
    static final String STRING = "\"string\"";

    /** Every type, carried or not. Adding a type is one entry; enabling one is its {@code carried} flag. */
    static final List<PgType> ALL = List.of(
            new PgType("smallint", "smallint", INT, true, List.of("-32768", "32767", "0"),
                    r -> Integer.toString(r.nextInt(-500, 500))),
            new PgType("integer", "integer", INT, true, List.of("-2147483648", "2147483647", "0"),
                    r -> Integer.toString(r.nextInt())),
            new PgType("bigint", "bigint", LONG, true, List.of("-9223372036854775808", "9223372036854775807", "0"),
                    r -> Long.toString(r.nextLong())),
            new PgType("numeric(12,2)", "numeric(12,2)", STRING, true, List.of("0.00", "-9999999999.99", "9999999999.99", "0.01"),
                    r -> String.format("%d.%02d", r.nextInt(-100_000, 100_000), r.nextInt(100))),
            new PgType("numeric", "numeric", STRING, true,
                    List.of("'NaN'", "0.000000000000000000001", "123456789012345678901234567890.123456789", "-0.5", "1e30"),
                    r -> r.nextInt(-1_000_000, 1_000_000) + "." + r.nextInt(1_000)),
            new PgType("real", "real", "\"float\"", true, List.of("'NaN'", "'-0'", "3.4028235e38", "1.4e-45", "0.1"),
                    r -> Float.toString((float) r.nextDouble(-1e6, 1e6))),
            new PgType("double precision", "double precision", "\"double\"", true,
                    List.of("'NaN'", "'-0'", "1.7976931348623157e308", "4.9e-324", "0.1"),
                    r -> Double.toString(r.nextDouble(-1e9, 1e9))),
            new PgType("boolean", "boolean", "\"boolean\"", true, List.of("true", "false"), r -> r.nextBoolean() ? "true" : "false"),
            new PgType("text", "text", STRING, true, List.of("''", "' '", "'\u00fc\u00f1\u00ee\u00e7\u00f8d\u00e9 \u65e5\u672c \uD83D\uDE00'",
                    "'quote '' and \\ backslash'", "E'line\\nbreak\\ttab'"), Values::word),
            new PgType("varchar(40)", "varchar(40)", STRING, true, List.of("''", "'\u00e9t\u00e9'", "'" + "x".repeat(40) + "'"), Values::word),
            new PgType("char(3)", "char(3)", STRING, true, List.of("''", "'a'", "'abc'", "'\u00e4\u00f6\u00fc'"),
                    r -> "'" + (char) ('a' + r.nextInt(26)) + (char) ('a' + r.nextInt(26)) + "'"),
            new PgType("date", "date", "{\"type\":\"int\",\"logicalType\":\"date\"}", true,
                    List.of("'0001-01-01'", "'9999-12-31'", "'1970-01-01'", "'2000-02-29'", "'1969-12-31'"),
                    r -> "'" + java.time.LocalDate.ofEpochDay(r.nextInt(-40_000, 40_000)) + "'"),
            new PgType("timestamp", "timestamp", "{\"type\":\"long\",\"logicalType\":\"local-timestamp-micros\"}", true,
                    List.of("'0001-01-01 00:00:00'", "'9999-12-31 23:59:59.999999'", "'1970-01-01 00:00:00'", "'1969-12-31 23:59:59.999999'"),
                    r -> "'" + java.time.LocalDateTime.ofEpochSecond(r.nextLong(-2_000_000_000L, 4_000_000_000L), r.nextInt(1_000_000) * 1000,
                            java.time.ZoneOffset.UTC) + "'"),
            // In the servers' America/Sao_Paulo zone: a DST gap and an hour repeated at the end of DST.
            new PgType("timestamptz", "timestamptz", "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", true,
                    List.of("'0001-01-01 00:00:00+00'", "'9999-12-31 23:59:59.999999+00'", "'2018-11-04 00:30:00-03'",
                            "'2019-02-16 23:30:00-03'", "'2019-02-16 23:30:00-02'", "'1970-01-01 00:00:00+00'"),
                    r -> "'" + java.time.Instant.ofEpochSecond(r.nextLong(-2_000_000_000L, 4_000_000_000L), r.nextInt(1_000_000) * 1000L) + "'"),
            new PgType("time", "time", "{\"type\":\"long\",\"logicalType\":\"time-micros\"}", true,
                    List.of("'00:00:00'", "'23:59:59.999999'", "'12:00:00.000001'"),
                    r -> "'" + java.time.LocalTime.ofNanoOfDay(r.nextLong(86_400_000_000L) * 1000L) + "'"),
            new PgType("uuid", "uuid", STRING, true, List.of("'00000000-0000-0000-0000-000000000000'", "'ffffffff-ffff-ffff-ffff-ffffffffffff'"),
                    r -> "'" + new java.util.UUID(r.nextLong(), r.nextLong()) + "'"),
            new PgType("json", "json", STRING, true, List.of("'{}'", "'null'", "'{\"a\": [1, 2.50, \"x\"],  \"b\" : {\"\u00fc\": null}}'", "'\"\u00e9\"'"),
                    r -> "'{\"k\": " + r.nextInt(1000) + ", \"s\": \"v" + r.nextInt(100) + "\"}'"),
            new PgType("jsonb", "jsonb", STRING, true, List.of("'{}'", "'[]'", "'{\"b\": 1, \"a\": [true, null, 1.50]}'", "'\"\u65e5\"'"),
                    r -> "'{\"k\": " + r.nextInt(1000) + "}'"),
            new PgType("bytea", "bytea", "\"bytes\"", true, List.of("'\\x'", "'\\x00'", "'\\x00ff7f80'"),
                    r -> "'\\x" + java.util.HexFormat.of().formatHex(Values.bytes(r, r.nextInt(1, 24))) + "'"),
            new PgType("inet", "inet", STRING, true, List.of("'192.168.0.1/24'", "'::1'", "'10.0.0.1'"),
                    r -> "'10." + r.nextInt(256) + "." + r.nextInt(256) + "." + r.nextInt(256) + "'"),
            new PgType("cidr", "cidr", STRING, true, List.of("'10.0.0.0/8'", "'2001:db8::/32'"),
                    r -> "'192.168." + r.nextInt(256) + ".0/24'"),
            new PgType("macaddr", "macaddr", STRING, true, List.of("'08:00:2b:01:02:03'", "'ff:ff:ff:ff:ff:ff'"),
                    r -> "'08:00:2b:" + String.format("%02x:%02x:%02x", r.nextInt(256), r.nextInt(256), r.nextInt(256)) + "'"),
            new PgType("integer[]", "integer[]", STRING, true,
                    List.of("'{}'", "'{NULL}'", "'{-2147483648,2147483647}'"),
                    r -> "'{" + r.nextInt(100) + "," + r.nextInt(100) + "}'"),
            new PgType("text[]", "text[]", STRING, true,
                    List.of("'{}'", "'{\"\",NULL,\"a b\",\"\u00fc\\\\\\\"q\"}'"),
                    r -> "'{w" + r.nextInt(100) + ",\"x y\"}'"),
            new PgType("money", "money", STRING, true, List.of("0", "-1234.56", "92233720368547758.07"),
                    r -> r.nextInt(-100_000, 100_000) + "." + String.format("%02d", r.nextInt(100))),
            new PgType("xml", "xml", STRING, true, List.of("'<a b=\"1\">t\u00fc</a>'", "''"), r -> "'<v>" + r.nextInt(1000) + "</v>'"),

            // Edge values the capture's exact conversion carries (docs/types.md): BC, infinities, 24:00,
            // numeric infinities, n-dimensional arrays with bounds, bit strings.
            new PgType("date (BC, infinity)", "date", "{\"type\":\"int\",\"logicalType\":\"date\"}", true,
                    List.of("'4713-01-01 BC'", "'infinity'", "'-infinity'", "'5874897-12-31'", "'1582-10-10'"), r -> "'2020-01-01'"),
            new PgType("timestamptz (infinity)", "timestamptz", "{\"type\":\"long\",\"logicalType\":\"timestamp-micros\"}", true,
                    List.of("'infinity'", "'-infinity'", "'4713-01-01 00:00:00+00 BC'", "'294246-12-31 23:59:59.999999+00'"),
                    r -> "'2020-01-01 00:00:00+00'"),
            new PgType("timestamp (infinity)", "timestamp", "{\"type\":\"long\",\"logicalType\":\"local-timestamp-micros\"}", true,
                    List.of("'infinity'", "'-infinity'", "'4713-01-01 00:00:00 BC'"), r -> "'2020-01-01 00:00:00'"),
            new PgType("time 24:00", "time", "{\"type\":\"long\",\"logicalType\":\"time-micros\"}", true, List.of("'24:00:00'"),
                    r -> "'12:00:00'"),
            new PgType("numeric (infinity)", "numeric", STRING, true, List.of("'Infinity'", "'-Infinity'"), r -> "1.5"),
            new PgType("integer[][]", "integer[]", STRING, true,
                    List.of("'{{1,2},{3,4}}'", "'[0:1]={5,6}'", "'{{NULL}}'"), r -> "'{1}'"),
            new PgType("bit varying", "bit varying", STRING, true, List.of("B'101'", "B''"), r -> "B'1'"),
            new PgType("bit(8)", "bit(8)", STRING, true, List.of("B'10100101'"), r -> "B'00000001'"),

            // An interval is carried when a CHECK proves its values finite and its hours under 2^31
            // (docs/types.md); without one the start is refused, which no trial could pass.
            new PgType("interval", "interval", STRING, true, List.of("'1 day'", "'00:00:00.000001'", "'1 mon'", "'-178000000 years'",
                    "'1 year 2 mons 3 days 04:05:06.789'", "'-1 day +02:03:04'", "'2147483647 hours'"),
                    r -> "'" + r.nextInt(1000) + " hours'", "CHECK (isfinite(%1$s) AND abs(extract(hour FROM %1$s)) < 2147483648)"),

            // Not carried exactly (docs/types.md): drawn with -Dgenerative.types=all. xml loses a
            // declaration that says only version 1.0 in PostgreSQL's own output.
            new PgType("xml (declaration)", "xml", STRING, false, List.of("'<?xml version=\"1.0\"?><a/>'"), r -> "'<a/>'"));

    /** The types drawn in this run: the carried ones, or all with -Dgenerative.types=all. */
    static List<PgType> drawable() {
        boolean all = "all".equals(System.getProperty("generative.types"));
        List<PgType> out = new ArrayList<>();
        for (PgType t : ALL) {
            if (all || t.carried()) {
                out.add(t);
            }
        }
        return out;
    }

    /** Small value generators shared by the generators. */
    static final class Values {
        private Values() {
        }

        private static final String[] SYLLABLES = {"ka", "lo", "mi", "\u00e9t", "\u00fc", "sa", "no", "\u65e5", "re", "'", " ", "ta"};

        /** A short word as an SQL literal, sometimes with unicode, a quote or a space. */
        static String word(SplittableRandom r) {
            return literal(plainWord(r));
        }

        static String plainWord(SplittableRandom r) {
            StringBuilder sb = new StringBuilder();
            int n = r.nextInt(1, 5);
            for (int i = 0; i < n; i++) {
                sb.append(SYLLABLES[r.nextInt(SYLLABLES.length)]);
            }
            return sb.toString();
        }

        /** A text long enough to be stored out of line (TOAST), as an SQL expression. */
        static String toasted(SplittableRandom r) {
            // md5 chains compress poorly, so the value stays out of line after compression.
            return "(SELECT string_agg(md5(" + r.nextInt(1_000_000) + " || '-' || g), '') FROM generate_series(1, " + r.nextInt(200, 400) + ") g)";
        }

        static byte[] bytes(SplittableRandom r, int n) {
            byte[] b = new byte[n];
            for (int i = 0; i < n; i++) {
                b[i] = (byte) r.nextInt(256);
            }
            return b;
        }

        static String literal(String s) {
            return "'" + s.replace("'", "''") + "'";
        }
    }
}

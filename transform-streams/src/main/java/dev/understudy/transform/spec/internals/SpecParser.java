package dev.understudy.transform.spec.internals;

import dev.cel.common.CelValidationResult;
import dev.understudy.schemas.Suggestions;
import dev.understudy.transform.spec.SpecProblem;
import org.apache.avro.Schema;
import org.apache.avro.SchemaParseException;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.error.Mark;
import org.yaml.snakeyaml.error.MarkedYAMLException;
import org.yaml.snakeyaml.error.YAMLException;
import org.yaml.snakeyaml.nodes.MappingNode;
import org.yaml.snakeyaml.nodes.Node;
import org.yaml.snakeyaml.nodes.NodeTuple;
import org.yaml.snakeyaml.nodes.ScalarNode;
import org.yaml.snakeyaml.nodes.SequenceNode;
import org.yaml.snakeyaml.nodes.Tag;

import java.io.IOException;
import java.io.InputStream;
import java.io.StringReader;
import java.math.BigInteger;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Pattern;

/**
 * Reads a spec file into a {@link SpecModel.Spec}, collecting every problem it can find without
 * the live legacy tables: YAML syntax, structure (unknown and missing keys), source aliases,
 * contracts and the coverage of their fields, keys, defaults, casts, and the syntax of CEL.
 *
 * <p>The file is read with SnakeYAML's {@code compose}, which stops at the node graph: each node
 * carries the {@link Mark} of where it starts (0-based line), so every problem names its line.
 * Implicit tags are resolved while composing (YAML 1.1 core resolver), so an unquoted {@code null},
 * {@code 3}, {@code 2.5} or {@code true} arrives as a scalar tagged null, int, float or bool, and a
 * quoted one as str; defaults rely on that.
 */
public final class SpecParser {
    static final List<String> TOP_KEYS = List.of("migration", "flyway", "sources", "targets");
    static final List<String> SOURCE_KEYS = List.of("table");
    static final List<String> TARGET_KEYS = List.of("table", "from", "contract", "key", "filter", "join", "columns");
    static final List<String> TARGET_REQUIRED = List.of("table", "from", "contract", "key", "columns");
    static final List<String> COLUMN_KINDS = List.of("column", "default", "expression", "cast");
    static final List<String> JOIN_KEYS = List.of("source", "on");
    private static final Pattern IDENTIFIER = Pattern.compile("[A-Za-z_][A-Za-z0-9_]*");
    static final List<String> CAST_KEYS = List.of("column", "to", "onFailure");
    private static final Pattern QUALIFIED = Pattern.compile("[A-Za-z_][A-Za-z0-9_$]*\\.[A-Za-z_][A-Za-z0-9_$]*");
    private static final Pattern VERSION = Pattern.compile("\\d+(\\.\\d+)*");

    private final Path file;
    private final String fileName;
    private final List<SpecProblem> problems = new ArrayList<>();
    // Every alias declared, valid or not: a target naming an alias whose table is wrong already has
    // that problem reported and must not also get "unknown alias".
    private final Set<String> aliases = new HashSet<>();

    private SpecParser(Path file) {
        this.file = file;
        this.fileName = file.toString();
    }

    /** The spec, or null when the file is not even a YAML mapping; problems in {@code out}. */
    public static SpecModel.Spec parse(Path file, List<SpecProblem> out) {
        SpecParser p = new SpecParser(file);
        SpecModel.Spec spec = p.parse();
        out.addAll(p.problems);
        return spec;
    }

    private SpecModel.Spec parse() {
        String text;
        try {
            text = Files.readString(file, StandardCharsets.UTF_8);
        } catch (IOException e) {
            problems.add(new SpecProblem(fileName, 1, "(file)", "cannot read the spec file (" + e + ")",
                    "check the path and its permissions"));
            return null;
        }
        Node root;
        try {
            root = new Yaml(new LoaderOptions()).compose(new StringReader(text));
        } catch (MarkedYAMLException e) {
            Mark m = e.getProblemMark() != null ? e.getProblemMark() : e.getContextMark();
            problems.add(new SpecProblem(fileName, m == null ? 1 : m.getLine() + 1, "(yaml)",
                    "not valid YAML: " + e.getProblem() + (e.getContext() == null ? "" : " " + e.getContext()),
                    "fix the YAML syntax at that line"));
            return null;
        } catch (YAMLException e) {
            problems.add(new SpecProblem(fileName, 1, "(yaml)", "not valid YAML: " + e.getMessage(), "fix the YAML syntax"));
            return null;
        }
        if (!(root instanceof MappingNode top)) {
            problems.add(new SpecProblem(fileName, root == null ? 1 : line(root), "(top)",
                    "the spec is not a mapping of keys", "start from the example in docs/spec-format.md"));
            return null;
        }
        Map<String, NodeTuple> keys = fields(top, "", TOP_KEYS, TOP_KEYS);
        String migration = string(keys.get("migration"), "migration");
        String flyway = string(keys.get("flyway"), "flyway");
        if (flyway != null && !VERSION.matcher(flyway).matches()) {
            add(keys.get("flyway").getValueNode(), "flyway", "'" + flyway + "' is not a Flyway version",
                    "give the target's schema version as dotted numbers, quoted, e.g. flyway: \"1.2\"");
        }
        Map<String, SpecModel.Source> sources = sources(keys.get("sources"));
        List<SpecModel.Target> targets = targets(keys.get("targets"), sources);
        return new SpecModel.Spec(file, migration, flyway, sources, targets);
    }

    private Map<String, SpecModel.Source> sources(NodeTuple tuple) {
        Map<String, SpecModel.Source> out = new LinkedHashMap<>();
        MappingNode node = mapping(tuple, "sources");
        if (node == null) {
            return out;
        }
        if (node.getValue().isEmpty()) {
            add(node, "sources", "no sources", "name at least one legacy table, e.g. users: { table: public.users }");
        }
        for (Map.Entry<String, NodeTuple> e : entries(node, "sources").entrySet()) {
            String path = "sources." + e.getKey();
            aliases.add(e.getKey());
            MappingNode src = mapping(e.getValue(), path);
            if (src == null) {
                continue;
            }
            Map<String, NodeTuple> keys = fields(e.getValue().getKeyNode(), src, path, SOURCE_KEYS, SOURCE_KEYS);
            String table = qualified(keys.get("table"), path + ".table");
            if (table != null) {
                out.put(e.getKey(), new SpecModel.Source(e.getKey(), path, line(e.getValue().getKeyNode()), table));
            }
        }
        return out;
    }

    private List<SpecModel.Target> targets(NodeTuple tuple, Map<String, SpecModel.Source> sources) {
        List<SpecModel.Target> out = new ArrayList<>();
        MappingNode node = mapping(tuple, "targets");
        if (node == null) {
            return out;
        }
        if (node.getValue().isEmpty()) {
            add(node, "targets", "no targets", "describe at least one target table");
        }
        Map<String, String> tables = new LinkedHashMap<>();
        for (Map.Entry<String, NodeTuple> e : entries(node, "targets").entrySet()) {
            SpecModel.Target t = target(e.getKey(), e.getValue(), sources);
            if (t == null) {
                continue;
            }
            String other = tables.putIfAbsent(t.table(), t.name());
            if (other != null) {
                add(e.getValue().getKeyNode(), t.path() + ".table", "target table " + t.table() + " is also target '" + other + "'",
                        "describe each target table once; a target table has one source row per key");
            } else {
                out.add(t);
            }
        }
        return out;
    }

    private SpecModel.Target target(String name, NodeTuple tuple, Map<String, SpecModel.Source> sources) {
        String path = "targets." + name;
        MappingNode node = mapping(tuple, path);
        if (node == null) {
            return null;
        }
        int problemsBefore = problems.size();
        Map<String, NodeTuple> keys = fields(tuple.getKeyNode(), node, path, TARGET_KEYS, TARGET_REQUIRED);
        String table = qualified(keys.get("table"), path + ".table");
        String from = string(keys.get("from"), path + ".from");
        String sourceTable = null;
        boolean sourceInvalid = false;
        if (from != null) {
            SpecModel.Source source = sources.get(from);
            if (source == null && aliases.contains(from)) {
                sourceInvalid = true;
            } else if (source == null) {
                add(keys.get("from").getValueNode(), path + ".from", "unknown source alias '" + from + "'",
                        "use one of the aliases under sources: " + new TreeSet<>(aliases) + "." + Suggestions.didYouMean(from, aliases));
            } else {
                sourceTable = source.table();
            }
        }
        String contractName = string(keys.get("contract"), path + ".contract");
        Schema contract = contractName == null ? null : contract(contractName, keys.get("contract").getValueNode(), path + ".contract");
        SpecModel.Expression filter = null;
        if (keys.containsKey("filter")) {
            String text = string(keys.get("filter"), path + ".filter");
            if (text != null) {
                filter = new SpecModel.Expression(null, path + ".filter", line(keys.get("filter").getValueNode()), text);
                celSyntax(filter, keys.get("filter").getValueNode());
            }
        }
        SpecModel.Join join = keys.containsKey("join") ? join(keys.get("join"), path + ".join", sources) : null;
        Map<String, SpecModel.Column> columns = contract == null ? Map.of() : columns(keys.get("columns"), path + ".columns", contract);
        List<String> key = contract == null ? List.of() : key(keys.get("key"), path + ".key", contract, columns);
        joinedReads(columns, join, keys.containsKey("join"), key);
        if (problems.size() > problemsBefore || sourceInvalid) {
            return null;
        }
        return new SpecModel.Target(name, path, line(tuple.getKeyNode()), table, from, line(keys.get("from").getValueNode()), sourceTable,
                contractName, contract, key, line(keys.get("key").getValueNode()), filter, columns, join);
    }

    /**
     * A target's join. One foreign key to one other source is what the streams implementation
     * supports (a single KIP-213 foreign-key join per target), so more is rejected here.
     */
    private SpecModel.Join join(NodeTuple tuple, String path, Map<String, SpecModel.Source> sources) {
        MappingNode node = mapping(tuple, path);
        if (node == null) {
            return null;
        }
        Map<String, NodeTuple> entries = entries(node, path);
        if (entries.size() != 1) {
            add(tuple.getKeyNode(), path, entries.isEmpty() ? "no joined source" : "joins " + entries.size() + " sources "
                    + entries.keySet() + "; a target can join at most one other source",
                    "keep one join (one foreign key to one source's primary key) per target; this version supports no more");
            return null;
        }
        Map.Entry<String, NodeTuple> only = entries.entrySet().iterator().next();
        String alias = only.getKey();
        String joinPath = path + "." + alias;
        if (!IDENTIFIER.matcher(alias).matches()) {
            add(only.getValue().getKeyNode(), joinPath, "join alias '" + alias + "' is not a plain name",
                    "name the joined row with letters, digits and _, e.g. customer");
            return null;
        }
        MappingNode j = mapping(only.getValue(), joinPath);
        if (j == null) {
            return null;
        }
        Map<String, NodeTuple> keys = fields(only.getValue().getKeyNode(), j, joinPath, JOIN_KEYS, JOIN_KEYS);
        String source = string(keys.get("source"), joinPath + ".source");
        String table = null;
        if (source != null) {
            SpecModel.Source s = sources.get(source);
            if (s != null) {
                table = s.table();
            } else if (!aliases.contains(source)) {
                add(keys.get("source").getValueNode(), joinPath + ".source", "unknown source alias '" + source + "'",
                        "use one of the aliases under sources: " + new TreeSet<>(aliases) + "." + Suggestions.didYouMean(source, aliases));
            }
        }
        MappingNode on = mapping(keys.get("on"), joinPath + ".on");
        String foreignKey = null;
        String referenced = null;
        int onLine = keys.get("on") == null ? line(j) : line(keys.get("on").getValueNode());
        if (on != null) {
            Map<String, NodeTuple> pairs = entries(on, joinPath + ".on");
            if (pairs.size() != 1) {
                add(keys.get("on").getValueNode(), joinPath + ".on", pairs.isEmpty() ? "no foreign key column"
                        : "joins on " + pairs.size() + " columns " + pairs.keySet() + "; a join matches one foreign key column",
                        "write on: { <column of the from row>: <primary key column of " + (table == null ? "the joined source" : table)
                                + "> }; composite foreign keys are not supported");
            } else {
                Map.Entry<String, NodeTuple> pair = pairs.entrySet().iterator().next();
                foreignKey = pair.getKey();
                referenced = string(pair.getValue(), joinPath + ".on." + foreignKey);
            }
        }
        if (table == null || foreignKey == null || referenced == null) {
            return null;
        }
        return new SpecModel.Join(alias, joinPath, line(only.getValue().getKeyNode()), source, table, foreignKey, referenced, onLine);
    }

    /** Columns read as {@code alias.column} must name the joined alias, and key columns must come from the driving row. */
    private void joinedReads(Map<String, SpecModel.Column> columns, SpecModel.Join join, boolean joinDeclared, List<String> key) {
        for (SpecModel.Column c : columns.values()) {
            String column = SpecModel.readColumn(c);
            if (column == null || !column.contains(".")) {
                continue;
            }
            String alias = column.substring(0, column.indexOf('.'));
            if (join == null || !join.alias().equals(alias)) {
                if (join == null && joinDeclared) {
                    continue; // the join itself is reported
                }
                add(c, "'" + column + "' reads alias '" + alias + "', which this target does not join",
                        join == null ? "add join: { " + alias + ": { source: ..., on: { <fk column>: <key column> } } } to the target, or read a column of the from row"
                                : "read the joined alias '" + join.alias() + "' (e.g. " + join.alias() + "." + column.substring(alias.length() + 1)
                                + ") or a column of the from row");
            } else if (key.contains(c.field())) {
                add(c, "key column '" + c.field() + "' reads the joined row", "copy key columns from the from row: the target key of a "
                        + "delete is built from the driving row's key alone");
            }
        }
    }

    private void add(SpecModel.Column c, String problem, String fix) {
        problems.add(new SpecProblem(fileName, c.line(), c.path(), problem, fix));
    }

    /** A contract: a file next to the spec, else {@code contracts/<name>} on the classpath. */
    private Schema contract(String name, Node at, String path) {
        Path beside = file.toAbsolutePath().getParent().resolve(name);
        try {
            Schema schema;
            if (Files.isRegularFile(beside)) {
                schema = new Schema.Parser().parse(beside.toFile());
            } else {
                try (InputStream in = SpecParser.class.getClassLoader().getResourceAsStream("contracts/" + name)) {
                    if (in == null) {
                        add(at, path, "contract '" + name + "' is neither a file next to the spec (" + beside
                                + ") nor contracts/" + name + " on the classpath", "put the Avro contract next to the spec or fix its name");
                        return null;
                    }
                    schema = new Schema.Parser().parse(in);
                }
            }
            if (schema.getType() != Schema.Type.RECORD) {
                add(at, path, "contract '" + name + "' is an Avro " + schema.getType().getName() + ", not a record",
                        "a contract describes a row: make it an Avro record with one field per target column");
                return null;
            }
            return schema;
        } catch (IOException | SchemaParseException e) {
            add(at, path, "contract '" + name + "' is not a valid Avro schema (" + e.getMessage() + ")", "fix the .avsc file");
            return null;
        }
    }

    private Map<String, SpecModel.Column> columns(NodeTuple tuple, String path, Schema contract) {
        MappingNode node = mapping(tuple, path);
        if (node == null) {
            return Map.of();
        }
        List<String> fields = contract.getFields().stream().map(Schema.Field::name).toList();
        Map<String, SpecModel.Column> read = new LinkedHashMap<>();
        for (Map.Entry<String, NodeTuple> e : entries(node, path).entrySet()) {
            String field = e.getKey();
            String colPath = path + "." + field;
            Schema.Field f = contract.getField(field);
            if (f == null) {
                add(e.getValue().getKeyNode(), colPath, "column '" + field + "' is not in contract " + contract.getFullName(),
                        "map only the contract's fields " + fields + "." + Suggestions.didYouMean(field, fields));
                continue;
            }
            SpecModel.Column c = column(field, f.schema(), e.getValue(), colPath);
            if (c != null) {
                read.put(field, c);
            }
        }
        Map<String, SpecModel.Column> ordered = new LinkedHashMap<>();
        for (Schema.Field f : contract.getFields()) {
            SpecModel.Column c = read.get(f.name());
            if (c != null) {
                ordered.put(f.name(), c);
            } else if (!hasKey(node, f.name())) {
                add(tuple.getKeyNode(), path, "contract field '" + f.name() + "' (" + AvroCel.describe(f.schema()) + ") is not covered",
                        "add " + f.name() + ": { column: ... } (or default, expression, cast) under " + path);
            }
        }
        return ordered;
    }

    private SpecModel.Column column(String field, Schema fieldSchema, NodeTuple tuple, String path) {
        MappingNode node = mapping(tuple, path);
        if (node == null) {
            return null;
        }
        Map<String, NodeTuple> keys = fields(node, path, COLUMN_KINDS, List.of());
        if (keys.size() != 1) {
            if (!keys.isEmpty() || node.getValue().isEmpty()) {
                add(tuple.getKeyNode(), path, keys.isEmpty() ? "no value source" : "more than one value source " + keys.keySet(),
                        "give exactly one of " + COLUMN_KINDS);
            }
            return null;
        }
        Map.Entry<String, NodeTuple> only = keys.entrySet().iterator().next();
        String kind = only.getKey();
        Node value = only.getValue().getValueNode();
        String kindPath = path + "." + kind;
        int line = line(value);
        switch (kind) {
            case "column" -> {
                String column = string(only.getValue(), kindPath);
                return column == null ? null : new SpecModel.Copy(field, kindPath, line, column);
            }
            case "default" -> {
                Object constant = constant(value, fieldSchema, kindPath, field);
                return constant == INVALID ? null : new SpecModel.Constant(field, kindPath, line, constant);
            }
            case "expression" -> {
                String text = string(only.getValue(), kindPath);
                if (text == null) {
                    return null;
                }
                if (AvroCel.primitive(fieldSchema).isEmpty()) {
                    add(value, kindPath, "column '" + field + "' is Avro " + AvroCel.describe(fieldSchema) + ", which CEL values cannot fill",
                            "fill it with column or default instead");
                    return null;
                }
                SpecModel.Expression expr = new SpecModel.Expression(field, kindPath, line, text);
                return celSyntax(expr, value) ? expr : null;
            }
            default -> {
                return cast(field, fieldSchema, only.getValue(), kindPath);
            }
        }
    }

    private SpecModel.Cast cast(String field, Schema fieldSchema, NodeTuple tuple, String path) {
        MappingNode node = mapping(tuple, path);
        if (node == null) {
            return null;
        }
        Map<String, NodeTuple> keys = fields(tuple.getKeyNode(), node, path, CAST_KEYS, CAST_KEYS);
        String column = string(keys.get("column"), path + ".column");
        String to = string(keys.get("to"), path + ".to");
        // An unquoted `null` resolves to the YAML null tag; as a policy it means the policy named null.
        NodeTuple policyTuple = keys.get("onFailure");
        String onFailure = policyTuple != null && policyTuple.getValueNode() instanceof ScalarNode ps
                && Tag.NULL.equals(ps.getTag()) && ps.getValue().equals("null")
                ? "null" : string(policyTuple, path + ".onFailure");
        Casts.To target = null;
        if (to != null) {
            target = Casts.To.of(to).orElse(null);
            if (target == null) {
                add(keys.get("to").getValueNode(), path + ".to", "cannot cast to '" + to + "'",
                        "cast to one of " + Casts.To.names() + "." + Suggestions.didYouMean(to, Casts.To.names()));
            } else if (!AvroCel.copyFits(target.schema(), fieldSchema)) {
                add(keys.get("to").getValueNode(), path + ".to", "a cast to " + to + " does not fit column '" + field
                        + "', which is Avro " + AvroCel.describe(fieldSchema), "cast to the column's own type");
                target = null;
            }
        }
        Casts.OnFailure policy = null;
        if (onFailure != null) {
            policy = Casts.OnFailure.of(onFailure).orElse(null);
            if (policy == null) {
                add(keys.get("onFailure").getValueNode(), path + ".onFailure", "unknown failure policy '" + onFailure + "'",
                        "use one of " + Casts.OnFailure.names() + "." + Suggestions.didYouMean(onFailure, Casts.OnFailure.names()));
            } else if (policy == Casts.OnFailure.NULL && !AvroCel.isNullable(fieldSchema)) {
                add(keys.get("onFailure").getValueNode(), path + ".onFailure", "column '" + field + "' is not nullable, so a failed cast cannot set it null",
                        "use dead-letter or fail");
                policy = null;
            }
        }
        if (column == null || target == null || policy == null) {
            return null;
        }
        return new SpecModel.Cast(field, path, line(node), column, target, policy);
    }

    private static final Object INVALID = new Object();

    /** A YAML constant as a value of the field's Avro type, or INVALID (problem reported). */
    private Object constant(Node value, Schema fieldSchema, String path, String field) {
        String fix = "give a constant of the column's type (" + AvroCel.describe(fieldSchema) + ")";
        if (!(value instanceof ScalarNode s)) {
            add(value, path, "a default must be a single constant (null, string, number or boolean)", fix);
            return INVALID;
        }
        Schema t = AvroCel.nonNull(fieldSchema);
        Tag tag = s.getTag();
        String text = s.getValue();
        String logical = AvroCel.logicalName(t);
        try {
            if (Tag.NULL.equals(tag)) {
                if (AvroCel.isNullable(fieldSchema)) {
                    return null;
                }
            } else if (Tag.BOOL.equals(tag)) {
                if (t.getType() == Schema.Type.BOOLEAN) {
                    return Boolean.parseBoolean(text.toLowerCase());
                }
            } else if (Tag.INT.equals(tag)) {
                BigInteger i = new BigInteger(text.replace("_", ""));
                if (logical == null) {
                    switch (t.getType()) {
                        case INT -> {
                            return i.intValueExact();
                        }
                        case LONG -> {
                            return i.longValueExact();
                        }
                        case FLOAT -> {
                            return i.floatValue();
                        }
                        case DOUBLE -> {
                            return i.doubleValue();
                        }
                        default -> {
                        }
                    }
                }
            } else if (Tag.FLOAT.equals(tag)) {
                if (t.getType() == Schema.Type.DOUBLE) {
                    return Double.parseDouble(text.replace("_", ""));
                }
                if (t.getType() == Schema.Type.FLOAT) {
                    return Float.parseFloat(text.replace("_", ""));
                }
            } else if (Tag.STR.equals(tag)) {
                if (t.getType() == Schema.Type.STRING) {
                    return text;
                }
            }
        } catch (ArithmeticException | NumberFormatException e) {
            add(value, path, "default " + text + " is out of range for column '" + field + "'", fix);
            return INVALID;
        }
        add(value, path, "default " + (Tag.STR.equals(tag) ? "'" + text + "'" : text) + " (" + tagName(tag)
                + ") does not fit column '" + field + "', which is Avro " + AvroCel.describe(fieldSchema), fix);
        return INVALID;
    }

    private static String tagName(Tag tag) {
        if (Tag.NULL.equals(tag)) {
            return "null";
        }
        if (Tag.BOOL.equals(tag)) {
            return "boolean";
        }
        if (Tag.INT.equals(tag)) {
            return "integer";
        }
        if (Tag.FLOAT.equals(tag)) {
            return "number";
        }
        return Tag.STR.equals(tag) ? "string" : tag.getValue();
    }

    private List<String> key(NodeTuple tuple, String path, Schema contract, Map<String, SpecModel.Column> columns) {
        if (tuple == null) {
            return List.of(); // reported as a missing key
        }
        Node value = tuple.getValueNode();
        if (!(value instanceof SequenceNode seq) || seq.getValue().isEmpty()) {
            add(value, path, "the key must be a non-empty list of contract fields", "write e.g. key: [id]");
            return List.of();
        }
        List<String> fields = contract.getFields().stream().map(Schema.Field::name).toList();
        List<String> key = new ArrayList<>();
        int lastPos = -1;
        for (Node n : seq.getValue()) {
            if (!(n instanceof ScalarNode s)) {
                add(n, path, "a key column must be a name", "write e.g. key: [id]");
                continue;
            }
            String name = s.getValue();
            Schema.Field f = contract.getField(name);
            if (f == null) {
                add(n, path, "key column '" + name + "' is not in contract " + contract.getFullName(),
                        "use the contract's primary key fields, from " + fields + "." + Suggestions.didYouMean(name, fields));
                continue;
            }
            if (key.contains(name)) {
                add(n, path, "key column '" + name + "' is listed twice", "list each key column once");
                continue;
            }
            if (f.pos() < lastPos) {
                add(n, path, "key column '" + name + "' comes before '" + key.get(key.size() - 1) + "' in the contract",
                        "list key columns in contract order, as the target capture builds the key from the table's columns in order");
            }
            lastPos = Math.max(lastPos, f.pos());
            if (AvroCel.isNullable(f.schema())) {
                add(n, path, "key column '" + name + "' is nullable in the contract", "make the contract field non-null: a primary key column has a value");
            }
            Schema.Type type = AvroCel.nonNull(f.schema()).getType();
            if (type != Schema.Type.INT && type != Schema.Type.LONG && type != Schema.Type.STRING && type != Schema.Type.BYTES
                    && type != Schema.Type.BOOLEAN && type != Schema.Type.FIXED) {
                add(n, path, "key column '" + name + "' is Avro " + AvroCel.describe(f.schema()) + ", which cannot key rows exactly",
                        "key by integer, text, bytes or boolean columns");
            }
            SpecModel.Column c = columns.get(name);
            if (c != null && !(c instanceof SpecModel.Copy)) {
                add(n, path, "key column '" + name + "' is not a copy of a source column",
                        "map it with column: — the key must be computable from a delete's key-only row image and the legacy record key");
            }
            key.add(name);
        }
        return key;
    }

    private boolean celSyntax(SpecModel.Expression expr, Node at) {
        // Parsing only: whether the expression is well-formed CEL. Type checking needs the source
        // columns' declarations and happens in SourceChecker.
        CelValidationResult r = CelEnv.parser().parse(expr.text());
        if (r.hasError()) {
            add(at, expr.path(), "'" + expr.text() + "' is not valid CEL: " + CelIssues.summary(r), "fix the expression's syntax (CEL language definition)");
            return false;
        }
        return true;
    }

    // --- structure helpers ---------------------------------------------------------------------

    /** The entries of a mapping; unknown keys (naming the allowed ones), duplicates and missing required keys are problems. */
    private Map<String, NodeTuple> fields(MappingNode node, String path, List<String> allowed, List<String> required) {
        return fields(node, node, path, allowed, required);
    }

    /** As above; a missing key is reported at {@code owner}, the key whose mapping lacks it. */
    private Map<String, NodeTuple> fields(Node owner, MappingNode node, String path, List<String> allowed, List<String> required) {
        Map<String, NodeTuple> out = new LinkedHashMap<>();
        for (Map.Entry<String, NodeTuple> e : entries(node, path).entrySet()) {
            if (!allowed.contains(e.getKey())) {
                add(e.getValue().getKeyNode(), join(path, e.getKey()), "unknown key '" + e.getKey() + "'",
                        "allowed keys here are " + allowed + "." + Suggestions.didYouMean(e.getKey(), allowed));
                continue;
            }
            out.put(e.getKey(), e.getValue());
        }
        for (String r : required) {
            if (!out.containsKey(r) && !hasKey(node, r)) {
                add(owner, join(path, r), "missing required key '" + r + "'", "add " + r + ": under " + (path.isEmpty() ? "the top level" : path));
            }
        }
        return out;
    }

    private Map<String, NodeTuple> entries(MappingNode node, String path) {
        Map<String, NodeTuple> out = new LinkedHashMap<>();
        Set<String> seen = new HashSet<>();
        for (NodeTuple t : node.getValue()) {
            if (!(t.getKeyNode() instanceof ScalarNode k)) {
                add(t.getKeyNode(), path, "a key must be a plain name", "write key: value");
                continue;
            }
            // compose does not reject duplicate keys (constructing objects would); a later duplicate
            // would silently win, so it is a problem here.
            if (!seen.add(k.getValue())) {
                add(k, join(path, k.getValue()), "duplicate key '" + k.getValue() + "'", "keep one of them");
                continue;
            }
            out.put(k.getValue(), t);
        }
        return out;
    }

    private static boolean hasKey(MappingNode node, String key) {
        return node.getValue().stream().anyMatch(t -> t.getKeyNode() instanceof ScalarNode k && k.getValue().equals(key));
    }

    private MappingNode mapping(NodeTuple tuple, String path) {
        if (tuple == null) {
            return null;
        }
        Node v = tuple.getValueNode();
        if (v instanceof MappingNode m) {
            return m;
        }
        add(v, path, "expected a mapping of keys, found " + kindOf(v), "write " + path.substring(path.lastIndexOf('.') + 1) + ": { key: value, ... }");
        return null;
    }

    private String string(NodeTuple tuple, String path) {
        if (tuple == null) {
            return null;
        }
        Node v = tuple.getValueNode();
        if (v instanceof ScalarNode s && !Tag.NULL.equals(s.getTag()) && !s.getValue().isBlank()) {
            return s.getValue();
        }
        add(v, path, "expected a value, found " + kindOf(v), "give " + path.substring(path.lastIndexOf('.') + 1) + " a text value");
        return null;
    }

    private String qualified(NodeTuple tuple, String path) {
        String table = string(tuple, path);
        if (table != null && !QUALIFIED.matcher(table).matches()) {
            add(tuple.getValueNode(), path, "table '" + table + "' is not schema-qualified", "write it as schema.table, e.g. public." + table);
            return null;
        }
        return table;
    }

    private static String kindOf(Node v) {
        if (v instanceof MappingNode) {
            return "a mapping";
        }
        if (v instanceof SequenceNode) {
            return "a list";
        }
        ScalarNode s = (ScalarNode) v;
        return Tag.NULL.equals(s.getTag()) || s.getValue().isBlank() ? "nothing" : "'" + s.getValue() + "'";
    }

    private static String join(String path, String key) {
        return path.isEmpty() ? key : path + "." + key;
    }

    static int line(Node n) {
        // SnakeYAML marks are 0-based; editors and compilers count lines from 1.
        return n.getStartMark().getLine() + 1;
    }

    private void add(Node at, String path, String problem, String fix) {
        problems.add(new SpecProblem(fileName, line(at), path, problem, fix));
    }
}

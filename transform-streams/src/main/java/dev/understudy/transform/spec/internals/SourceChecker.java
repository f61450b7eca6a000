package dev.understudy.transform.spec.internals;

import dev.understudy.schemas.Suggestions;
import dev.cel.bundle.Cel;
import dev.cel.common.CelAbstractSyntaxTree;
import dev.cel.common.CelIssue;
import dev.cel.common.CelValidationException;
import dev.cel.common.CelValidationResult;
import dev.cel.common.types.CelKind;
import dev.cel.common.types.CelType;
import dev.cel.common.types.MapType;
import dev.cel.common.types.SimpleType;
import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.understudy.transform.spec.SpecProblem;
import org.apache.avro.Schema;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * Checks one target against the row schema of its legacy table: the columns it reads exist and
 * fit, and its CEL expressions type-check with one variable per source column. Yields the compiled
 * programs, so a check that passes is also the compilation the mapping evaluates with.
 */
public final class SourceChecker {
    private static final Pattern UNDECLARED = Pattern.compile("undeclared reference to '([^']+)'");

    /** A target compiled against one source row schema; {@code filter} is null without a filter. */
    public record Compiled(Schema sourceRow, List<String> variables, Map<String, CelRuntime.Program> programs,
                           CelRuntime.Program filter) {
    }

    private SourceChecker() {
    }

    /** The compiled target, or null when {@code problems} received problems. */
    public static Compiled check(String file, SpecModel.Target target, Schema sourceRow, List<SpecProblem> problems) {
        int before = problems.size();
        List<String> columns = sourceRow.getFields().stream().map(Schema.Field::name).toList();
        Map<String, CelType> variables = new LinkedHashMap<>();
        for (Schema.Field f : sourceRow.getFields()) {
            AvroCel.variable(f.schema()).ifPresent(t -> variables.put(f.name(), t));
        }
        SpecModel.Join join = target.join();
        if (join != null) {
            // The joined row is one variable, a map from column name to value: its row schema is not
            // known when the driving row's schema is, and a map keeps alias.column valid CEL either way.
            variables.put(join.alias(), MapType.create(SimpleType.STRING, SimpleType.DYN));
            if (sourceRow.getField(join.foreignKey()) == null) {
                problems.add(new SpecProblem(file, join.onLine(), join.path() + ".on", "unknown column '" + join.foreignKey()
                        + "' in legacy table " + target.sourceTable() + ", the foreign key of the join",
                        "use one of its columns " + columns + "." + Suggestions.didYouMean(join.foreignKey(), columns)));
            }
        }
        for (SpecModel.Column c : target.columns().values()) {
            String column = SpecModel.readColumn(c);
            if (column == null || target.isJoined(column)) {
                // Joined columns are checked against the joined row (checkJoined, or at run time).
                continue;
            }
            Schema.Field source = sourceRow.getField(column);
            if (source == null) {
                problems.add(unknownColumn(file, target, c.line(), c.path(), column, columns));
                continue;
            }
            Schema.Field field = target.contract().getField(c.field());
            if (c instanceof SpecModel.Copy && !AvroCel.copyFits(source.schema(), field.schema())) {
                problems.add(new SpecProblem(file, c.line(), c.path(), "source column '" + column + "' is Avro "
                        + AvroCel.describe(source.schema()) + ", which does not fit column '" + c.field() + "' (Avro "
                        + AvroCel.describe(field.schema()) + ")", "convert it with cast: { column: " + column + ", to: ..., onFailure: ... }"
                        + " or an expression"));
            }
            if (c instanceof SpecModel.Cast && AvroCel.primitive(source.schema()).isEmpty()) {
                problems.add(new SpecProblem(file, c.line(), c.path(), "source column '" + column + "' is Avro "
                        + AvroCel.describe(source.schema()) + ", which cannot be cast", "cast a text, number or boolean column"));
            }
        }
        Cel cel = CelEnv.withVariables(variables);
        Map<String, CelRuntime.Program> programs = new LinkedHashMap<>();
        for (SpecModel.Column c : target.columns().values()) {
            if (c instanceof SpecModel.Expression e) {
                Schema fieldSchema = target.contract().getField(e.field()).schema();
                compile(file, target, cel, e, columns, problems).ifPresent(ast -> {
                    CelType result = ast.getResultType();
                    if (!AvroCel.resultFits(result, fieldSchema)) {
                        problems.add(new SpecProblem(file, e.line(), e.path(), "'" + e.text() + "' yields CEL " + AvroCel.describe(result)
                                + ", which does not fit column '" + e.field() + "' (Avro " + AvroCel.describe(fieldSchema) + ", CEL "
                                + AvroCel.primitive(fieldSchema).map(CelType::name).orElse("none") + ")",
                                "make the expression yield the column's type, e.g. with int(), double(), string()"));
                    } else {
                        programs.put(e.field(), program(cel, ast));
                    }
                });
            }
        }
        CelRuntime.Program filter = null;
        if (target.filter() != null) {
            SpecModel.Expression f = target.filter();
            // The filter decides whether a driving row is in the target at all, before any join: it
            // sees the driving row's columns only.
            Cel filterCel = join == null ? cel : CelEnv.withVariables(columnVariables(variables, join));
            Optional<CelAbstractSyntaxTree> ast = compile(file, target, filterCel, f, columns, problems);
            if (ast.isPresent()) {
                CelKind kind = ast.get().getResultType().kind();
                if (kind != CelKind.BOOL && kind != CelKind.DYN) {
                    problems.add(new SpecProblem(file, f.line(), f.path(), "the filter '" + f.text() + "' yields CEL "
                            + AvroCel.describe(ast.get().getResultType()) + ", not bool",
                            "write a condition, e.g. email != null"));
                } else {
                    filter = program(filterCel, ast.get());
                }
            }
        }
        if (problems.size() > before) {
            return null;
        }
        // The variables bound from the driving row; the joined alias is bound from the joined row.
        return new Compiled(sourceRow, List.copyOf(columnVariables(variables, join).keySet()), programs, filter);
    }

    /**
     * Checks a target's join against the joined legacy table: the referenced column is that table's
     * whole primary key (when its key schema is known), and every joined column read exists and fits.
     */
    public static void checkJoined(String file, SpecModel.Target target, Schema joinedRow, Schema joinedKey, List<SpecProblem> problems) {
        SpecModel.Join join = target.join();
        List<String> columns = joinedRow.getFields().stream().map(Schema.Field::name).toList();
        if (joinedRow.getField(join.referencedColumn()) == null) {
            problems.add(new SpecProblem(file, join.onLine(), join.path() + ".on." + join.foreignKey(), "unknown column '"
                    + join.referencedColumn() + "' in legacy table " + join.table(), "reference its primary key; its columns are "
                    + columns + "." + Suggestions.didYouMean(join.referencedColumn(), columns)));
        } else if (joinedKey != null) {
            checkReferencedKey(file, join, joinedKey.getFields().stream().map(Schema.Field::name).toList(), problems);
        }
        for (SpecModel.Column c : target.columns().values()) {
            String column = SpecModel.readColumn(c);
            if (column == null || !target.isJoined(column)) {
                continue;
            }
            Schema.Field source = joinedRow.getField(join.column(column));
            if (source == null) {
                problems.add(new SpecProblem(file, c.line(), c.path(), "unknown column '" + join.column(column) + "' in legacy table "
                        + join.table() + " (joined as '" + join.alias() + "')", "use one of its columns " + columns + "."
                        + Suggestions.didYouMean(join.column(column), columns)));
                continue;
            }
            Schema.Field field = target.contract().getField(c.field());
            if (c instanceof SpecModel.Copy && !AvroCel.copyFits(source.schema(), field.schema())) {
                problems.add(new SpecProblem(file, c.line(), c.path(), "joined column '" + column + "' is Avro "
                        + AvroCel.describe(source.schema()) + ", which does not fit column '" + c.field() + "' (Avro "
                        + AvroCel.describe(field.schema()) + ")", "convert it with a cast or an expression"));
            }
        }
    }

    /**
     * A KIP-213 foreign-key join looks the joined row up by the joined table's key, so the referenced
     * column must be that whole key: a non-key column would match many rows, which the join cannot express.
     */
    public static void checkReferencedKey(String file, SpecModel.Join join, List<String> keyColumns, List<SpecProblem> problems) {
        if (!keyColumns.equals(List.of(join.referencedColumn()))) {
            problems.add(new SpecProblem(file, join.onLine(), join.path() + ".on." + join.foreignKey(), "column '" + join.referencedColumn()
                    + "' is not the primary key of legacy table " + join.table() + ", whose key is " + keyColumns,
                    "join on a foreign key that references the joined table's whole primary key"));
        }
    }

    private static Map<String, CelType> columnVariables(Map<String, CelType> variables, SpecModel.Join join) {
        Map<String, CelType> out = new LinkedHashMap<>(variables);
        if (join != null) {
            out.remove(join.alias());
        }
        return out;
    }

    private static Optional<CelAbstractSyntaxTree> compile(String file, SpecModel.Target target, Cel cel, SpecModel.Expression e,
                                                           List<String> columns, List<SpecProblem> problems) {
        CelValidationResult r = cel.compile(e.text());
        if (!r.hasError()) {
            try {
                return Optional.of(r.getAst());
            } catch (CelValidationException impossible) {
                throw new IllegalStateException(impossible);
            }
        }
        List<String> other = new ArrayList<>();
        for (CelIssue issue : r.getErrors()) {
            Matcher m = UNDECLARED.matcher(issue.getMessage());
            if (m.find()) {
                // Every source column is declared, so an undeclared reference is a column the table lacks.
                problems.add(unknownColumn(file, target, e.line(), e.path(), m.group(1), columns));
            } else {
                other.add(CelIssues.one(issue));
            }
        }
        if (!other.isEmpty()) {
            // CEL's conditional needs one type for both branches (CEL language definition, "Macros
            // and operators": _?_:_ is (bool, A, A) -> A); a null literal only joins a nullable type.
            String hint = other.stream().anyMatch(m -> m.contains("'_?_:_'") && m.contains("null"))
                    ? " To keep a null, return the nullable column itself, e.g. name == null ? name : name.upperAscii()." : "";
            problems.add(new SpecProblem(file, e.line(), e.path(), "'" + e.text() + "' does not compile: " + String.join("; ", other),
                    "fix the expression;" + hint + " source columns are variables of type int (int, long, dates as days, timestamps as"
                            + " epoch microseconds), double, string, bool or bytes, each possibly null"));
        }
        return Optional.empty();
    }

    private static CelRuntime.Program program(Cel cel, CelAbstractSyntaxTree ast) {
        try {
            return cel.createProgram(ast);
        } catch (CelEvaluationException e) {
            throw new IllegalStateException("CEL could not plan a checked expression", e);
        }
    }

    private static SpecProblem unknownColumn(String file, SpecModel.Target target, int line, String path, String column, List<String> columns) {
        return new SpecProblem(file, line, path, "unknown column '" + column + "' in legacy table " + target.sourceTable(),
                "use one of its columns " + columns + "." + Suggestions.didYouMean(column, columns));
    }
}

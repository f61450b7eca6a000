package dev.understudy.transform.spec;

import dev.understudy.transform.spec.internals.SourceChecker;
import dev.understudy.transform.spec.internals.SpecModel;
import dev.understudy.transform.spec.internals.SpecParser;
import org.apache.avro.Schema;

import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A declarative migration step read from a YAML spec file (format: docs/spec-format.md): which
 * legacy tables feed which target tables, and how each target column gets its value.
 *
 * <p>{@link #load} checks everything that does not need the live legacy tables and throws
 * {@link SpecException} with every problem found. {@link #validate} adds the checks against the
 * legacy row schemas (columns exist and fit, CEL type-checks); without them, the mappings run the
 * same checks on the first record of each legacy row schema they see.
 */
public final class MigrationSpec {
    private final SpecModel.Spec spec;
    private final List<SpecTableMapping> mappings;

    private MigrationSpec(SpecModel.Spec spec) {
        this.spec = spec;
        List<SpecTableMapping> m = new ArrayList<>();
        for (SpecModel.Target t : spec.targets()) {
            m.add(SpecTableMapping.of(spec.file().toString(), t));
        }
        this.mappings = List.copyOf(m);
    }

    /**
     * Reads and checks a spec: YAML syntax, structure, source aliases, contracts, keys, defaults,
     * casts and CEL syntax.
     *
     * @throws SpecException listing every problem, each as {@code <file>:<line>: <key path>: <problem>; <fix>}
     */
    public static MigrationSpec load(Path file) {
        List<SpecProblem> problems = new ArrayList<>();
        SpecModel.Spec spec = SpecParser.parse(file, problems);
        if (!problems.isEmpty()) {
            throw new SpecException(problems);
        }
        return new MigrationSpec(spec);
    }

    /**
     * Checks the spec against the row schemas of the live legacy tables (schema-qualified table name
     * to the Avro row schema the legacy capture produces): every source column named exists (with a
     * suggestion when it is misspelt) and fits its target column, and every expression and filter
     * type-checks with the columns as variables and yields the column's type (a filter: bool).
     *
     * @param sourceRows row schemas by legacy table, or null when they are not known (then only run time checks them)
     * @return every problem found; empty when the spec fits the tables
     */
    public List<SpecProblem> validate(Map<String, Schema> sourceRows) {
        return validate(sourceRows, null);
    }

    /**
     * As {@link #validate(Map)}, and with the legacy tables' key schemas (table to the Avro key
     * schema its capture produces, from {@link dev.understudy.schemas.KeySchemas}) also checks that
     * each join references the joined table's whole primary key. Without key schemas the join's key
     * is checked at run time, on the first record of the joined table.
     *
     * @param sourceKeys key schemas by legacy table, or null when they are not known
     */
    public List<SpecProblem> validate(Map<String, Schema> sourceRows, Map<String, Schema> sourceKeys) {
        List<SpecProblem> problems = new ArrayList<>();
        if (sourceRows == null) {
            return problems;
        }
        String file = spec.file().toString();
        for (SpecModel.Target t : spec.targets()) {
            Schema row = sourceRows.get(t.sourceTable());
            if (row == null) {
                problems.add(new SpecProblem(file, t.fromLine(), t.path() + ".from", "no row schema was given for legacy table "
                        + t.sourceTable(), "capture the table (it must exist in the legacy database) or fix the source's table name; known: "
                        + sourceRows.keySet()));
                continue;
            }
            SourceChecker.check(file, t, row, problems);
            if (t.join() != null) {
                Schema joined = sourceRows.get(t.join().table());
                if (joined == null) {
                    problems.add(new SpecProblem(file, t.join().line(), t.join().path() + ".source", "no row schema was given for legacy table "
                            + t.join().table(), "capture the table (it must exist in the legacy database) or fix the source's table name; known: "
                            + sourceRows.keySet()));
                } else {
                    SourceChecker.checkJoined(file, t, joined, sourceKeys == null ? null : sourceKeys.get(t.join().table()), problems);
                }
            }
        }
        return problems;
    }

    /** One mapping per target, in spec order. */
    public List<SpecTableMapping> mappings() {
        return mappings;
    }

    public Path file() {
        return spec.file();
    }

    /** The migration's name and version, e.g. {@code v1.2_add_birthdate_to_users}. */
    public String migration() {
        return spec.migration();
    }

    /** The Flyway schema version of the target that this spec needs, e.g. {@code 1.2}. */
    public String flyway() {
        return spec.flyway();
    }

    /** Source alias to legacy table, in spec order. */
    public Map<String, String> sources() {
        Map<String, String> out = new LinkedHashMap<>();
        spec.sources().forEach((alias, s) -> out.put(alias, s.table()));
        return out;
    }
}

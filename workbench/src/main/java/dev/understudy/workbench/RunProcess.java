package dev.understudy.workbench;

import dev.understudy.cli.Main;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.SqlNames;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.TimeUnit;

/**
 * {@code understudy run} of the users spec as a process of its own, on a new pipeline with a new
 * target database, for the benchmarks that charge CPU seconds and memory to the pipeline alone
 * ({@link ProcessUsage}). The Kafka broker, the registry and both PostgreSQL servers stay in the
 * embedded stack of the calling JVM. Closing stops the process (SIGTERM, then SIGKILL after 60 s)
 * and drops its replication slots.
 */
final class RunProcess implements AutoCloseable {
    static final String USERS_SPEC = "examples/users/v1.2_add_birthdate_to_users.yaml";
    private static final long POLL_MS = 200;

    private final EmbeddedStack stack;
    private final String name;
    private final String targetUrl;
    private final Path log;
    private final Process process;
    private final long startedNanos;

    private RunProcess(EmbeddedStack stack, String name, String targetUrl, Path log, Process process, long startedNanos) {
        this.stack = stack;
        this.name = name;
        this.targetUrl = targetUrl;
        this.log = log;
        this.process = process;
        this.startedNanos = startedNanos;
    }

    /** The users spec, written into {@code work} from the workbench's resources. */
    static Path usersSpec(Path work) throws IOException {
        Path spec = work.resolve("users.yaml");
        try (InputStream in = RunProcess.class.getClassLoader().getResourceAsStream(USERS_SPEC)) {
            if (in == null) {
                throw new IllegalStateException("The workbench was built without examples/users; rebuild it with mvn -pl workbench -am package");
            }
            Files.copy(in, spec, StandardCopyOption.REPLACE_EXISTING);
        }
        return spec;
    }

    /**
     * Starts {@code understudy run --spec spec} as pipeline {@code name}, into a new target database
     * of that name.
     *
     * @param overrides pipeline settings on top of the stack's connection settings
     * @param jfr       whether to record the process with Java Flight Recorder into {@code work/<name>.jfr}
     */
    static RunProcess start(EmbeddedStack stack, Path work, String name, Path spec, Map<String, String> overrides, String heap, boolean jfr)
            throws IOException, SQLException {
        String targetUrl = TransactionBenchmark.createTargetDatabase(stack, name);
        Path settings = work.resolve(name + ".properties");
        Map<String, String> values = new TreeMap<>(stack.connectionSettings());
        values.put(PipelineConfig.TARGET_JDBC_URL.name(), targetUrl);
        values.put(PipelineConfig.PIPELINE_NAME.name(), name);
        values.put(TransformConfig.STATE_DIR.name(), work.resolve("streams").resolve(name).toString());
        values.putAll(overrides);
        Properties p = new Properties();
        p.putAll(values);
        try (Writer out = Files.newBufferedWriter(settings, StandardCharsets.UTF_8)) {
            p.store(out, "understudy bench, pipeline " + name);
        }
        Path log = work.resolve(name + ".log");
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx" + heap));
        if (jfr) {
            command.add("-XX:StartFlightRecording=filename=" + work.resolve(name + ".jfr") + ",settings=profile");
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", settings.toString(),
                "--spec", spec.toString(), "--status-interval", "10"));
        long started = System.nanoTime();
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new RunProcess(stack, name, targetUrl, log, process, started);
    }

    String targetUrl() {
        return targetUrl;
    }

    Path log() {
        return log;
    }

    long pid() {
        return process.pid();
    }

    /** System.nanoTime() when the process was started. */
    long startedNanos() {
        return startedNanos;
    }

    /** CPU seconds of the process so far (NaN when unknown). */
    double cpuSeconds() {
        return ProcessUsage.cpuSeconds(process.pid()).orElse(Double.NaN);
    }

    /** Peak resident set of the process in MiB, -1 when unknown. */
    long peakRssMiB() {
        return ProcessUsage.peakRssMiB(process.pid()).orElse(-1L);
    }

    /**
     * Waits until the target table ({@code schema.table}) holds at least {@code expected} rows; returns
     * the System.nanoTime() it did. Cheap first (the table's insert and delete counters in
     * pg_stat_user_tables, which lag by up to about a second), then an exact count once close.
     */
    long awaitRows(String table, long expected, long sinceNanos, long timeoutSeconds) throws Exception {
        String relation = SqlNames.qualified(table);
        long deadline = sinceNanos + timeoutSeconds * 1_000_000_000L;
        long nextProgress = System.nanoTime() + 10_000_000_000L;
        long last = -1;
        String user = stack.target().user();
        String password = stack.target().password();
        while (System.nanoTime() < deadline) {
            if (!process.isAlive()) {
                throw new IllegalStateException("understudy run exited with status " + process.exitValue() + "; see " + log);
            }
            try (Connection c = DriverManager.getConnection(targetUrl, user, password); Statement s = c.createStatement()) {
                long approximate = 0;
                try (ResultSet rs = s.executeQuery("SELECT n_tup_ins - n_tup_del FROM pg_stat_user_tables WHERE relid = to_regclass('"
                        + relation.replace("'", "''") + "')")) {
                    if (rs.next()) {
                        approximate = rs.getLong(1);
                    }
                }
                if (approximate >= expected * 0.95 || expected <= 1) {
                    try (ResultSet rs = s.executeQuery(expected <= 1 ? "SELECT count(*) FROM (SELECT 1 FROM " + relation + " LIMIT 1) one"
                            : "SELECT count(*) FROM " + relation)) {
                        rs.next();
                        last = rs.getLong(1);
                    }
                    if (last >= expected) {
                        return System.nanoTime();
                    }
                } else {
                    last = approximate;
                }
            } catch (SQLException e) {
                // The table appears once Flyway has run; until then there is nothing to count.
            }
            if (System.nanoTime() >= nextProgress) {
                System.out.printf("  [%5.0fs] target holds about %,d of %,d rows%n", (System.nanoTime() - sinceNanos) / 1e9, Math.max(0, last),
                        expected);
                nextProgress += 10_000_000_000L;
            }
            Thread.sleep(POLL_MS);
        }
        throw new IllegalStateException("The target did not hold " + expected + " rows within " + timeoutSeconds + " s (about " + last
                + " so far); raise --timeout or see " + log);
    }

    /** Fails when the process has exited. */
    void checkAlive() {
        if (!process.isAlive()) {
            throw new IllegalStateException("understudy run exited with status " + process.exitValue() + "; see " + log);
        }
    }

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
        TransactionBenchmark.dropSlots(stack, name, targetUrl);
        System.out.println("  pipeline log: " + log);
    }
}

package dev.understudy.workbench;

import dev.understudy.schemas.SqlNames;
import dev.understudy.stack.EmbeddedStack;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.concurrent.TimeUnit;

/**
 * A pipeline under benchmark, running as a process of its own and writing into a target database of
 * its own, so that CPU seconds and memory are charged to it alone ({@link ProcessUsage}): Understudy's
 * {@code run} ({@link RunProcess}) or the peer pipeline ({@link PeerProcess}). The Kafka broker, the
 * registry and both PostgreSQL servers stay in the embedded stack of the calling JVM. Closing stops the
 * process (SIGTERM, then SIGKILL after 60 s) and drops its replication slots.
 */
abstract class BenchProcess implements AutoCloseable {
    private static final long POLL_MS = 200;

    protected final EmbeddedStack stack;
    protected final String name;
    private final String targetUrl;
    private final Path log;
    private final Process process;
    private final long startedNanos;
    private final Thread stopOnExit;

    BenchProcess(EmbeddedStack stack, String name, String targetUrl, Path log, Process process, long startedNanos) {
        this.stack = stack;
        this.name = name;
        this.targetUrl = targetUrl;
        this.log = log;
        this.process = process;
        this.startedNanos = startedNanos;
        // A child process outlives the JVM that started it; a benchmark stopped by a signal takes it along.
        this.stopOnExit = new Thread(process::destroyForcibly, name + "-stop");
        Runtime.getRuntime().addShutdownHook(stopOnExit);
    }

    /** What the process is, for messages: "understudy run", "the peer pipeline". */
    abstract String what();

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
            checkAlive();
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
                // The table appears once the target is migrated; until then there is nothing to count.
            }
            if (System.nanoTime() >= nextProgress) {
                System.out.printf("  [%5.0fs] target holds about %,d of %,d rows%n", (System.nanoTime() - sinceNanos) / 1e9, Math.max(0, last),
                        expected);
                nextProgress += 10_000_000_000L;
            }
            Thread.sleep(POLL_MS);
        }
        throw new IllegalStateException("The target of " + what() + " did not hold " + expected + " rows within " + timeoutSeconds
                + " s (about " + last + " so far); raise --timeout or see " + log);
    }

    /** Fails when the process has exited. */
    void checkAlive() {
        if (!process.isAlive()) {
            throw new IllegalStateException(what() + " exited with status " + process.exitValue() + "; see " + log);
        }
    }

    /** Stops the process without warning (SIGKILL on Linux) and waits until it is gone. */
    void kill() throws InterruptedException {
        process.destroyForcibly().waitFor();
        forgetStopOnExit();
    }

    /** The process is gone: its shutdown hook would only pile up over many restarts. */
    private void forgetStopOnExit() {
        try {
            Runtime.getRuntime().removeShutdownHook(stopOnExit);
        } catch (IllegalStateException e) {
            // The JVM is shutting down already; the hook runs, harmlessly.
        }
    }

    /** Fails unless the process has ended. */
    void checkEnded() {
        if (process.isAlive()) {
            throw new IllegalStateException(what() + " (pid " + process.pid() + ") is still running");
        }
    }

    /** Replication slots the process may have left, once it is stopped. */
    abstract void dropSlots();

    @Override
    public void close() throws InterruptedException {
        process.destroy();
        if (!process.waitFor(60, TimeUnit.SECONDS)) {
            process.destroyForcibly().waitFor();
        }
        forgetStopOnExit();
        dropSlots();
        System.out.println("  " + what() + " log: " + log);
    }
}

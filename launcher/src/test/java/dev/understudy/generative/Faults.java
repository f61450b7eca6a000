package dev.understudy.generative;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.GroupListing;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;

/**
 * The faults a trial injects: the {@code run} command in a separate JVM, killed with SIGKILL; the
 * consumer-group cleanup a restart after such a kill needs to be quick; and the ledger reader, the
 * transaction-atomicity check that runs on the target through restarts and catch-ups.
 */
final class Faults {
    private Faults() {
    }

    /** {@code understudy run --config F --spec S} in its own JVM, in the JVM time zone of the tests. */
    static final class RunProcess {
        private final Process process;
        private final Path log;

        private RunProcess(Process process, Path log) {
            this.process = process;
            this.log = log;
        }

        static RunProcess start(Path config, Path spec, Path log) throws IOException {
            String javaBin = ProcessHandle.current().info().command().orElse("java");
            List<String> command = List.of(javaBin, "-Xmx384m", "-Duser.timezone=" + java.util.TimeZone.getDefault().getID(),
                    "-cp", System.getProperty("java.class.path"), "dev.understudy.cli.Main",
                    "run", "--config", config.toString(), "--spec", spec.toString(), "--status-interval", "1");
            Files.createDirectories(log.getParent());
            File out = log.toFile();
            return new RunProcess(new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(out).start(), log);
        }

        /** Waits until the process logged that the pipeline started; fails if it exits first. */
        void awaitStarted(String pipelineName, Duration timeout) throws Exception {
            long deadline = System.nanoTime() + timeout.toNanos();
            String marker = "Pipeline '" + pipelineName + "' started";
            while (System.nanoTime() < deadline) {
                String text = Files.exists(log) ? Files.readString(log, StandardCharsets.UTF_8) : "";
                if (text.contains(marker)) {
                    return;
                }
                if (!process.isAlive()) {
                    throw new AssertionError("the run process exited with " + process.exitValue() + " before the pipeline started; see " + log);
                }
                Thread.sleep(100);
            }
            throw new AssertionError("the run process did not start the pipeline within " + timeout + "; see " + log);
        }

        boolean alive() {
            return process.isAlive();
        }

        /** SIGKILL: no shutdown hook runs, nothing is flushed or committed. */
        void kill9() throws InterruptedException {
            process.destroyForcibly().waitFor();
        }

        Path log() {
            return log;
        }
    }

    /**
     * Removes every member of the pipeline's consumer groups. A SIGKILLed process's members stay in
     * their groups until their session times out (45 s), and a restarted member waits for that in
     * the rebalance; removing them (as kafka-streams-application-reset --force does) lets the restart
     * take over at once, which keeps trials short. What the kill tests is unaffected: uncommitted
     * offsets, a half-written batch and the capture's unflushed positions are still lost.
     */
    static void removeMembers(String bootstrap, String prefix) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            for (GroupListing g : admin.listGroups().all().get()) {
                if (g.groupId().startsWith(prefix + "-")) {
                    try {
                        admin.removeMembersFromConsumerGroup(g.groupId(), new RemoveMembersFromConsumerGroupOptions()).all().get();
                    } catch (Exception e) {
                        // An empty group has no members to remove.
                    }
                }
            }
        }
    }

    /**
     * Reads the ledger target in single statements, as fast as it can, and counts reads whose sum of
     * balances is not the conserved total: each such read saw part of a legacy transaction.
     */
    static final class LedgerReader implements AutoCloseable {
        private final String sql;
        private final long total;
        private final String url;
        private final String user;
        private final String password;
        private final AtomicBoolean stop = new AtomicBoolean();
        private final AtomicLong reads = new AtomicLong();
        private final AtomicLong violations = new AtomicLong();
        private final List<String> samples = new ArrayList<>();
        private volatile Throwable failure;
        private volatile String phase = "start";
        private final Map<String, long[]> byPhase = new java.util.LinkedHashMap<>();
        private Thread thread;

        LedgerReader(String url, String user, String password, String table, String balance, long total) {
            this.url = url;
            this.user = user;
            this.password = password;
            this.total = total;
            this.sql = "SELECT count(*), COALESCE(sum(" + SchemaGenerator.quote(balance) + "), 0)::text FROM " + table;
        }

        /** The current count and sum of the ledger, one statement. */
        static long[] read(Connection c, String sql) throws SQLException {
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
                rs.next();
                return new long[]{rs.getLong(1), Long.parseLong(rs.getString(2))};
            }
        }

        String sql() {
            return sql;
        }

        /** Names what the trial is doing now, so that a violation says when it was seen. */
        void phase(String phase) {
            this.phase = phase;
        }

        LedgerReader start(String phase) {
            this.phase = phase;
            thread = new Thread(() -> {
                try (Connection c = DriverManager.getConnection(url, user, password)) {
                    while (!stop.get()) {
                        String now = this.phase;
                        long[] v = read(c, sql);
                        reads.incrementAndGet();
                        boolean torn = v[1] != total;
                        synchronized (samples) {
                            long[] counts = byPhase.computeIfAbsent(now, k -> new long[2]);
                            counts[0]++;
                            if (torn) {
                                counts[1]++;
                                String sample = now + ": " + v[0] + " rows summing to " + v[1];
                                if (samples.size() < 8 && !samples.contains(sample)) {
                                    samples.add(sample);
                                }
                            }
                        }
                        if (torn) {
                            violations.incrementAndGet();
                        }
                        Thread.sleep(15);
                    }
                } catch (Throwable t) {
                    failure = t;
                }
            }, "ledger-reader");
            thread.start();
            return this;
        }

        long reads() {
            return reads.get();
        }

        long violations() {
            return violations.get();
        }

        Throwable failure() {
            return failure;
        }

        String describe() {
            synchronized (samples) {
                StringBuilder phases = new StringBuilder();
                byPhase.forEach((k, v) -> phases.append(phases.length() == 0 ? "" : ", ").append(k).append(' ').append(v[1]).append('/').append(v[0]));
                return reads.get() + " reads, " + violations.get() + " saw a sum other than " + total + " (torn/reads by phase: " + phases + ")"
                        + (samples.isEmpty() ? "" : " " + samples);
            }
        }

        @Override
        public void close() throws InterruptedException {
            stop.set(true);
            if (thread != null) {
                thread.join(10_000);
            }
        }
    }
}

package dev.understudy.pipeline;

import dev.understudy.testkit.AccountsWorkload;
import dev.understudy.testkit.AccountsInvariant;
import dev.understudy.cli.Main;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.schemas.PausePoints;
import dev.understudy.transform.TransformConfig;
import dev.understudy.writer.ShadowWriterConfig;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ConsumerGroupDescription;
import org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Transaction boundaries across crashes of the whole {@code run} process, on the accounts case
 * (examples/accounts): money moves between legacy accounts without pause while the pipeline process
 * is stopped again and again, each time without any chance to clean up, and restarted. A reader of
 * the target checks in single statements, from the moment the snapshot has landed through every
 * crash, restart and the final catch-up, that the balances agree with the transfers ledger and the
 * money is conserved: a read that disagrees saw part of a legacy transaction.
 * <p>
 * Most crashes are at named points ({@link PausePoints}): the process halts itself right after the
 * transaction watermark moved, after the writer measured its ends for a release, between a release
 * batch's rows and its commit, between its database commit and its Kafka offset commit, right after
 * the pipeline started; the first is a SIGKILL at a random time. Hits and timing are random (the seed
 * is printed; {@code -Dtransaction.crash.seed=N} replays the same choices). After every other crash the
 * restarted writer waits out its dead predecessor's group session while the watermark moves on (the
 * window of issue 11: a release measured over no partitions). The writer's batches are small, so a
 * backlog is applied in many target transactions unless the writer keeps whole source transactions
 * together. At the end the target equals the legacy tables.
 * <p>
 * {@code -Dtransaction.crash.kills=N} runs N crashes instead of the default few (the case of issue 11
 * had nine).
 */
class TransactionCrashIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final Path EXAMPLE = Path.of("..", "examples", "accounts").toAbsolutePath().normalize();
    private static final int ACCOUNTS = 2_000;
    private static final long OPENING_BALANCE = 1_000;
    private static final int STATEMENTS_PER_SECOND = 300;
    private static final int KILLS = Integer.getInteger("transaction.crash.kills", 3);
    private static final long SEED = Long.getLong("transaction.crash.seed", System.nanoTime());
    /**
     * The named points the crashes cycle through, after a first SIGKILL at a random time: each is passed
     * within seconds of a start under this workload, so a run that does not halt there is itself a finding.
     */
    private static final List<String> POINTS = List.of(PausePoints.WATERMARK_ADVANCED, PausePoints.WRITER_RELEASE_COMMITTED,
            PausePoints.PIPELINE_STARTED, PausePoints.WRITER_RELEASE_APPLIED, PausePoints.WRITER_RELEASE_BEGUN);
    /**
     * A run given a named point that does not halt within this long is stopped with SIGKILL instead, and
     * reported. Generous: on a loaded machine the start alone (Flyway, topics, Streams) took over a minute.
     */
    private static final Duration POINT_TIMEOUT = Duration.ofSeconds(180);
    private static final String EXPECTED_ACCOUNTS = "SELECT id, owner, balance FROM public.accounts ORDER BY id";
    private static final String ACTUAL_ACCOUNTS = "SELECT id, owner_name, balance FROM public.accounts ORDER BY id";
    private static final String EXPECTED_TRANSFERS = "SELECT id, from_id, to_id, amount FROM public.transfers ORDER BY id";
    private static final String ACTUAL_TRANSFERS = "SELECT id, from_account, to_account, amount FROM public.transfers ORDER BY id";

    @Test
    void readersOfTheTargetNeverSeePartOfALegacyTransactionThroughCrashesOfTheWholeProcess(@TempDir Path work) throws Exception {
        System.out.printf("TransactionCrashIT: seed %d (-Dtransaction.crash.seed=%d replays it), %d crashes%n", SEED, SEED, KILLS);
        Random random = new Random(SEED);
        Path logs = Files.createDirectories(Path.of("target", "transaction-crash"));
        try (var old = Files.newDirectoryStream(logs, "run-*.log")) {
            for (Path f : old) {
                Files.delete(f);
            }
        }
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect()) {
                AccountsWorkload.createAndFill(c, ACCOUNTS, OPENING_BALANCE);
            }
            Path settings = work.resolve("pipeline.properties");
            Properties p = new Properties();
            p.putAll(stack.connectionSettings());
            p.setProperty(PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + EXAMPLE.resolve("flyway"));
            p.setProperty(TransformConfig.STATE_DIR.name(), work.resolve("streams").toString());
            // Small batches: a backlog spans many target transactions, so any record applied outside its
            // source transaction's batch shows to the reader.
            p.setProperty(ShadowWriterConfig.MAX_BATCH_RECORDS.name(), "200");
            try (var out = Files.newBufferedWriter(settings)) {
                p.store(out, "transaction crash test");
            }
            String bootstrap = stack.kafka().bootstrapServers();
            List<String> outcomes = new ArrayList<>();
            AccountsInvariant reader = null;
            AccountsWorkload workload = null;
            Process run = startRun(settings, null, logs, 0);
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                awaitSnapshotLanded(stack, run);
                reader = new AccountsInvariant(stack.target().jdbcUrl(), stack.target().user(), stack.target().password(),
                        ACCOUNTS, OPENING_BALANCE, 10).start();
                workload = new AccountsWorkload(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(),
                        STATEMENTS_PER_SECOND).start(2);

                for (int i = 1; i <= KILLS; i++) {
                    if (i == 1) {
                        Thread.sleep(5_000 + random.nextInt(10_000));
                        run.destroyForcibly().waitFor();
                        outcomes.add("run 0: SIGKILL at a random time");
                    } else {
                        if (!run.waitFor(POINT_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
                            run.destroyForcibly().waitFor();
                            outcomes.add("run " + (i - 1) + ": did not reach its kill point within " + POINT_TIMEOUT + "; SIGKILL");
                        } else if (run.exitValue() == PausePoints.EXIT_CODE) {
                            outcomes.add("run " + (i - 1) + ": halted at its kill point");
                        } else {
                            Path log = logs.resolve("run-" + (i - 1) + ".log").toAbsolutePath();
                            fail("run " + (i - 1) + " exited with code " + run.exitValue() + " instead of halting at its kill point; see "
                                    + log + "; " + reader.describe() + "; the log ends:\n" + tail(log, 40));
                        }
                    }
                    // Every other restart, the writer's group keeps its dead member, as after any crash that
                    // nobody cleans up: the restarted writer gets no partition until that member's session
                    // expires, while the rest of the pipeline, and the transaction watermark, move on.
                    removeDeadMembers(admin, i % 2 == 0);
                    String point = POINTS.get((i - 1) % POINTS.size());
                    // The pipeline starts once per process; the other points pass again and again.
                    int hit = point.equals(PausePoints.PIPELINE_STARTED) ? 1 : 1 + random.nextInt(4);
                    String killAt = i < KILLS ? point + ":" + hit : null;
                    run = startRun(settings, killAt, logs, i);
                    if (killAt != null) {
                        outcomes.add("run " + i + ": kill point " + killAt);
                    }
                }
                // The last run: the workload goes on for a while, then stops, and the reader watches the catch-up.
                Thread.sleep(5_000);
                workload.close();
                boolean converged = awaitSame(stack, run, Duration.ofSeconds(150));
                reader.close();
                System.out.printf("TransactionCrashIT: %s; legacy %s; %s%n", reader.describe(), workload.describe(), outcomes);

                assertEquals(0, reader.violations(), "reads of the target saw part of a legacy transaction: " + reader.describe()
                        + "; runs: " + outcomes + "; logs in " + logs.toAbsolutePath());
                assertTrue(converged, "the target did not converge to the legacy tables after the last restart; logs in " + logs.toAbsolutePath());
                long halted = outcomes.stream().filter(o -> o.endsWith("halted at its kill point")).count();
                assertEquals(KILLS - 1, halted, "every run given a kill point halts there: " + outcomes);
                assertTrue(reader.reads() >= 100, "too few reads of the target to tell: " + reader.describe());
                assertOneCommitOrderPerTransaction(bootstrap);
            } finally {
                if (workload != null) {
                    try {
                        workload.close();
                    } catch (RuntimeException e) {
                        // the assertions above report what matters
                    }
                }
                if (reader != null) {
                    try {
                        reader.close();
                    } catch (RuntimeException e) {
                        // likewise
                    }
                }
                run.destroy();
                if (!run.waitFor(60, TimeUnit.SECONDS)) {
                    run.destroyForcibly().waitFor();
                }
            }
        }
    }

    /** The last {@code lines} lines of a run's log, for a failure message that stands on its own (a CI run keeps no files). */
    private static String tail(Path log, int lines) {
        try {
            List<String> all = List.of(new String(Files.readAllBytes(log), StandardCharsets.UTF_8).split("\n"));
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException e) {
            return "(cannot read " + log + ": " + e.getMessage() + ")";
        }
    }

    private static Process startRun(Path settings, String killAt, Path logs, int n) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-Xmx512m"));
        if (killAt != null) {
            command.add("-D" + PausePoints.PROPERTY + "=" + killAt);
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", settings.toString(),
                "--spec", EXAMPLE.resolve("v1_accounts.yaml").toString(), "--status-interval", "1"));
        File log = logs.resolve("run-" + n + ".log").toFile();
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log).start();
    }

    /**
     * A process killed without warning stays a member of its consumer groups until its session times
     * out (45 s), and the groups give its partitions to nobody meanwhile. Removing the dead members,
     * as a supervisor restarting the pipeline can, keeps a crash cycle short; the restarted process
     * still starts without partitions until it has joined. With {@code keepWriter} the writer's group
     * is left alone, so its restarted writer waits out the dead member's session.
     */
    private static void removeDeadMembers(Admin admin, boolean keepWriter) throws Exception {
        List<String> groups = keepWriter ? List.of("understudy-migration-g1", "understudy-comparison")
                : List.of("understudy-shadow-writer", "understudy-migration-g1", "understudy-comparison");
        Map<String, ConsumerGroupDescription> described = admin.describeConsumerGroups(groups).all().get();
        for (String g : groups) {
            ConsumerGroupDescription d = described.get(g);
            if (d != null && !d.members().isEmpty()) {
                admin.removeMembersFromConsumerGroup(g, new RemoveMembersFromConsumerGroupOptions()).all().get();
            }
        }
    }

    private static void awaitSnapshotLanded(EmbeddedStack stack, Process run) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        AccountsInvariant.Read last = null;
        while (System.nanoTime() < deadline) {
            assertTrue(run.isAlive(), "the first run stopped before the snapshot landed; see target/transaction-crash/run-0.log");
            try (Connection t = stack.target().connect()) {
                last = AccountsInvariant.read(t, ACCOUNTS, OPENING_BALANCE);
            } catch (SQLException e) {
                // Flyway creates the tables during start; a read before that is simply early.
                last = null;
            }
            if (last != null && last.accounts() == ACCOUNTS && !last.violates()) {
                return;
            }
            Thread.sleep(250);
        }
        fail("the target never held the " + ACCOUNTS + " snapshotted accounts; last read " + last);
    }

    /**
     * What atomicity rests on: every new-schema record of one legacy transaction carries the same
     * commit order, and no two transactions share one, however often capture and migration re-sent
     * them after a crash (a transaction re-sent under a lower commit order would pass the writer unheld).
     */
    private static void assertOneCommitOrderPerTransaction(String bootstrap) {
        Map<Long, java.util.Set<Long>> ordersByTx = new java.util.HashMap<>();
        Map<Long, java.util.Set<Long>> txByOrder = new java.util.HashMap<>();
        List<String> topics = List.of(Topics.newSchema("understudy", "public.accounts"),
                Topics.newSchema("understudy", "public.transfers"));
        try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]>(Map.of(
                org.apache.kafka.clients.consumer.ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                org.apache.kafka.clients.consumer.ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer(), new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            List<org.apache.kafka.common.TopicPartition> partitions = new ArrayList<>();
            for (String t : topics) {
                consumer.partitionsFor(t).forEach(i -> partitions.add(new org.apache.kafka.common.TopicPartition(i.topic(), i.partition())));
            }
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<org.apache.kafka.common.TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp)) && System.nanoTime() < deadline) {
                for (var r : consumer.poll(Duration.ofMillis(500))) {
                    long order = ChangeHeaders.getLong(r.headers(), ChangeHeaders.COMMIT_ORDER,
                            Long.MIN_VALUE);
                    long tx = ChangeHeaders.getLong(r.headers(), ChangeHeaders.TX_ID, Long.MIN_VALUE);
                    if (order != Long.MIN_VALUE && tx != Long.MIN_VALUE) {
                        ordersByTx.computeIfAbsent(tx, k -> new java.util.TreeSet<>()).add(order);
                        txByOrder.computeIfAbsent(order, k -> new java.util.TreeSet<>()).add(tx);
                    }
                }
            }
        }
        assertTrue(ordersByTx.size() > 100, "too few transactions in the new-schema topics: " + ordersByTx.size());
        List<String> split = ordersByTx.entrySet().stream().filter(e -> e.getValue().size() > 1).limit(5)
                .map(e -> "txid " + e.getKey() + " under commit orders " + e.getValue()).toList();
        List<String> shared = txByOrder.entrySet().stream().filter(e -> e.getValue().size() > 1).limit(5)
                .map(e -> "commit order " + e.getKey() + " for txids " + e.getValue()).toList();
        assertEquals(List.of(), split, "a legacy transaction's records carry different commit orders");
        assertEquals(List.of(), shared, "legacy transactions share a commit order");
    }

    /** Waits until both target tables equal their legacy tables (through the spec's renames). */
    private static boolean awaitSame(EmbeddedStack stack, Process run, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            assertTrue(run.isAlive(), "the last run stopped; see target/transaction-crash/");
            try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
                if (TestPipelines.rows(l, EXPECTED_ACCOUNTS).equals(TestPipelines.rows(t, ACTUAL_ACCOUNTS))
                        && TestPipelines.rows(l, EXPECTED_TRANSFERS).equals(TestPipelines.rows(t, ACTUAL_TRANSFERS))) {
                    return true;
                }
            }
            Thread.sleep(1_000);
        }
        return false;
    }
}

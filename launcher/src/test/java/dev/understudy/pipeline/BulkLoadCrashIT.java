package dev.understudy.pipeline;

import dev.understudy.cli.Main;
import dev.understudy.schemas.PausePoints;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Random;
import java.util.TimeZone;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * The bulk initial load ({@code initial.load=bulk}) of {@code understudy run} killed without warning,
 * in its own process, while single-row transactions (inserts, updates, deletes, primary-key changes
 * over the whole id range) change the legacy table throughout. A first run halts itself as a SIGKILL
 * would after its fifth committed chunk: the load is recorded as LOADING, the target holds part of
 * the rows, and the chunks recorded as loaded are in the target and their records in Kafka. A second
 * run resumes the load (it does not load again: the snapshot the first read is gone with its
 * process): the capture streams from the slot's consistent point and an incremental snapshot reads
 * the chunks not loaded and every row written since the snapshot. It is SIGKILLed during that
 * snapshot. A third run streams on; the target must then equal the legacy table's projection
 * computed independently by SQL, the load be recorded LOADED, and nothing be dead-lettered: a row of
 * an unloaded chunk missed, or taken back to an older state, would show as a difference.
 * <p>
 * Then the streaming run is SIGKILLed while the changes go on and started again: a load recorded
 * LOADED is never loaded again (its log has no load, no incremental snapshot and no start-over), and
 * the restart streams on from the slot to the same projection, the load's record unchanged.
 */
class BulkLoadCrashIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final String PIPELINE = "bulkcrash";
    private static final int ROWS = 60_000;
    private static final String SPEC = """
            migration: v1_items
            flyway: "1"
            sources:
              items: { table: public.items }
            targets:
              catalog:
                table: public.catalog
                from: items
                contract: catalog.avsc
                key: [id]
                columns:
                  id: { column: id }
                  title: { expression: "name.upperAscii()" }
                  note: { column: note }
                  qty: { column: qty }
            """;
    private static final String FLYWAY = "CREATE TABLE public.catalog (id bigint PRIMARY KEY, title text, note text, qty integer);\n";
    private static final String CATALOG_AVSC = """
            {"type":"record","name":"catalog","namespace":"understudy.contract.bulkcrash","fields":[
              {"name":"id","type":"long"},{"name":"title","type":["null","string"],"default":null},
              {"name":"note","type":["null","string"],"default":null},{"name":"qty","type":["null","int"],"default":null}]}""";
    /** The projection, independently, in SQL: names are ASCII, so upper() is upperAscii() whatever the collation. */
    private static final String EXPECTED = "SELECT id, upper(name), note, qty FROM public.items ORDER BY id";
    private static final String ACTUAL = "SELECT id, title, note, qty FROM public.catalog ORDER BY id";
    private static final String LOAD_RECORD = "SELECT state, consistent_point, rows_loaded FROM understudy.initial_load WHERE pipeline = '"
            + PIPELINE + "'";
    /** InitialBulkLoad's WARN line when it finds a load recorded as LOADING that cannot resume. */
    private static final String STARTS_OVER = "starts over";
    /** InitialBulkLoad's progress line when it resumes an interrupted load. */
    private static final String RESUMES = "[initial load] resumes:";
    /** The first progress line of a load ("[initial load] begins at snapshot ... of slot ..."), on run's output and in its log. */
    private static final String LOADING_FROM = "begins at snapshot";
    private static final String STARTED = "Pipeline '" + PIPELINE + "' started";
    /** Generous for a 2-core machine: a run's start (Flyway, topics, contracts) and the load of 60,000 rows. */
    private static final Duration RUN_TIMEOUT = Duration.ofSeconds(150);
    private static final Path LOGS = Path.of("target", "bulk-load-crash");

    private final List<Process> children = new ArrayList<>();

    @Test
    void aLoadKilledMidwayResumesAndALoadedPipelineKilledStreamsOn(@TempDir Path work) throws Exception {
        Files.createDirectories(LOGS);
        try (var old = Files.newDirectoryStream(LOGS, "run-*.log")) {
            for (Path f : old) {
                Files.delete(f);
            }
        }
        Path spec = writeSpec(work.resolve("spec"));
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            fill(stack);
            Path config = writeConfig(stack, work);
            Churn churn = new Churn(stack);
            try {
                churn.start();

                // Round 1: halted after the fifth committed chunk, two workers still copying.
                Process first = startRun(config, spec, PausePoints.LOAD_CHUNK_COMMITTED + ":5", 1);
                assertHalted(first, 1);
                assertEquals("LOADING", loadRecord(stack).split("\\|")[0], "an interrupted load is recorded as running");
                long partial = count(stack.target().connect(), "public.catalog");
                long legacy = count(stack.legacy().connect(), "public.items");
                assertTrue(partial > 0 && partial < legacy, "rows left by the load halted at its fifth chunk: " + partial + " of " + legacy);

                // Round 2: the load resumes, its chunks not loaded read by an incremental snapshot while the
                // capture streams from the slot; SIGKILLed soon after its start, during that snapshot.
                Process second = startRun(config, spec, null, 2);
                awaitLog(second, 2, STARTED);
                assertTrue(log(2).contains(RESUMES), "the second run did not resume the interrupted load; see " + logFile(2));
                assertFalse(log(2).contains(LOADING_FROM) || log(2).contains(STARTS_OVER),
                        "the second run loaded again instead of resuming; see " + logFile(2));
                String resumed = loadRecord(stack);
                assertTrue(resumed.startsWith("LOADED|"), "a resumed load is recorded complete once its incremental snapshot is"
                        + " requested: " + resumed);
                // Killed once the incremental snapshot's rows have begun to reach the target.
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (count(stack.target().connect(), "public.catalog") < partial + 2_000 && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                second.destroyForcibly().waitFor();
                long whole = count(stack.target().connect(), "public.catalog");

                // Round 3: streams on (the capture resumes the incremental snapshot from its offsets, or
                // reads its signal again from the slot) and converges with the changes made meanwhile.
                Process third = startRun(config, spec, null, 3);
                awaitLog(third, 3, STARTED);
                assertFalse(log(3).contains(LOADING_FROM) || log(3).contains(STARTS_OVER),
                        "the third run loaded again; see " + logFile(3));
                Thread.sleep(3_000);
                churn.stop();
                awaitConverged(stack, third, 3);
                String loaded = loadRecord(stack);
                assertEquals(resumed, loaded, "the load's record after the third run");
                assertEquals(0, deadLetters(stack), "records on the dead-letter topic " + Topics.deadLetter(PIPELINE));

                // Round 4: the streaming run SIGKILLed under changes; the restart streams on from the slot.
                churn.start();
                Thread.sleep(3_000);
                third.destroyForcibly().waitFor();
                Process fourth = startRun(config, spec, null, 4);
                awaitLog(fourth, 4, STARTED);
                Thread.sleep(3_000);
                churn.stop();
                awaitConverged(stack, fourth, 4);
                String restartLog = log(4);
                for (String line : List.of(LOADING_FROM, STARTS_OVER, "incremental snapshot requested")) {
                    assertFalse(restartLog.contains(line), "the restart of a loaded pipeline logged '" + line + "'; see " + logFile(4));
                }
                assertEquals(loaded, loadRecord(stack), "the restart changed the load's record");
                assertEquals(0, deadLetters(stack), "records on the dead-letter topic " + Topics.deadLetter(PIPELINE));
                System.out.printf("BulkLoadCrashIT: target rows after the halt at chunk 5 / the kill during the resume: %,d / %,d; load %s;"
                        + " churn %s%n",
                        partial, whole, loaded, churn);
                assertTrue(churn.inserts.get() > 0 && churn.updates.get() > 0 && churn.deletes.get() > 0 && churn.keyChanges.get() > 0,
                        "churn: " + churn);
            } finally {
                killChildren();
                churn.halt();
            }
        }
    }

    /** Items with short notes (a third of them null): a key change of a TOASTed row is a dead letter by design (BulkLoadIT). */
    private static void fill(EmbeddedStack stack) throws SQLException {
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.items (id bigint PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, note text)");
            s.execute("INSERT INTO public.items SELECT i, 'item ' || i, i % 100, CASE WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END"
                    + " FROM generate_series(1, " + ROWS + ") i");
            // The chunk plan reads the table's statistics.
            s.execute("ANALYZE public.items");
        }
    }

    private static Path writeSpec(Path dir) throws IOException {
        Files.createDirectories(dir.resolve("flyway"));
        Files.writeString(dir.resolve("flyway").resolve("V1__items.sql"), FLYWAY);
        Files.writeString(dir.resolve("catalog.avsc"), CATALOG_AVSC);
        return Files.writeString(dir.resolve("items.yaml"), SPEC);
    }

    private static Path writeConfig(EmbeddedStack stack, Path work) throws IOException {
        Properties p = new Properties();
        p.putAll(stack.connectionSettings());
        p.setProperty(PipelineConfig.PIPELINE_NAME.name(), PIPELINE);
        p.setProperty(PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + work.resolve("spec").resolve("flyway"));
        p.setProperty(TransformConfig.STATE_DIR.name(), work.resolve("streams").toString());
        p.setProperty(PipelineConfig.INITIAL_LOAD.name(), "bulk");
        p.setProperty(PipelineConfig.INITIAL_LOAD_WORKERS.name(), "2");
        p.setProperty(PipelineConfig.INITIAL_LOAD_CHUNK_ROWS.name(), "2000");
        Path file = work.resolve("pipeline.properties");
        try (var out = Files.newBufferedWriter(file)) {
            p.store(out, "bulk load crash test");
        }
        return file;
    }

    /**
     * {@code understudy run} in a JVM of its own, in the tests' JVM time zone (not the databases'),
     * halting at {@code killAt} ({@code point:hit}) unless null.
     */
    private Process startRun(Path config, Path spec, String killAt, int round) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-Xmx512m", "-Duser.timezone=" + TimeZone.getDefault().getID()));
        if (killAt != null) {
            command.add("-D" + PausePoints.PROPERTY + "=" + killAt);
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", config.toString(),
                "--spec", spec.toString(), "--status-interval", "1"));
        // Under target/, so that a failure can be read after the temporary directory is gone.
        Process p = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(logFile(round).toFile()).start();
        children.add(p);
        return p;
    }

    private void killChildren() throws InterruptedException {
        for (Process p : children) {
            p.destroyForcibly().waitFor(30, TimeUnit.SECONDS);
        }
    }

    private static Path logFile(int round) {
        return LOGS.resolve("run-" + round + ".log").toAbsolutePath();
    }

    private static String log(int round) throws IOException {
        Path f = logFile(round);
        return Files.exists(f) ? Files.readString(f, StandardCharsets.UTF_8) : "";
    }

    private static String tail(int round) throws IOException {
        List<String> lines = log(round).lines().toList();
        return String.join("\n", lines.subList(Math.max(0, lines.size() - 25), lines.size()));
    }

    /** The run halted at its pause point: exit code 86 and nothing else. */
    private static void assertHalted(Process run, int round) throws Exception {
        if (!run.waitFor(RUN_TIMEOUT.toSeconds(), TimeUnit.SECONDS)) {
            run.destroyForcibly().waitFor();
            fail("run " + round + " did not reach its pause point within " + RUN_TIMEOUT + "; see " + logFile(round) + ":\n" + tail(round));
        }
        assertEquals(PausePoints.EXIT_CODE, run.exitValue(), "run " + round + " stopped, but not at its pause point; see " + logFile(round)
                + ":\n" + tail(round));
    }

    private static void awaitLog(Process run, int round, String marker) throws Exception {
        long deadline = System.nanoTime() + RUN_TIMEOUT.toNanos();
        while (System.nanoTime() < deadline) {
            if (log(round).contains(marker)) {
                return;
            }
            if (!run.isAlive()) {
                fail("run " + round + " exited with " + run.exitValue() + " before logging '" + marker + "'; see " + logFile(round) + ":\n"
                        + tail(round));
            }
            Thread.sleep(200);
        }
        fail("run " + round + " did not log '" + marker + "' within " + RUN_TIMEOUT + "; see " + logFile(round) + ":\n" + tail(round));
    }

    /** Waits until the target equals the SQL projection of the legacy table; fails with the differences otherwise. */
    private static void awaitConverged(EmbeddedStack stack, Process run, int round) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        TestPipelines.Sides last = new TestPipelines.Sides(List.of(), List.of());
        while (System.nanoTime() < deadline) {
            if (!run.isAlive()) {
                fail("run " + round + " exited with " + run.exitValue() + " before converging; see " + logFile(round) + ":\n" + tail(round));
            }
            try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
                last = new TestPipelines.Sides(TestPipelines.rows(l, EXPECTED), TestPipelines.rows(t, ACTUAL));
            }
            if (last.expected().equals(last.actual())) {
                return;
            }
            Thread.sleep(1_000);
        }
        diagnose(stack, last);
        TestPipelines.assertSameRows(last);
    }

    /** Prints, for the first differing ids, every record of the key on the legacy, new-schema and dead-letter topics, and the writer's stored version. */
    private static void diagnose(EmbeddedStack stack, TestPipelines.Sides sides) {
        java.util.Set<String> ids = new java.util.LinkedHashSet<>();
        java.util.Set<String> expected = new java.util.HashSet<>(sides.expected());
        java.util.Set<String> actual = new java.util.HashSet<>(sides.actual());
        sides.actual().stream().filter(r -> !expected.contains(r)).limit(4).forEach(r -> ids.add(r.split("\\|")[0]));
        sides.expected().stream().filter(r -> !actual.contains(r)).limit(2).forEach(r -> ids.add(r.split("\\|")[0]));
        for (String topic : List.of(Topics.legacy(PIPELINE, "public.items"), Topics.newSchema(PIPELINE, "public.catalog"),
                Topics.deadLetter(PIPELINE))) {
            dev.understudy.generative.Diagnostics.records(stack.kafka().bootstrapServers(), stack.registry().url(), topic, ids, 50)
                    .forEach(line -> System.out.println("DIAG " + line));
        }
        try (Connection t = stack.target().connect()) {
            for (String id : ids) {
                System.out.printf("DIAG id %s stored versions %s%n", id, dev.understudy.writer.WriterBookkeeping.versionsOfKeysContaining(t,
                        "\"id\":" + id + "}"));
            }
        } catch (SQLException e) {
            System.out.println("DIAG cannot read the stored versions: " + e);
        }
    }

    /** The load's record: state, consistent point and rows, joined with '|'. */
    private static String loadRecord(EmbeddedStack stack) throws SQLException {
        try (Connection t = stack.target().connect()) {
            List<String> rows = TestPipelines.rows(t, LOAD_RECORD);
            assertEquals(1, rows.size(), "records of the load in understudy.initial_load: " + rows);
            return rows.get(0);
        }
    }

    private static long count(Connection c, String table) throws SQLException {
        try (c) {
            return Long.parseLong(TestPipelines.rows(c, "SELECT count(*) FROM " + table).get(0));
        }
    }

    private static long deadLetters(EmbeddedStack stack) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
            String topic = Topics.deadLetter(PIPELINE);
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions()
                    .forEach(p -> latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
            return admin.listOffsets(latest).all().get().values().stream().mapToLong(i -> i.offset()).sum();
        }
    }

    /**
     * Single-row transactions on the legacy items, each on a random id of the whole range (rows
     * inserted meanwhile included), so that they fall in chunks copied and not yet copied: qty
     * updates, renames, notes set and cleared, deletes, inserts of new ids and primary-key changes
     * to new ids. Most ids exist; a statement on one that does not changes nothing.
     */
    private static final class Churn implements Runnable {
        final EmbeddedStack stack;
        final Random random = new Random();
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicLong maxId = new AtomicLong(ROWS);
        final AtomicLong inserts = new AtomicLong();
        final AtomicLong updates = new AtomicLong();
        final AtomicLong deletes = new AtomicLong();
        final AtomicLong keyChanges = new AtomicLong();
        Thread thread;

        Churn(EmbeddedStack stack) {
            this.stack = stack;
        }

        void start() {
            stop.set(false);
            thread = new Thread(this, "legacy-churn");
            thread.start();
        }

        /** Stops the changes and fails if they failed: the check by SQL then compares a legacy table at rest. */
        void stop() throws InterruptedException {
            halt();
            assertNull(failure.get(), "the changes to the legacy table failed");
        }

        void halt() throws InterruptedException {
            stop.set(true);
            if (thread != null) {
                thread.join(30_000);
                thread = null;
            }
        }

        @Override
        public void run() {
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                while (!stop.get()) {
                    long id = 1 + random.nextLong(maxId.get());
                    int kind = random.nextInt(10);
                    switch (kind) {
                        case 0, 1, 2 -> count(updates, s.executeUpdate("UPDATE public.items SET qty = qty + 1 WHERE id = " + id));
                        case 3 -> count(updates, s.executeUpdate("UPDATE public.items SET name = 'renamed ' || id || ' ' || "
                                + random.nextInt(1_000) + " WHERE id = " + id));
                        case 4 -> count(updates, s.executeUpdate("UPDATE public.items SET note = CASE WHEN note IS NULL THEN 'set "
                                + random.nextInt(1_000) + "' END WHERE id = " + id));
                        case 5, 6 -> count(deletes, s.executeUpdate("DELETE FROM public.items WHERE id = " + id));
                        case 7, 8 -> count(inserts, s.executeUpdate("INSERT INTO public.items VALUES (" + maxId.incrementAndGet()
                                + ", 'new', " + random.nextInt(100) + ", 'fresh')"));
                        default -> count(keyChanges, s.executeUpdate("UPDATE public.items SET id = " + maxId.incrementAndGet()
                                + " WHERE id = " + id));
                    }
                    // About 150 changes a second: steady, and leaves the two cores to the pipeline.
                    Thread.sleep(5);
                }
            } catch (Throwable t) {
                failure.compareAndSet(null, t);
            }
        }

        private static void count(AtomicLong counter, int rows) {
            counter.addAndGet(rows);
        }

        @Override
        public String toString() {
            return inserts.get() + " inserts, " + updates.get() + " updates, " + deletes.get() + " deletes, " + keyChanges.get()
                    + " key changes";
        }
    }
}

package dev.understudy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.understudy.dlq.DeadLetterReplay;
import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.testkit.UsersChecksum;
import dev.understudy.testkit.UsersWorkload;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.TransformConfig;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.function.BooleanSupplier;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * {@code understudy dlq list} and {@code dlq replay} on the embedded stack: a CHECK constraint on the
 * target makes the writer dead-letter some users for good; the list names them with their
 * coordinates; once the constraint is dropped, the replay re-applies them through the writer and the
 * target matches the legacy database, without a new dead letter; a second replay changes nothing.
 */
class DlqCommandIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    @TempDir
    static Path work;
    static EmbeddedStack stack;
    static Pipeline pipeline;
    static Path configFile;

    @BeforeAll
    static void start() throws Exception {
        stack = EmbeddedStack.start(work, PG_TIME_ZONE);
        try (Connection c = stack.legacy().connect()) {
            UsersWorkload.createAndFill(c, 50);
        }
        configFile = work.resolve("pipeline.properties");
        stack.writeSettings(configFile);
        Files.writeString(configFile, TransformConfig.STATE_DIR.name() + "=" + work.resolve("streams").toString().replace("\\", "/") + "\n"
                + TransformConfig.SETTLE_MS.name() + "=3000\n", java.nio.file.StandardOpenOption.APPEND);
        pipeline = new Pipeline(PipelineConfig.load(configFile), Migrations.defaultMappings()).start();
    }

    @AfterAll
    static void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void rejectedRowsAreListedAndReplayedOnceTheTargetIsFixed() throws Exception {
        await(Duration.ofSeconds(120), () -> converged(), "initial convergence");
        assertEquals(0, pipeline.writer().metrics().deadLettered());

        // The target now refuses users named 'Rejected ...': two inserts and one update.
        long updated;
        List<Long> inserted = new ArrayList<>();
        try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
            st.execute("ALTER TABLE public.users ADD CONSTRAINT users_not_rejected CHECK (full_name NOT LIKE 'Rejected%')");
        }
        try (Connection l = stack.legacy().connect(); Statement st = l.createStatement()) {
            updated = single(st, "SELECT min(id) FROM public.users");
            st.execute("UPDATE public.users SET name = 'Rejected update' WHERE id = " + updated);
            for (String name : List.of("Rejected one", "Rejected two")) {
                inserted.add(single(st, "INSERT INTO public.users (name, email) VALUES ('" + name + "', 'r@example.com') RETURNING id"));
            }
            // A good row after them: the writer carries on past dead letters.
            inserted.add(single(st, "INSERT INTO public.users (name, email) VALUES ('Accepted', 'a@example.com') RETURNING id"));
        }
        long accepted = inserted.remove(2);
        await(Duration.ofSeconds(60), () -> pipeline.writer().metrics().deadLettered() >= 3 && targetHas(accepted),
                "three dead letters and the good row applied");
        assertEquals(3, pipeline.writer().metrics().deadLettered());

        // list: one line per dead letter with its coordinates, then the summary.
        CliRun.Result list = CliRun.run("dlq", "list", "--config", configFile.toString());
        assertEquals(0, list.exit(), list.out());
        List<String> lines = list.out().lines().filter(s -> s.startsWith("dlq ")).toList();
        assertEquals(3, lines.size(), list.out());
        for (long id : List.of(updated, inserted.get(0), inserted.get(1))) {
            String line = lines.stream().filter(s -> s.contains("key {\"id\":" + id + "}")).findFirst()
                    .orElseThrow(() -> new AssertionError("no dead letter for id " + id + " in\n" + list.out()));
            assertTrue(line.contains(" writer ") && line.contains("public.users") && line.contains("sqlstate 23514"), line);
            assertTrue(line.matches(".*from understudy\\.new\\.public\\.users\\[\\d+]@\\d+ .*"), line);
            assertTrue(line.matches(".*lsn \\d+  version \\d+ .*"), line);
            assertTrue(line.contains("users_not_rejected"), line);
        }
        assertTrue(list.out().contains("3 dead letter(s) in understudy.dlq"), list.out());
        assertTrue(list.out().contains("by table:    public.users 3"), list.out());
        assertTrue(list.out().contains("by SQLSTATE: 23514 3"), list.out());

        CliRun.Result json = CliRun.run("dlq", "list", "--config", configFile.toString(), "--json", "--limit", "2", "--table", "users");
        assertEquals(0, json.exit(), json.out());
        ObjectMapper mapper = new ObjectMapper();
        List<JsonNode> objects = new ArrayList<>();
        for (String line : json.out().lines().filter(s -> s.startsWith("{")).toList()) {
            objects.add(mapper.readTree(line));
        }
        assertEquals(3, objects.size(), json.out());
        assertEquals("dead_letter", objects.get(0).get("type").asText());
        assertEquals("23514", objects.get(0).get("sqlstate").asText());
        assertEquals("public.users", objects.get(0).get("table").asText());
        assertTrue(objects.get(0).get("version").asLong() > 0, json.out());
        JsonNode summary = objects.get(2);
        assertEquals("summary", summary.get("type").asText());
        assertEquals(3, summary.get("dead_letters").asLong());
        assertEquals(3, summary.get("by_sqlstate").get("23514").asLong());

        // A dead letter of the transform is listed but not replayed.
        produceTransformDeadLetter();

        CliRun.Result dry = CliRun.run("dlq", "replay", "--config", configFile.toString(), "--dry-run");
        assertEquals(0, dry.exit(), dry.out());
        assertTrue(dry.out().contains("Dry run: would replay 3 dead letter(s) (public.users 3)"), dry.out());
        assertFalse(targetHas(inserted.get(0)), "a dry run produces nothing");

        try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
            st.execute("ALTER TABLE public.users DROP CONSTRAINT users_not_rejected");
        }
        CliRun.Result replay = CliRun.run("dlq", "replay", "--config", configFile.toString());
        assertEquals(0, replay.exit(), replay.out());
        assertTrue(replay.out().contains("Replayed 3 dead letter(s) (public.users 3)"), replay.out());
        assertTrue(replay.out().contains("Skipped 1: " + DeadLetterReplay.TRANSFORM_REASON + " 1"), replay.out());
        assertTrue(replay.out().contains("Transform-stage dead letters are not replayed"), replay.out());
        assertTrue(replay.out().contains("Dead-letter offsets covered: partition "), replay.out());
        assertTrue(replay.out().contains("--from-offset "), replay.out());

        await(Duration.ofSeconds(60), () -> converged(), "convergence after the replay");
        try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
            assertEquals("Rejected update", text(st, "SELECT full_name FROM public.users WHERE id = " + updated));
            assertEquals("Rejected one", text(st, "SELECT full_name FROM public.users WHERE id = " + inserted.get(0)));
            assertEquals("Rejected two", text(st, "SELECT full_name FROM public.users WHERE id = " + inserted.get(1)));
        }
        assertEquals(3, pipeline.writer().metrics().deadLettered(), "the replayed rows were applied, not dead-lettered again");

        // Again: each dead letter now has its replay after it on the topic, so nothing is produced.
        CliRun.Result again = CliRun.run("dlq", "replay", "--config", configFile.toString());
        assertEquals(0, again.exit(), again.out());
        assertTrue(again.out().contains("Replayed 0 dead letter(s)"), again.out());
        assertTrue(again.out().contains("superseded 3"), again.out());
        Thread.sleep(2000);
        assertNull(pipeline.failure());

        // understudy throttle: the running writer reads its group's controls from the target.
        CliRun.Result pause = CliRun.run("throttle", "--config", configFile.toString(), "--pause");
        assertEquals(0, pause.exit(), pause.out());
        assertTrue(pause.out().contains("Writer group understudy-shadow-writer: paused"), pause.out());
        await(Duration.ofSeconds(30), () -> pipeline.writer().metrics().paused(), "the writer paused by the control row");
        CliRun.Result rate = CliRun.run("throttle", "--config", configFile.toString(), "--rate", "250");
        assertTrue(rate.out().contains("paused, at most 250.0 records/s per writer"), rate.out());
        CliRun.Result resume = CliRun.run("throttle", "--config", configFile.toString(), "--resume");
        assertTrue(resume.out().contains("running, at most 250.0 records/s per writer"), resume.out());
        await(Duration.ofSeconds(30), () -> !pipeline.writer().metrics().paused(), "the writer resumed");
        assertEquals(0, CliRun.run("throttle", "--config", configFile.toString(), "--no-rate").exit());
        assertEquals(3, pipeline.writer().metrics().deadLettered());
        assertTrue(converged());
    }

    private static void produceTransformDeadLetter() throws Exception {
        RecordHeaders headers = new RecordHeaders();
        headers.add(DeadLetterFields.STAGE, DeadLetterFields.TRANSFORM.getBytes(StandardCharsets.UTF_8));
        headers.add(DeadLetterFields.EXCEPTION, "dev.understudy.transform.internals.MalformedChangeException".getBytes(StandardCharsets.UTF_8));
        headers.add(DeadLetterFields.ERROR, "envelope has no 'after'\nsecond line".getBytes(StandardCharsets.UTF_8));
        headers.add(DeadLetterFields.TOPIC, "understudy.legacy.public.users".getBytes(StandardCharsets.UTF_8));
        headers.add(DeadLetterFields.PARTITION, "0".getBytes(StandardCharsets.UTF_8));
        headers.add(DeadLetterFields.OFFSET, "7".getBytes(StandardCharsets.UTF_8));
        try (KafkaProducer<byte[], byte[]> p = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                stack.kafka().bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
            p.send(new ProducerRecord<>(Topics.deadLetter("understudy"), null, new byte[]{1}, new byte[]{2}, headers)).get();
        }
        CliRun.Result list = CliRun.run("dlq", "list", "--config", configFile.toString());
        String line = list.out().lines().filter(s -> s.contains(" transform ")).findFirst().orElseThrow(() -> new AssertionError(list.out()));
        assertTrue(line.contains("public.users") && line.contains("from understudy.legacy.public.users[0]@7")
                && line.endsWith("MalformedChangeException: envelope has no 'after'"), line);
        assertTrue(list.out().contains("by stage:    transform 1, writer 3"), list.out());
    }

    private static boolean converged() {
        assertNull(pipeline.failure(), "pipeline stage failed");
        try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
            return UsersChecksum.expectedRows(l).equals(UsersChecksum.actualRows(t));
        } catch (SQLException e) {
            return false;
        }
    }

    private static boolean targetHas(long id) {
        try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
            return single(st, "SELECT count(*) FROM public.users WHERE id = " + id) == 1;
        } catch (SQLException e) {
            return false;
        }
    }

    private static long single(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String text(Statement st, String sql) throws SQLException {
        try (ResultSet rs = st.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static void await(Duration timeout, BooleanSupplier condition, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(250);
        }
        fail("timed out waiting for " + what + "; dead-lettered " + pipeline.writer().metrics().deadLettered());
    }
}

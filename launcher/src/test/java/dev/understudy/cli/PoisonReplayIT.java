package dev.understudy.cli;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.testkit.UsersWorkload;
import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
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
import java.nio.file.StandardOpenOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.BooleanSupplier;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Poison records of the two kinds the target rejects for good besides CHECK constraints, through the
 * whole pipeline on a spec of its own: a legacy user without a name (the contract allows it, the
 * target column is NOT NULL: SQLSTATE 23502) and users whose name is longer than the target's
 * smallint length column can hold (SQLSTATE 22003), by insert and by update. The writer dead-letters
 * exactly those, with the coordinates of the change, and applies everything else; {@code dlq list}
 * shows them; once the target is fixed (NOT NULL dropped, the column widened to int), {@code dlq
 * replay} makes the running writer apply them, without a new dead letter, and the target equals the
 * same projection computed by SQL on the legacy database.
 */
class PoisonReplayIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final int LONG_NAME = 40_000;
    private static final String SPEC = """
            migration: v1_user_names
            flyway: "1"
            sources:
              users: { table: public.users }
            targets:
              user_names:
                table: public.user_names
                from: users
                contract: user_names.avsc
                key: [id]
                columns:
                  id: { column: id }
                  full_name: { column: name }
                  name_length: { expression: "name == null ? 0 : size(name)" }
            """;
    // full_name is nullable in the contract but NOT NULL in the target, and name_length an Avro int
    // but a smallint in the target: the two mismatches a fixed target resolves.
    private static final String CONTRACT = """
            {
              "type": "record",
              "name": "user_names",
              "namespace": "understudy.contract.public",
              "fields": [
                {"name": "id", "type": "long"},
                {"name": "full_name", "type": ["null", "string"], "default": null},
                {"name": "name_length", "type": "int"}
              ]
            }
            """;
    private static final String FLYWAY_V1 = """
            CREATE TABLE public.user_names (
                id          bigint PRIMARY KEY,
                full_name   text NOT NULL,
                name_length smallint NOT NULL
            );
            """;
    /** The spec's projection, independently, in SQL; names appear shortened and hashed to keep messages readable. */
    private static final String EXPECTED = """
            SELECT id, left(name, 20), md5(name), coalesce(length(name), 0) FROM public.users %s ORDER BY id""";
    private static final String ACTUAL = """
            SELECT id, left(full_name, 20), md5(full_name), name_length FROM public.user_names %s ORDER BY id""";

    @TempDir
    static Path work;
    static EmbeddedStack stack;
    static Pipeline pipeline;
    static Path configFile;

    @BeforeAll
    static void start() throws Exception {
        Path specDir = work.resolve("spec");
        Path flyway = specDir.resolve("flyway");
        Files.createDirectories(flyway);
        Files.writeString(specDir.resolve("user_names.avsc"), CONTRACT);
        Files.writeString(flyway.resolve("V1__create_user_names.sql"), FLYWAY_V1);
        Path specFile = specDir.resolve("v1_user_names.yaml");
        Files.writeString(specFile, SPEC);
        MigrationSpec spec = MigrationSpec.load(specFile);

        stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE);
        try (Connection c = stack.legacy().connect(); Statement st = c.createStatement()) {
            UsersWorkload.createAndFill(c, 50);
            // Loosened before the capture starts, so that no schema change races the test; the capture
            // declares every row column nullable anyway, so the legacy topic's schema is the same.
            st.execute("ALTER TABLE public.users ALTER COLUMN name DROP NOT NULL");
        }
        configFile = work.resolve("pipeline.properties");
        stack.writeSettings(configFile);
        Files.writeString(configFile, TransformConfig.STATE_DIR.name() + "=" + slashes(work.resolve("streams")) + "\n"
                + TransformConfig.SETTLE_MS.name() + "=3000\n"
                + PipelineConfig.FLYWAY_LOCATIONS.name() + "=filesystem:" + slashes(flyway) + "\n", StandardOpenOption.APPEND);
        pipeline = new Pipeline(PipelineConfig.load(configFile), spec).start();
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
    void notNullAndOverflowPoisonIsDeadLetteredListedAndReplayedOnceTheTargetIsFixed() throws Exception {
        await(Duration.ofSeconds(120), () -> sameRows(Set.of()), "initial convergence");
        assertEquals(0, pipeline.writer().metrics().deadLettered());

        // Each statement is its own legacy transaction; the WAL insert position read between them
        // bounds the LSN of each change, so every dead letter can be tied to the statement it came from.
        long nameless;
        long longInsert;
        long longUpdate;
        long renamed;
        long accepted;
        String nameBefore;
        List<Long> walBounds = new ArrayList<>();
        try (Connection l = stack.legacy().connect(); Statement st = l.createStatement()) {
            longUpdate = single(st, "SELECT min(id) FROM public.users");
            renamed = single(st, "SELECT min(id) FROM public.users WHERE id > " + longUpdate);
            nameBefore = text(st, "SELECT name FROM public.users WHERE id = " + longUpdate);
            walBounds.add(walInsertLsn(st));
            nameless = single(st, "INSERT INTO public.users (name, email) VALUES (NULL, 'nameless@example.com') RETURNING id");
            walBounds.add(walInsertLsn(st));
            longInsert = single(st, "INSERT INTO public.users (name, email) VALUES (repeat('x', " + LONG_NAME
                    + "), 'long@example.com') RETURNING id");
            walBounds.add(walInsertLsn(st));
            st.execute("UPDATE public.users SET name = repeat('y', " + LONG_NAME + ") WHERE id = " + longUpdate);
            walBounds.add(walInsertLsn(st));
            // Good changes after the poison: the writer carries on past dead letters.
            accepted = single(st, "INSERT INTO public.users (name, email) VALUES ('Accepted', 'a@example.com') RETURNING id");
            st.execute("UPDATE public.users SET name = 'Renamed after poison' WHERE id = " + renamed);
        }
        Set<Long> poison = Set.of(nameless, longInsert, longUpdate);
        await(Duration.ofSeconds(60), () -> pipeline.writer().metrics().deadLettered() >= 3 && sameRows(poison),
                "three dead letters and every other row applied");
        assertEquals(3, pipeline.writer().metrics().deadLettered(), "dead letters");
        assertTrue(sameRows(poison), "every row but the poison ones applied");
        try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
            assertEquals(0, single(st, "SELECT count(*) FROM public.user_names WHERE id IN (" + nameless + ", " + longInsert + ")"),
                    "the poison inserts are not in the target");
            assertEquals(nameBefore, text(st, "SELECT full_name FROM public.user_names WHERE id = " + longUpdate),
                    "the poison update left the row as it was");
            assertEquals("Accepted", text(st, "SELECT full_name FROM public.user_names WHERE id = " + accepted));
            assertEquals("Renamed after poison", text(st, "SELECT full_name FROM public.user_names WHERE id = " + renamed));
        }

        // list: one line per dead letter with its coordinates, then the counts.
        CliRun.Result list = CliRun.run("dlq", "list", "--config", configFile.toString());
        assertEquals(0, list.exit(), list.out());
        List<String> lines = list.out().lines().filter(s -> s.startsWith("dlq ")).toList();
        assertEquals(3, lines.size(), list.out());
        Map<Long, String> sqlStates = Map.of(nameless, "23502", longInsert, "22003", longUpdate, "22003");
        for (Map.Entry<Long, String> e : sqlStates.entrySet()) {
            String line = lines.stream().filter(s -> s.contains("key {\"id\":" + e.getKey() + "}")).findFirst()
                    .orElseThrow(() -> new AssertionError("no dead letter for id " + e.getKey() + " in\n" + list.out()));
            assertTrue(line.contains(" writer ") && line.contains("public.user_names") && line.contains("sqlstate " + e.getValue()), line);
            assertTrue(line.matches(".*from understudy\\.new\\.public\\.user_names\\[\\d+]@\\d+ .*"), line);
            assertTrue(line.matches(".*lsn \\d+  version \\d+ .*"), line);
            if (e.getValue().equals("23502")) {
                assertTrue(line.contains("full_name"), "the error names the column: " + line);
            } else {
                assertTrue(line.contains("smallint") && line.contains("out of range"), "the error names the overflow: " + line);
            }
        }
        assertTrue(list.out().contains("3 dead letter(s) in understudy.dlq"), list.out());
        assertTrue(list.out().contains("by stage:    writer 3"), list.out());
        assertTrue(list.out().contains("by table:    public.user_names 3"), list.out());
        assertTrue(list.out().contains("by SQLSTATE: 22003 2, 23502 1"), list.out());

        // The coordinates lead back to the change itself: the LSN of its legacy statement, and the
        // new-schema record at topic[partition]@offset holding the poison row under that version.
        CliRun.Result json = CliRun.run("dlq", "list", "--config", configFile.toString(), "--json");
        assertEquals(0, json.exit(), json.out());
        ObjectMapper mapper = new ObjectMapper();
        Map<Long, JsonNode> letters = new HashMap<>();
        for (String line : json.out().lines().filter(s -> s.startsWith("{\"type\":\"dead_letter\"")).toList()) {
            JsonNode letter = mapper.readTree(line);
            letters.put(mapper.readTree(letter.get("key").asText()).get("id").asLong(), letter);
        }
        assertEquals(poison, letters.keySet(), json.out());
        List<Long> inStatementOrder = List.of(nameless, longInsert, longUpdate);
        for (int i = 0; i < inStatementOrder.size(); i++) {
            JsonNode letter = letters.get(inStatementOrder.get(i));
            long lsn = letter.get("lsn").asLong();
            assertTrue(lsn >= walBounds.get(i) && lsn < walBounds.get(i + 1),
                    "LSN " + lsn + " outside its statement's WAL range " + walBounds.subList(i, i + 2) + ": " + letter);
            assertEquals(lsn, letter.get("version").asLong(), "a streamed change is versioned by its LSN: " + letter);
            assertEquals("public.user_names", letter.get("table").asText());
        }
        checkOriginal(letters.get(nameless), nameless, null, 0);
        checkOriginal(letters.get(longInsert), longInsert, "x".repeat(LONG_NAME), LONG_NAME);
        checkOriginal(letters.get(longUpdate), longUpdate, "y".repeat(LONG_NAME), LONG_NAME);

        try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
            st.execute("ALTER TABLE public.user_names ALTER COLUMN full_name DROP NOT NULL");
            st.execute("ALTER TABLE public.user_names ALTER COLUMN name_length TYPE int");
        }
        CliRun.Result replay = CliRun.run("dlq", "replay", "--config", configFile.toString());
        assertEquals(0, replay.exit(), replay.out());
        assertTrue(replay.out().contains("Replayed 3 dead letter(s) (public.user_names 3)"), replay.out());
        assertFalse(replay.out().contains("Skipped"), replay.out());

        // Ends early when the writer rejects a replayed row again, which the count below then reports.
        await(Duration.ofSeconds(60), () -> pipeline.writer().metrics().deadLettered() > 3 || (sameRows(Set.of()) && driftIsZero()),
                "the replayed rows applied and zero drift");
        assertEquals(3, pipeline.writer().metrics().deadLettered(), "the replayed rows were applied, not dead-lettered again");
        assertTrue(sameRows(Set.of()), "target equals the legacy projection: " + differences(Set.of()));
        try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
            assertEquals("null|0", text(st, "SELECT coalesce(full_name, 'null') || '|' || name_length FROM public.user_names WHERE id = "
                    + nameless));
            assertEquals(LONG_NAME + "|" + LONG_NAME, text(st, "SELECT length(full_name) || '|' || name_length FROM public.user_names "
                    + "WHERE id = " + longInsert));
            assertEquals("y".repeat(LONG_NAME), text(st, "SELECT full_name FROM public.user_names WHERE id = " + longUpdate));
        }
        assertTrue(driftIsZero(), "drift open " + pipeline.drift().totalOpen() + ", pending " + pipeline.drift().totalPending());
        assertNull(pipeline.failure());
    }

    /** The new-schema record a dead letter names: its change headers and its decoded row. */
    private static void checkOriginal(JsonNode letter, long id, String fullName, int nameLength) throws Exception {
        String topic = letter.get("topic").asText();
        assertEquals("understudy.new.public.user_names", topic, letter.toString());
        ConsumerRecord<byte[], byte[]> original = recordAt(topic, letter.get("partition").asInt(), letter.get("offset").asLong());
        assertEquals(letter.get("version").asLong(), ChangeHeaders.getLong(original.headers(), ChangeHeaders.VERSION, -1), letter.toString());
        assertEquals(letter.get("lsn").asLong(), ChangeHeaders.getLong(original.headers(), ChangeHeaders.LSN, -1), letter.toString());
        PipelineConfig cfg = PipelineConfig.load(configFile);
        AvroDeserializer avro = new AvroDeserializer(new ConfluentRegistryClient(cfg.get(PipelineConfig.REGISTRY_URL), cfg.serdeConfig()));
        GenericRecord key = avro.deserialize(topic, original.key());
        GenericRecord row = avro.deserialize(topic, original.value());
        assertEquals(id, ((Number) key.get("id")).longValue(), letter.toString());
        assertEquals(fullName, row.get("full_name") == null ? null : row.get("full_name").toString(), letter.toString());
        assertEquals(nameLength, row.get("name_length"), letter.toString());
    }

    private static ConsumerRecord<byte[], byte[]> recordAt(String topic, int partition, long offset) {
        Map<String, Object> props = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        TopicPartition tp = new TopicPartition(topic, partition);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            consumer.assign(List.of(tp));
            consumer.seek(tp, offset);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.offset() == offset) {
                        return r;
                    }
                    // A transaction marker or compacted gap at the offset: the record is not there.
                    fail("no record at " + topic + "[" + partition + "]@" + offset + "; the first one after it is at " + r.offset());
                }
            }
        }
        fail("nothing read at " + topic + "[" + partition + "]@" + offset);
        return null;
    }

    private static boolean sameRows(Set<Long> excluded) {
        assertNull(pipeline.failure(), "pipeline stage failed");
        try {
            List<List<String>> sides = sides(excluded);
            return sides.get(0).equals(sides.get(1));
        } catch (SQLException e) {
            // The target table exists only once Flyway ran; an early read is simply early.
            return false;
        }
    }

    /** Legacy projection, then target rows, without the {@code excluded} ids. */
    private static List<List<String>> sides(Set<Long> excluded) throws SQLException {
        String where = excluded.isEmpty() ? ""
                : "WHERE id NOT IN (" + excluded.stream().map(String::valueOf).collect(Collectors.joining(", ")) + ")";
        try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
            return List.of(rows(l, EXPECTED.formatted(where)), rows(t, ACTUAL.formatted(where)));
        }
    }

    private static String differences(Set<Long> excluded) {
        List<List<String>> sides;
        try {
            sides = sides(excluded);
        } catch (SQLException e) {
            return "not readable: " + e.getMessage();
        }
        Set<String> expected = new HashSet<>(sides.get(0));
        Set<String> actual = new HashSet<>(sides.get(1));
        return "expected but not in the target: " + sides.get(0).stream().filter(r -> !actual.contains(r)).limit(8).toList()
                + "; in the target but not expected: " + sides.get(1).stream().filter(r -> !expected.contains(r)).limit(8).toList();
    }

    private static List<String> rows(Connection c, String query) throws SQLException {
        List<String> out = new ArrayList<>();
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(query)) {
            int columns = rs.getMetaData().getColumnCount();
            while (rs.next()) {
                StringBuilder row = new StringBuilder();
                for (int i = 1; i <= columns; i++) {
                    row.append(i > 1 ? "|" : "").append(rs.getString(i));
                }
                out.add(row.toString());
            }
        }
        return out;
    }

    /** Every comparison task has reported, and nothing is open or pending. */
    private static boolean driftIsZero() {
        return pipeline.drift().oldestReportMs() > 0 && pipeline.drift().totalOpen() == 0 && pipeline.drift().totalPending() == 0;
    }

    private static long walInsertLsn(Statement st) throws SQLException {
        return single(st, "SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint");
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

    private static String slashes(Path p) {
        return p.toString().replace("\\", "/");
    }

    private static void await(Duration timeout, BooleanSupplier condition, String what) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            if (condition.getAsBoolean()) {
                return;
            }
            Thread.sleep(250);
        }
        fail("timed out waiting for " + what + "; writer " + pipeline.writer().metrics() + "; drift open "
                + pipeline.drift().totalOpen() + ", pending " + pipeline.drift().totalPending() + "; rows: " + differences(Set.of()));
    }
}

package dev.understudy.pipeline;

import dev.understudy.capture.ExportedSnapshot;
import dev.understudy.load.BulkCopy;
import dev.understudy.load.BulkLoad;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.testkit.TypeEdges.TypeRow;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.transform.spec.SpecTableMapping;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;

import static dev.understudy.testkit.TypeEdges.DEAD_LETTERED;
import static dev.understudy.testkit.TypeEdges.EDGES;
import static dev.understudy.testkit.TypeEdges.column;
import static dev.understudy.testkit.TypeEdges.createTable;
import static dev.understudy.testkit.TypeEdges.insertRows;
import static dev.understudy.testkit.TypeEdges.locate;
import static dev.understudy.testkit.TypeEdges.readTypeTable;
import static dev.understudy.testkit.TypeEdges.value;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Every type of the type reference, docs/types.md, read from that table: a legacy table with one
 * column per carried type, filled with each type's edge values, copied by a spec whose contract
 * takes each field's Avro type from the table, through the initial snapshot (or the bulk initial
 * load, {@code initial.load=bulk}), streamed inserts and streamed updates; legacy {@code col::text}
 * must equal target {@code col::text} for every row and column, with no dead letters. Types the
 * table marks refused must stop the start, naming the table, column, type and fix. The JVM runs in
 * one time zone (Asia/Kolkata, the build's test.timezone) and both servers in another
 * (America/Sao_Paulo).
 */
class TypeFidelityIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    @TempDir
    static Path work;
    static EmbeddedStack stack;
    static List<TypeRow> types;

    @BeforeAll
    static void start() throws Exception {
        types = readTypeTable(locate("docs/types.md"));
        stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE);
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void theTableAndTheEdgeValuesNameTheSameTypes() {
        assertEquals(new TreeSet<>(EDGES.keySet()), types.stream().map(TypeRow::pgType).collect(Collectors.toCollection(TreeSet::new)),
                "types of docs/types.md vs edge values of this test");
    }

    @Test
    void everyCarriedTypeArrivesExactlyThroughSnapshotInsertAndUpdate() throws Exception {
        everyCarriedTypeArrivesExactly("fidelity", "fidelity", "snapshot");
    }

    /**
     * As through the snapshot, but the pipeline starts with {@code initial.load=bulk}: the initial rows
     * arrive through the bulk initial load (read at the slot's exported snapshot, mapped, COPYed),
     * which dead-letters their refused values as the capture's snapshot would; the streamed inserts
     * and updates then land on top of the rows and state it seeded.
     */
    @Test
    void everyCarriedTypeArrivesExactlyThroughTheBulkInitialLoadInsertAndUpdate() throws Exception {
        everyCarriedTypeArrivesExactly("bulkload", "bulkload", "bulk");
    }

    /**
     * Tables {@code schema.types} (every carried type) and {@code schema.other} in both databases,
     * copied by pipeline {@code pipelineName} started with {@code initial.load=initialLoad}; every name
     * (schema, pipeline, topics, directories) is the run's own, so runs share the class's stack.
     */
    private static void everyCarriedTypeArrivesExactly(String schema, String pipelineName, String initialLoad) throws Exception {
        boolean bulk = initialLoad.equals("bulk");
        String table = schema + ".types";
        String otherTable = schema + ".other";
        List<TypeRow> carried = types.stream().filter(t -> !t.refused()).toList();
        int rows = carried.stream().mapToInt(t -> EDGES.get(t.pgType()).size()).max().orElseThrow() + 1;
        long legacyRowsAtStart;
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA " + schema);
            s.execute(createTable(table, carried, true));
            insertRows(s, table, carried, 1, rows, 0);
            insertRefusedValues(s, table, 5001);
            // A carried row that a refused value will reach by UPDATE.
            s.execute("INSERT INTO " + table + " (id) VALUES (7001)");
            // A second table the spec reads, to show the pipeline keeps going on other tables.
            s.execute("CREATE TABLE " + otherTable + " (id integer PRIMARY KEY, note text)");
            s.execute("INSERT INTO " + otherTable + " SELECT i, 'note ' || i FROM generate_series(1, 20) i");
            try (java.sql.ResultSet rs = s.executeQuery("SELECT (SELECT count(*) FROM " + table + ") + (SELECT count(*) FROM "
                    + otherTable + ")")) {
                rs.next();
                legacyRowsAtStart = rs.getLong(1);
            }
        }
        Path dir = work.resolve("spec-" + pipelineName);
        Files.createDirectories(dir.resolve("flyway"));
        // The schema is Flyway's own (see the target URL below): Flyway creates it for its history.
        Files.writeString(dir.resolve("flyway/V1__types.sql"), createTable(table, carried, false)
                + ";\nCREATE TABLE " + otherTable + " (id integer PRIMARY KEY, note text);\n");
        Files.writeString(dir.resolve("types.avsc"), contract("types", carried));
        Files.writeString(dir.resolve("other.avsc"), """
                {"type":"record","name":"other","namespace":"understudy.contract.%s","fields":[
                  {"name":"id","type":"int"},{"name":"note","type":["null","string"],"default":null}]}""".formatted(schema));
        StringBuilder spec = new StringBuilder("""
                migration: v1_types
                flyway: "1"
                sources:
                  types: { table: %1$s }
                  other: { table: %2$s }
                targets:
                  other:
                    table: %2$s
                    from: other
                    contract: other.avsc
                    key: [id]
                    columns:
                      id: { column: id }
                      note: { column: note }
                """.formatted(table, otherTable)).append(typesTarget(table, carried));
        Files.writeString(dir.resolve("types.yaml"), spec.toString());

        // The rows holding dead-lettered values are not in the target; every other row is, exactly.
        String columns = "SELECT id, " + carried.stream().map(TypeFidelityIT::asText).collect(Collectors.joining(", "))
                + " FROM " + table;
        String expected = columns + " WHERE id < 5000 ORDER BY id";
        String actual = expected;
        // The runs share the target database, and Flyway keeps one history per schema (the connection's
        // current one): each run keeps its history in its own schema, so that each run's V1 applies
        // whichever run came first.
        PipelineConfig config = TestPipelines.config(stack, work.resolve("streams-" + pipelineName),
                PipelineConfig.TARGET_JDBC_URL.name(), stack.target().jdbcUrl() + "?currentSchema=" + schema,
                PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + dir.resolve("flyway"),
                PipelineConfig.PIPELINE_NAME.name(), pipelineName,
                PipelineConfig.INITIAL_LOAD.name(), initialLoad, TransformConfig.SETTLE_MS.name(), "3000");
        try (Pipeline pipeline = new Pipeline(config, MigrationSpec.load(dir.resolve("types.yaml"))).start()) {
            if (bulk) {
                BulkLoad.Result load = pipeline.initialLoad();
                assertNotNull(load, "the start's bulk initial load");
                // Every legacy row of both tables, including those whose values it dead-lettered.
                assertEquals(legacyRowsAtStart, load.rows(), "legacy rows the initial load read");
                assertEquals(refusedValues(), load.deadLettered(), "rows the initial load dead-lettered");
                assertEquals(0, pipeline.legacyCapture().metrics().snapshotRows(), "rows the legacy capture snapshotted");
            }
            assertExact(pipeline, expected, actual, bulk ? "the bulk initial load" : "the snapshot");
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                insertRows(s, table, carried, 1001, rows, 0);
                insertRefusedValues(s, table, 6001);
                s.execute("INSERT INTO " + otherTable + " VALUES (21, 'streamed')");
            }
            assertExact(pipeline, expected, actual, "streamed inserts");
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                // Each row takes its neighbour's values: every edge value is written by an UPDATE too,
                // over another value (or over NULL, or becoming NULL).
                updateRows(s, table, carried, 1, rows, 1);
                updateRows(s, table, carried, 1001, rows, 2);
                // A refused value arriving by UPDATE of a row that was carried.
                s.execute("UPDATE " + table + " SET c_timestamp = '294276-12-31 23:59:59.999999' WHERE id = 7001");
                s.execute("UPDATE " + otherTable + " SET note = 'updated' WHERE id = 1");
            }
            assertExact(pipeline, expected, actual, "streamed updates");
            String otherRows = "SELECT id, note FROM " + otherTable + " ORDER BY id";
            TestPipelines.Sides other = TestPipelines.awaitRows(stack, pipeline, otherRows, otherRows, Duration.ofSeconds(60), false);
            assertEquals(other.expected(), other.actual(), "the other table");
            assertDeadLetters(carried, table, pipelineName);
            // The target holds no row of a refused insert, and the row whose update was refused as it was.
            try (Connection t = stack.target().connect(); Statement s = t.createStatement();
                 java.sql.ResultSet rs = s.executeQuery("SELECT count(*) FILTER (WHERE id BETWEEN 5001 AND 6999),"
                         + " count(*) FILTER (WHERE id = 7001 AND c_timestamp IS NULL) FROM " + table)) {
                rs.next();
                assertEquals(0, rs.getLong(1), "rows of refused values in the target");
                assertEquals(1, rs.getLong(2), "the row whose update was refused");
            }
        }
    }

    /**
     * The bulk path ({@link BulkCopy}: the spec's SQL projection, COPY out of the legacy database in
     * text form and into the target) carries every carried type's edge values as exactly as the
     * streaming path: legacy {@code col::text} equals target {@code col::text} for every row and column.
     */
    @Test
    void everyCarriedTypeArrivesExactlyThroughTheBulkCopy() throws Exception {
        List<TypeRow> carried = types.stream().filter(t -> !t.refused()).toList();
        int rows = carried.stream().mapToInt(t -> EDGES.get(t.pgType()).size()).max().orElseThrow() + 1;
        String table = "bulkfidelity.types";
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA bulkfidelity");
            s.execute(createTable(table, carried, true));
            insertRows(s, table, carried, 1, rows, 0);
            insertRows(s, table, carried, 1001, rows, 1);
        }
        try (Connection t = stack.target().connect(); Statement s = t.createStatement()) {
            s.execute("CREATE SCHEMA bulkfidelity");
            s.execute(createTable(table, carried, false));
        }
        Path dir = work.resolve("bulk-spec");
        Files.createDirectories(dir);
        Files.writeString(dir.resolve("types.avsc"), contract("types", carried));
        StringBuilder spec = new StringBuilder("""
                migration: v1_bulk_types
                flyway: "1"
                sources:
                  types: { table: bulkfidelity.types }
                targets:
                """).append(typesTarget(table, carried));
        Files.writeString(dir.resolve("types.yaml"), spec.toString());
        SpecTableMapping mapping = MigrationSpec.load(dir.resolve("types.yaml")).mappings().get(0);
        BulkCopy.Result result;
        try (ExportedSnapshot snapshot = ExportedSnapshot.create(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(),
                "bulk_fidelity", "pgoutput")) {
            result = new BulkCopy(snapshot, stack.target().jdbcUrl(), stack.target().user(), stack.target().password(), 2, 5)
                    .copy(mapping, n -> { });
        } finally {
            ExportedSnapshot.dropSlot(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), "bulk_fidelity");
        }
        assertEquals(2L * rows, result.rows(), "rows copied");
        String query = "SELECT id, " + carried.stream().map(TypeFidelityIT::asText).collect(Collectors.joining(", ")) + " FROM " + table
                + " ORDER BY id";
        TestPipelines.Sides sides;
        try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
            sides = new TestPipelines.Sides(TestPipelines.rows(l, query), TestPipelines.rows(t, query));
        }
        if (!sides.expected().equals(sides.actual())) {
            fail("through the bulk copy: " + differences(sides));
        }
    }

    @Test
    void refusedTypesStopTheStartNamingTableColumnTypeAndFix() throws Exception {
        List<TypeRow> refused = types.stream().filter(TypeRow::refused).toList();
        assertFalse(refused.isEmpty());
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS refused");
            StringBuilder ddl = new StringBuilder("CREATE TABLE refused.cols (id integer PRIMARY KEY");
            for (TypeRow t : refused) {
                ddl.append(", ").append(t.column()).append(' ').append(t.pgType());
            }
            // An interval without the constraint that keeps its values readable is refused too.
            ddl.append(", c_interval interval)");
            s.execute(ddl.toString());
        }
        Path dir = work.resolve("refused");
        Files.createDirectories(dir.resolve("flyway"));
        Files.writeString(dir.resolve("flyway/V1__refused.sql"), "CREATE SCHEMA refused;\nCREATE TABLE refused.cols (id integer PRIMARY KEY);\n");
        Files.writeString(dir.resolve("cols.avsc"), """
                {"type":"record","name":"cols","namespace":"understudy.contract.refused","fields":[{"name":"id","type":"int"}]}""");
        Files.writeString(dir.resolve("refused.yaml"), """
                migration: v1_refused
                flyway: "1"
                sources:
                  cols: { table: refused.cols }
                targets:
                  cols:
                    table: refused.cols
                    from: cols
                    contract: cols.avsc
                    key: [id]
                    columns:
                      id: { column: id }
                """);
        PipelineConfig config = TestPipelines.config(stack, work.resolve("streams-refused"), PipelineConfig.FLYWAY_LOCATIONS.name(),
                "filesystem:" + dir.resolve("flyway"), PipelineConfig.PIPELINE_NAME.name(), "refused");
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new Pipeline(config, MigrationSpec.load(dir.resolve("refused.yaml"))).start().close());
        String msg = e.getMessage();
        for (TypeRow t : refused) {
            assertTrue(msg.contains("refused.cols." + t.column() + " has type " + t.pgType()), msg);
        }
        assertTrue(msg.contains("refused.cols.c_interval has type interval"), msg);
        assertTrue(msg.contains("Fix: "), msg);
        assertTrue(msg.contains("ALTER TABLE refused.cols"), msg);
    }

    // ---------------------------------------------------------------------------------------------

    private static void assertExact(Pipeline pipeline, String expected, String actual, String phase) throws Exception {
        TestPipelines.Sides sides = TestPipelines.awaitRows(stack, pipeline, expected, actual, Duration.ofSeconds(120), true);
        assertNull(pipeline.failure(), "pipeline failure");
        if (!sides.expected().equals(sides.actual())) {
            fail("after " + phase + ": " + differences(sides));
        }
        assertTrue(TestPipelines.driftIsZero(pipeline), "drift after " + phase + ": open " + pipeline.drift().totalOpen()
                + ", pending " + pipeline.drift().totalPending());
    }

    /** Per differing row, the columns whose text differs: legacy value, then target value. */
    private static String differences(TestPipelines.Sides sides) {
        List<String> out = new ArrayList<>();
        Map<String, String> actual = new LinkedHashMap<>();
        for (String row : sides.actual()) {
            actual.put(row.substring(0, row.indexOf('|')), row);
        }
        for (String row : sides.expected()) {
            String id = row.substring(0, row.indexOf('|'));
            String other = actual.remove(id);
            if (other == null) {
                out.add("row " + id + " missing in the target");
                continue;
            }
            String[] e = row.split("\\|", -1);
            String[] a = other.split("\\|", -1);
            for (int i = 1; i < Math.min(e.length, a.length); i++) {
                if (!e[i].equals(a[i])) {
                    out.add("row " + id + " column " + i + ": legacy '" + abbreviate(e[i]) + "' target '" + abbreviate(a[i]) + "'");
                }
            }
        }
        actual.keySet().forEach(id -> out.add("row " + id + " only in the target"));
        return out.size() + " differences: " + String.join("; ", out.subList(0, Math.min(out.size(), 40)));
    }

    private static String abbreviate(String s) {
        return s.length() > 60 ? s.substring(0, 60) + "…(" + s.length() + " chars)" : s;
    }

    /**
     * {@code col::text}, except for xml: its cast to text returns the stored characters, while
     * PostgreSQL's output function (xml_out, which pgoutput sends and every client reads) leaves out a
     * declaration that says no more than version 1.0 (docs/types.md); xml is compared by that output.
     */
    private static String asText(TypeRow t) {
        return t.pgType().equals("xml") ? t.column() : t.column() + "::text";
    }

    /** Values the capture refuses, each written once per phase (initial rows, streamed inserts). */
    private static int refusedValues() {
        return DEAD_LETTERED.values().stream().mapToInt(List::size).sum();
    }

    /** One row of {@code table} per refused value, the other columns NULL. */
    private static void insertRefusedValues(Statement s, String table, int firstId) throws Exception {
        int id = firstId;
        for (Map.Entry<String, List<String>> e : DEAD_LETTERED.entrySet()) {
            for (String v : e.getValue()) {
                s.execute("INSERT INTO " + table + " (id, " + column(e.getKey()) + ") VALUES (" + id++ + ", " + v + ")");
            }
        }
    }

    /**
     * Exactly the refused values are dead-lettered (initial rows, streamed inserts, the one update),
     * each naming table, column, key and LSN, and nothing else is.
     */
    private static void assertDeadLetters(List<TypeRow> carried, String table, String pipelineName) throws Exception {
        long expected = 2L * refusedValues() + 1;
        List<org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]>> letters = readDeadLetters(pipelineName, expected);
        assertEquals(expected, letters.size(), "dead letters");
        Set<String> keys = new TreeSet<>();
        for (var r : letters) {
            String column = header(r, "understudy.dlq.column");
            assertEquals(table, header(r, "understudy.dlq.table"));
            assertTrue(column != null && DEAD_LETTERED.containsKey(carried.stream().filter(t -> t.column().equals(column))
                    .findFirst().orElseThrow().pgType()), "column " + column);
            assertTrue(header(r, "understudy.dlq.lsn") != null, "an LSN");
            assertEquals(Topics.legacy(pipelineName, table), header(r, "understudy.dlq.topic"));
            keys.add(header(r, "understudy.dlq.key"));
        }
        assertTrue(keys.contains("{\"id\":\"7001\"}"), "the update's key: " + keys);
        assertTrue(keys.contains("{\"id\":\"5001\"}") && keys.contains("{\"id\":\"6001\"}"), "initial row and insert keys: " + keys);
    }

    private static String header(org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]> r, String name) {
        var h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), java.nio.charset.StandardCharsets.UTF_8);
    }

    /** The dead-letter topic's records, waiting up to a minute for at least {@code atLeast}, then a little more for extras. */
    private static List<org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]>> readDeadLetters(String prefix, long atLeast)
            throws Exception {
        List<org.apache.kafka.clients.consumer.ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<byte[], byte[]>(Map.of(
                org.apache.kafka.clients.consumer.ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                org.apache.kafka.clients.consumer.ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer(),
                new org.apache.kafka.common.serialization.ByteArrayDeserializer())) {
            String topic = Topics.deadLetter(prefix);
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            long quietUntil = Long.MAX_VALUE;
            while (System.nanoTime() < Math.min(deadline, quietUntil)) {
                consumer.poll(Duration.ofMillis(500)).forEach(out::add);
                if (out.size() >= atLeast && quietUntil == Long.MAX_VALUE) {
                    quietUntil = System.nanoTime() + Duration.ofSeconds(3).toNanos();
                }
            }
        }
        return out;
    }

    private static void updateRows(Statement s, String table, List<TypeRow> types, int first, int count, int shift)
            throws Exception {
        for (int k = 0; k < count; k++) {
            StringBuilder sql = new StringBuilder("UPDATE " + table + " SET ");
            for (int i = 0; i < types.size(); i++) {
                TypeRow t = types.get(i);
                sql.append(i > 0 ? ", " : "").append(t.column()).append(" = (").append(value(t, k + shift)).append(")::").append(t.pgType());
            }
            s.execute(sql.append(" WHERE id = ").append(first + k).toString());
        }
    }

    /** The spec's target {@code types}: table {@code table} from source {@code types}, copying every column of {@code types}. */
    private static String typesTarget(String table, List<TypeRow> types) {
        StringBuilder yaml = new StringBuilder("  types:\n    table: " + table + "\n    from: types\n    contract: types.avsc\n"
                + "    key: [id]\n    columns:\n      id: { column: id }\n");
        for (TypeRow t : types) {
            yaml.append("      ").append(t.column()).append(": { column: ").append(t.column()).append(" }\n");
        }
        return yaml.toString();
    }

    private static String contract(String name, List<TypeRow> types) {
        StringBuilder avsc = new StringBuilder("{\"type\":\"record\",\"name\":\"" + name
                + "\",\"namespace\":\"understudy.contract.fidelity\",\"fields\":[{\"name\":\"id\",\"type\":\"int\"}");
        for (TypeRow t : types) {
            avsc.append(",{\"name\":\"").append(t.column()).append("\",\"type\":[\"null\",").append(avroJson(t.avro()))
                    .append("],\"default\":null}");
        }
        return avsc.append("]}").toString();
    }

    /** {@code long timestamp-micros} to {@code {"type":"long","logicalType":"timestamp-micros"}}. */
    private static String avroJson(String avro) {
        String[] parts = avro.trim().split("\\s+");
        if (parts.length == 1) {
            return "\"" + parts[0] + "\"";
        }
        return "{\"type\":\"" + parts[0] + "\",\"logicalType\":\"" + parts[1] + "\"}";
    }
}

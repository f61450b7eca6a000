package dev.understudy.pipeline;

import dev.understudy.schemas.PausePoints;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.testkit.TypeEdges;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import org.flywaydb.core.Flyway;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The bulk initial load ({@code initial.load=bulk}) on the real stack, under changes that land in
 * chunks already copied and chunks not yet copied: updates of TOASTed rows that leave the large
 * value unchanged (Debezium sends a placeholder that only a seeded prior image can fill), rows moving
 * in and out of a filter, deletes, inserts and primary-key changes. Two targets read the one legacy
 * table (a filtered, renamed projection with an expression, and a plain one). The end state of both
 * is checked against the same projections computed by SQL on the legacy database, with zero drift
 * (so the comparison's seeded expected rows agree with what the target capture reads), nothing
 * dead-lettered, and no snapshot taken by the capture. A second test interrupts the load after a
 * few chunks, changes the legacy table (TOASTed rows of chunks not loaded among them), and starts the
 * pipeline again: the load resumes, its other chunks read by an incremental snapshot while the capture
 * streams from the slot, and converges; a third start after every chunk was loaded but before the load
 * was recorded complete only records it.
 */
class BulkLoadIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final int ROWS = 30_000;
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
                filter: "!hidden"
                columns:
                  id: { column: id }
                  title: { expression: "name.upperAscii()" }
                  note: { column: note }
                  qty: { column: qty }
              stock:
                table: public.stock
                from: items
                contract: stock.avsc
                key: [id]
                columns:
                  id: { column: id }
                  qty: { column: qty }
            """;
    private static final String FLYWAY = """
            CREATE TABLE public.catalog (id bigint PRIMARY KEY, title text, note text, qty integer);
            CREATE TABLE public.stock (id bigint PRIMARY KEY, qty integer);
            """;
    private static final String CATALOG_AVSC = """
            {"type":"record","name":"catalog","namespace":"understudy.contract.bulk","fields":[
              {"name":"id","type":"long"},{"name":"title","type":["null","string"],"default":null},
              {"name":"note","type":["null","string"],"default":null},{"name":"qty","type":["null","int"],"default":null}]}""";
    private static final String STOCK_AVSC = """
            {"type":"record","name":"stock","namespace":"understudy.contract.bulk","fields":[
              {"name":"id","type":"long"},{"name":"qty","type":["null","int"],"default":null}]}""";
    /** The projections, independently, in SQL: md5 keeps TOASTed notes short in failure messages. */
    private static final String CATALOG_EXPECTED = "SELECT id, upper(name), md5(note), qty FROM public.items WHERE NOT hidden ORDER BY id";
    private static final String CATALOG_ACTUAL = "SELECT id, title, md5(note), qty FROM public.catalog ORDER BY id";
    private static final String STOCK_EXPECTED = "SELECT id, qty FROM public.items ORDER BY id";
    private static final String STOCK_ACTUAL = "SELECT id, qty FROM public.stock ORDER BY id";

    @Test
    void aBulkLoadUnderChangesEndsEqualToTheLegacyProjectionsWithZeroDrift(@TempDir Path work) throws Exception {
        MigrationSpec spec = writeSpec(work);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            fill(stack);
            PipelineConfig config = config(stack, work, "bulk");
            Churn churn = new Churn(stack, 11);
            Thread background = new Thread(churn, "churn");
            background.start();
            // Every committed chunk also waits for a burst of changes, so that changes land in chunks
            // already copied and in chunks not yet copied, whatever the machine's speed.
            AtomicInteger chunks = new AtomicInteger();
            try (AutoCloseable burst = PausePoints.install(point -> {
                if (PausePoints.LOAD_CHUNK_COMMITTED.equals(point) && chunks.incrementAndGet() % 2 == 0) {
                    churn.burst(25);
                }
            }); Pipeline pipeline = new Pipeline(config, spec).start()) {
                burst.close();
                assertNotNull(pipeline.initialLoad(), "the start did a bulk load");
                assertTrue(chunks.get() >= 10, "chunks loaded: " + chunks.get());
                assertEquals(0, pipeline.initialLoad().deadLettered(), "rows dead-lettered by the load");
                Thread.sleep(3_000);
                churn.stop.set(true);
                background.join(10_000);
                assertNull(churn.failure.get(), "churn failed");
                assertTrue(churn.toastUpdates.get() > 0 && churn.keyChanges.get() > 0 && churn.deletes.get() > 0,
                        "churn: " + churn);

                assertConverged(stack, pipeline);
                assertEquals(0, pipeline.legacyCapture().metrics().snapshotRows(), "the capture took no snapshot");
                assertEquals(0, pipeline.writer().metrics().deadLettered(), "writer dead letters");
                assertEquals(0, deadLetters(stack, "bulk"), "records on the dead-letter topic");
                System.out.printf("Bulk load of %,d rows: %,.0f rows/s, %,d state records; churn %s%n", pipeline.initialLoad().rows(),
                        pipeline.initialLoad().rowsPerSecond(), pipeline.initialLoad().stateRecords(), churn);
            }

            // A restart resumes from the capture's offsets: no load, no snapshot, and it keeps converging.
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                assertNull(pipeline.initialLoad(), "a started pipeline does not load again");
                churn.burst(200);
                assertConverged(stack, pipeline);
            }

            // A start that finds the load recorded complete but no capture offsets (as after a crash
            // between the load and Debezium's first offset flush): no load again, no snapshot; the
            // capture streams from its slot's confirmed position, and the target keeps converging.
            deleteTopic(stack, Topics.offsets("bulk", "legacy"));
            churn.burst(200);
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                assertNull(pipeline.initialLoad(), "a load recorded complete is not done again");
                churn.burst(200);
                assertConverged(stack, pipeline);
                assertEquals(0, pipeline.legacyCapture().metrics().snapshotRows(), "the capture took no snapshot");
                assertEquals(0, deadLetters(stack, "bulk"), "records on the dead-letter topic");
            }
        }
    }

    /** Deletes a topic and waits until the broker no longer lists it (deletion completes asynchronously). */
    private static void deleteTopic(EmbeddedStack stack, String topic) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
            admin.deleteTopics(List.of(topic)).all().get();
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (admin.listTopics().names().get().contains(topic)) {
                assertTrue(System.nanoTime() < deadline, "topic " + topic + " still listed 30 s after its deletion");
                Thread.sleep(100);
            }
        }
    }

    @Test
    void anInterruptedLoadResumesWithTheChunksItHadNotLoadedAndConverges(@TempDir Path work) throws Exception {
        MigrationSpec spec = writeSpec(work);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            fill(stack);
            PipelineConfig config = config(stack, work, "bulk");
            AtomicInteger chunks = new AtomicInteger();
            try (AutoCloseable crash = PausePoints.install(point -> {
                if (PausePoints.LOAD_CHUNK_COMMITTED.equals(point) && chunks.incrementAndGet() == 4) {
                    throw new IllegalStateException("stopped at the 4th chunk");
                }
            })) {
                RuntimeException failed = assertThrows(RuntimeException.class, () -> new Pipeline(config, spec).start());
                assertTrue(String.valueOf(failed.getMessage()).contains("4th chunk") || String.valueOf(rootCause(failed)).contains("4th chunk"),
                        String.valueOf(failed));
            }
            long loadedChunks;
            long plannedChunks;
            try (Connection t = stack.target().connect(); Statement s = t.createStatement()) {
                try (ResultSet rs = s.executeQuery("SELECT state FROM understudy.initial_load WHERE pipeline = 'bulk'")) {
                    assertTrue(rs.next());
                    assertEquals("LOADING", rs.getString(1), "the interrupted load is recorded as running");
                }
                try (ResultSet rs = s.executeQuery("SELECT count(*) FILTER (WHERE loaded), count(*) FROM understudy.initial_load_chunk"
                        + " WHERE pipeline = 'bulk'")) {
                    rs.next();
                    loadedChunks = rs.getLong(1);
                    plannedChunks = rs.getLong(2);
                }
            }
            assertTrue(loadedChunks >= 4 && loadedChunks < plannedChunks, loadedChunks + " of " + plannedChunks + " chunks recorded as loaded");
            long partial = count(stack.target(), "public.stock");
            assertTrue(partial > 0 && partial < ROWS, "rows left by the interrupted load: " + partial);
            Churn churn = new Churn(stack, 23);
            churn.burst(300);
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                assertNull(pipeline.initialLoad(), "the load resumed instead of loading again");
                churn.burst(300);
                assertConverged(stack, pipeline);
                // An update that leaves a TOASTed value unchanged, of a row in a chunk not loaded, made
                // before the incremental snapshot read the row, has no prior image to fill from: it is
                // dead-lettered, and the row's read then brings it to its current state (converged above).
                List<String> causes = deadLetterCauses(stack, "bulk");
                assertTrue(causes.stream().allMatch(c -> c.endsWith("UnfillableChangeException")), "dead letters: " + causes);
                long deadline = System.nanoTime() + java.time.Duration.ofSeconds(60).toNanos();
                while (!pipeline.backfill().complete() && System.nanoTime() < deadline) {
                    Thread.sleep(200);
                }
                assertTrue(pipeline.backfill().complete(), "the incremental snapshot that completes the load is complete: "
                        + pipeline.backfill().describe());
            }
            try (Connection t = stack.target().connect(); Statement s = t.createStatement();
                 ResultSet rs = s.executeQuery("SELECT state, rows_loaded FROM understudy.initial_load WHERE pipeline = 'bulk'")) {
                assertTrue(rs.next());
                assertEquals("LOADED", rs.getString(1));
            }
            try (Connection t = stack.target().connect(); Statement s = t.createStatement();
                 ResultSet rs = s.executeQuery("SELECT covered_by FROM understudy.captured_table WHERE pipeline = 'bulk'")) {
                assertTrue(rs.next(), "the table is covered: its history is the images, the stream and the incremental snapshot");
                assertTrue(rs.getString(1).startsWith("bulk load resumed by incremental snapshot"), rs.getString(1));
            }
        }
    }

    /** Every chunk in, stopped before the load is recorded complete: the next start only records it and streams. */
    @Test
    void aLoadStoppedAfterItsLastChunkIsRecordedCompleteWithoutReadingAgain(@TempDir Path work) throws Exception {
        MigrationSpec spec = writeSpec(work);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            fill(stack);
            PipelineConfig config = config(stack, work, "bulk");
            try (AutoCloseable crash = PausePoints.install(point -> {
                if (PausePoints.LOAD_DONE.equals(point)) {
                    throw new IllegalStateException("stopped after the last chunk");
                }
            })) {
                assertThrows(RuntimeException.class, () -> new Pipeline(config, spec).start());
            }
            assertEquals(count(stack.legacy(), "public.items"), count(stack.target(), "public.stock"), "every row loaded");
            Churn churn = new Churn(stack, 29);
            churn.burst(300);
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                assertNull(pipeline.initialLoad(), "nothing loaded again");
                churn.burst(300);
                assertConverged(stack, pipeline);
                List<String> causes = deadLetterCauses(stack, "bulk");
                assertTrue(causes.isEmpty(), "dead letters: " + causes);
            }
            try (Connection t = stack.target().connect(); Statement s = t.createStatement()) {
                try (ResultSet rs = s.executeQuery("SELECT state FROM understudy.initial_load WHERE pipeline = 'bulk'")) {
                    assertTrue(rs.next());
                    assertEquals("LOADED", rs.getString(1));
                }
                try (ResultSet rs = s.executeQuery("SELECT covered_by FROM understudy.captured_table WHERE pipeline = 'bulk'")) {
                    assertTrue(rs.next());
                    assertEquals("bulk load", rs.getString(1));
                }
            }
        }
    }

    @Test
    void aNonEmptyTargetIsRefusedBeforeLoading(@TempDir Path work) throws Exception {
        MigrationSpec spec = writeSpec(work);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            fill(stack);
            Flyway.configure().dataSource(stack.target().jdbcUrl(), stack.target().user(), stack.target().password())
                    .locations("filesystem:" + work.resolve("spec/flyway")).load().migrate();
            try (Connection t = stack.target().connect(); Statement s = t.createStatement()) {
                s.execute("INSERT INTO public.stock VALUES (1, 1)");
            }
            PipelineConfig config = config(stack, work, "bulk");
            IllegalStateException e = assertThrows(IllegalStateException.class, () -> new Pipeline(config, spec).start());
            assertTrue(e.getMessage().contains("public.stock") && e.getMessage().contains("TRUNCATE")
                    && e.getMessage().contains("initial.load=snapshot"), e.getMessage());
            try (Connection l = stack.legacy().connect(); Statement s = l.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_replication_slots WHERE slot_name = 'bulk_legacy'")) {
                rs.next();
                assertEquals(0, rs.getLong(1), "no slot was created for a refused load");
            }
        }
    }

    private static Throwable rootCause(Throwable t) {
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t;
    }

    private static MigrationSpec writeSpec(Path work) throws Exception {
        Path dir = work.resolve("spec");
        Files.createDirectories(dir.resolve("flyway"));
        Files.writeString(dir.resolve("flyway/V1__items.sql"), FLYWAY);
        Files.writeString(dir.resolve("catalog.avsc"), CATALOG_AVSC);
        Files.writeString(dir.resolve("stock.avsc"), STOCK_AVSC);
        Files.writeString(dir.resolve("items.yaml"), SPEC);
        return MigrationSpec.load(dir.resolve("items.yaml"));
    }

    private static PipelineConfig config(EmbeddedStack stack, Path work, String load) {
        return TestPipelines.config(stack, work.resolve("streams"), PipelineConfig.FLYWAY_LOCATIONS.name(),
                "filesystem:" + work.resolve("spec/flyway"), PipelineConfig.PIPELINE_NAME.name(), "bulk",
                PipelineConfig.INITIAL_LOAD.name(), load, PipelineConfig.INITIAL_LOAD_CHUNK_ROWS.name(), "2000",
                TransformConfig.SETTLE_MS.name(), "3000");
    }

    /** Items, every 20th with a TOASTed note and every 7th hidden; analysed, so the chunk plan sees the rows. */
    private static void fill(EmbeddedStack stack) throws SQLException {
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE public.items (id bigint PRIMARY KEY, name text NOT NULL, note text, qty integer NOT NULL,"
                    + " hidden boolean NOT NULL DEFAULT false)");
            s.execute("INSERT INTO public.items SELECT i, 'item ' || i, CASE WHEN i % 20 = 0 THEN " + TypeEdges.TOASTED + " || i"
                    + " WHEN i % 3 = 0 THEN NULL ELSE 'note ' || i END, i % 100, i % 7 = 0 FROM generate_series(1, " + ROWS + ") i");
            s.execute("ANALYZE public.items");
        }
    }

    private static void assertConverged(EmbeddedStack stack, Pipeline pipeline) throws Exception {
        TestPipelines.Sides catalog = TestPipelines.awaitRows(stack, pipeline, CATALOG_EXPECTED, CATALOG_ACTUAL, Duration.ofSeconds(150), true);
        TestPipelines.assertSameRows(catalog);
        TestPipelines.Sides stock = TestPipelines.awaitRows(stack, pipeline, STOCK_EXPECTED, STOCK_ACTUAL, Duration.ofSeconds(60), true);
        TestPipelines.assertSameRows(stock);
        assertTrue(TestPipelines.driftIsZero(pipeline), "drift: open " + pipeline.drift().totalOpen() + ", pending "
                + pipeline.drift().totalPending());
        assertEquals(0, pipeline.drift().totalOpen());
    }

    private static long count(dev.understudy.stack.EmbeddedPostgresServer db, String table) throws SQLException {
        try (Connection c = db.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM " + table)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static long deadLetters(EmbeddedStack stack, String prefix) throws Exception {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
            String topic = Topics.deadLetter(prefix);
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic).partitions()
                    .forEach(p -> latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest()));
            return admin.listOffsets(latest).all().get().values().stream().mapToLong(i -> i.offset()).sum();
        }
    }

    /** The exception class of every record on the dead-letter topic, read by the product's own reader. */
    private static List<String> deadLetterCauses(EmbeddedStack stack, String prefix) {
        return new dev.understudy.dlq.DeadLetterReader(stack.kafka().bootstrapServers(), prefix)
                .read(dev.understudy.dlq.StartOffsets.FROM_START, l -> true)
                .map(range -> range.letters().stream().map(l -> {
                    var h = l.record().headers().lastHeader(dev.understudy.schemas.DeadLetterFields.EXCEPTION);
                    return h == null ? "(no " + dev.understudy.schemas.DeadLetterFields.EXCEPTION + " header)"
                            : new String(h.value(), java.nio.charset.StandardCharsets.UTF_8);
                }).toList())
                .orElse(List.of());
    }

    /**
     * Random single-row changes of the legacy items: qty updates (of TOASTed rows too, leaving the
     * note unchanged), renames, rows hidden and shown, deletes, inserts of new ids and primary-key
     * changes, each its own transaction.
     */
    private static final class Churn implements Runnable {
        final EmbeddedStack stack;
        final Random random;
        final AtomicBoolean stop = new AtomicBoolean();
        final AtomicReference<Throwable> failure = new AtomicReference<>();
        final AtomicLong toastUpdates = new AtomicLong();
        final AtomicLong keyChanges = new AtomicLong();
        final AtomicLong deletes = new AtomicLong();
        final AtomicLong changes = new AtomicLong();
        final AtomicLong nextId = new AtomicLong(2_000_000);

        Churn(EmbeddedStack stack, long seed) {
            this.stack = stack;
            this.random = new Random(seed);
        }

        @Override
        public void run() {
            while (!stop.get()) {
                burst(10);
                try {
                    Thread.sleep(20);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        synchronized void burst(int n) {
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                for (int i = 0; i < n; i++) {
                    long id = 1 + random.nextInt(ROWS);
                    int kind = random.nextInt(10);
                    switch (kind) {
                        case 0, 1, 2 -> {
                            long toasted = 20L * (1 + random.nextInt(ROWS / 20));
                            if (s.executeUpdate("UPDATE public.items SET qty = qty + 1 WHERE id = " + toasted) > 0) {
                                toastUpdates.incrementAndGet();
                            }
                        }
                        case 3 -> s.executeUpdate("UPDATE public.items SET name = 'renamed ' || id WHERE id = " + id);
                        case 4 -> s.executeUpdate("UPDATE public.items SET hidden = NOT hidden WHERE id = " + id);
                        case 5 -> {
                            if (s.executeUpdate("DELETE FROM public.items WHERE id = " + id) > 0) {
                                deletes.incrementAndGet();
                            }
                        }
                        case 6, 7 -> s.executeUpdate("INSERT INTO public.items VALUES (" + nextId.incrementAndGet() + ", 'new', 'fresh', 1, "
                                + random.nextBoolean() + ")");
                        default -> {
                            // Not of a TOASTed row: Debezium sends such a key change as a delete and a create
                            // whose unchanged TOAST value is a placeholder nothing can fill under the new key,
                            // which the migration dead-letters (ToastFillProcessor; REPLICA IDENTITY FULL is the way out).
                            if (id % 20 == 0) {
                                id++;
                            }
                            if (s.executeUpdate("UPDATE public.items SET id = " + nextId.incrementAndGet() + " WHERE id = " + id) > 0) {
                                keyChanges.incrementAndGet();
                            }
                        }
                    }
                    changes.incrementAndGet();
                }
            } catch (SQLException e) {
                failure.compareAndSet(null, e);
            }
        }

        @Override
        public String toString() {
            return changes.get() + " changes (" + toastUpdates.get() + " of TOASTed rows, " + keyChanges.get() + " key changes, "
                    + deletes.get() + " deletes)";
        }
    }
}

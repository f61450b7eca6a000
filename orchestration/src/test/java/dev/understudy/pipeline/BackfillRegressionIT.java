package dev.understudy.pipeline;

import dev.understudy.stack.EmbeddedStack;
import dev.understudy.testkit.RegressionReader;
import dev.understudy.testkit.UsersWorkload;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.writer.ShadowWriterConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A new generation's backfill never shows a reader a row older than one it saw before, on a
 * single-table target, where nothing hides the re-read history: every legacy update raises a user's
 * name, a zero-padded counter, so a name lower than one a reader saw before is a row taken back in
 * time. The writer applies small batches, so that the history's intermediate states would reach the
 * target one by one if the writer let them.
 */
class BackfillRegressionIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    /** The users example's spec (full_name copies name), run under other migration names. */
    private static final Path EXAMPLE = Path.of("..", "examples", "users", "v1.2_add_birthdate_to_users.yaml").toAbsolutePath().normalize();
    private static final String EXPECTED = "SELECT id, name FROM public.users ORDER BY id";
    private static final String ACTUAL = "SELECT id, full_name FROM public.users ORDER BY id";
    private static final String RAISE = "UPDATE public.users SET name = lpad(nextval('name_counter')::text, 12, '0')";

    @Test
    void aSecondGenerationReReadingTheHistoryNeverShowsARowOlderThanBefore(@TempDir Path work) throws Exception {
        MigrationSpec v1 = spec(work, "v1.2_counted_names");
        MigrationSpec v2 = spec(work, "v1.2_counted_names_again");
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                UsersWorkload.createAndFill(c, 1_000);
                s.execute("CREATE SEQUENCE name_counter");
                s.execute(RAISE);
            }
            PipelineConfig config = TestPipelines.config(stack, work.resolve("streams"), ShadowWriterConfig.MAX_BATCH_RECORDS.name(), "100");
            try (Pipeline pipeline = new Pipeline(config, v1).start()) {
                // Fifteen more versions of every row in the legacy history: streamed, so after the snapshot
                // has read its rows (changes committed before its point would be folded into it).
                long snapshotDeadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
                while (pipeline.legacyCapture().metrics().snapshotRows() < 1_000 && System.nanoTime() < snapshotDeadline) {
                    Thread.sleep(100);
                }
                assertEquals(1_000, pipeline.legacyCapture().metrics().snapshotRows(), "the legacy snapshot did not read every row");
                try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                    for (int i = 0; i < 15; i++) {
                        s.execute(RAISE);
                    }
                }
                TestPipelines.assertSameRows(TestPipelines.awaitRows(stack, pipeline, EXPECTED, ACTUAL, Duration.ofSeconds(180), false));
            }
            try (RegressionReader reader = new RegressionReader(stack.target().jdbcUrl(), stack.target().user(), stack.target().password(),
                    "public.users", "id", "full_name::bigint").start(50);
                 Pipeline pipeline = new Pipeline(config, v2).start()) {
                assertEquals(2, pipeline.generation().number());
                assertEquals(Map.of("public.users", 0L), pipeline.lineages(), "the same key derivation: the same lineage");
                long deadline = System.nanoTime() + Duration.ofSeconds(300).toNanos();
                while (!pipeline.backfill().complete() && System.nanoTime() < deadline) {
                    assertNull(pipeline.failure(), "pipeline stage failed");
                    Thread.sleep(200);
                }
                assertTrue(pipeline.backfill().complete(), pipeline.backfill().describe());
                assertTrue(pipeline.backfill().total() >= 16_000, "the history to re-read: " + pipeline.backfill().describe());
                reader.close();
                System.out.printf("BackfillRegressionIT: %s; reader: %s%n", pipeline.backfill().describe(), reader.summary());
                assertTrue(reader.reads() > 5, reader.summary());
                assertEquals(0, reader.regressions(), "rows shown older than before: " + reader.summary());
                TestPipelines.assertSameRows(TestPipelines.awaitRows(stack, pipeline, EXPECTED, ACTUAL, Duration.ofSeconds(120), false));
            }
        }
    }

    private static MigrationSpec spec(Path work, String migration) throws Exception {
        Path file = work.resolve(migration + ".yaml");
        Files.writeString(file, Files.readString(EXAMPLE).replace("migration: v1.2_add_birthdate_to_users", "migration: " + migration));
        return MigrationSpec.load(file);
    }
}

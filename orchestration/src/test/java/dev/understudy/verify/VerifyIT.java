package dev.understudy.verify;

import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.testkit.UsersWorkload;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code understudy verify} on the embedded stack, through the users spec (legacy name becomes
 * full_name, birthdate null):
 * <ul>
 *   <li>1,000,000 rows copied to the target outside any pipeline, then 10 rows changed, 10 deleted
 *   and 10 added in the target: verify finds exactly those 30 keys, with their kinds;</li>
 *   <li>the running pipeline under a live workload: verify is clean (it waits for the target to catch
 *   up with its legacy snapshot and checks differences again), then finds exactly the rogue changes
 *   made in the target once the workload stopped.</li>
 * </ul>
 */
class VerifyIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final Path USERS_SPEC = Path.of("..", "examples", "users", "v1.2_add_birthdate_to_users.yaml");

    private static PipelineConfig config(EmbeddedStack stack, Path state) {
        Map<String, String> settings = new HashMap<>(stack.connectionSettings());
        settings.put(TransformConfig.STATE_DIR.name(), state.toString());
        settings.put(TransformConfig.SETTLE_MS.name(), "3000");
        return PipelineConfig.parse(settings, "test");
    }

    @Test
    void aMillionRowsWithThirtyInjectedDifferencesFindsExactlyThose(@TempDir Path work) throws Exception {
        MigrationSpec spec = MigrationSpec.load(USERS_SPEC);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection l = stack.legacy().connect()) {
                UsersWorkload.createAndFill(l, 1_000_000);
            }
            Flyway.configure().dataSource(stack.target().jdbcUrl(), stack.target().user(), stack.target().password())
                    .locations("classpath:flyway/users").load().migrate();
            try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
                UsersWorkload.copyToTarget(l, t);
            }
            Map<String, String> injected = new TreeMap<>();
            try (Connection t = stack.target().connect(); Statement s = t.createStatement()) {
                for (long id = 100_000; id < 100_010; id++) {
                    s.execute("UPDATE public.users SET full_name = full_name || ' (changed)' WHERE id = " + id);
                    injected.put("{\"id\":" + id + "}", "mismatched");
                }
                for (long id = 500_000; id < 500_010; id++) {
                    s.execute("DELETE FROM public.users WHERE id = " + id);
                    injected.put("{\"id\":" + id + "}", "missing");
                }
                for (long id = 2_000_000; id < 2_000_010; id++) {
                    s.execute("INSERT INTO public.users (id, full_name, email) VALUES (" + id + ", 'Only here', 'x@example.com')");
                    injected.put("{\"id\":" + id + "}", "extra");
                }
                // The email of one row differs by a time-zone-free detail, and one timestamp by a microsecond.
                s.execute("UPDATE public.users SET created_at = created_at + interval '1 microsecond' WHERE id = 700000");
                injected.put("{\"id\":700000}", "mismatched");
            }

            // Interrupted after 40 of the 101 chunks (the chunk limit stands in for a stopped process), then resumed.
            Verifier.Report partial = new Verifier(config(stack, work.resolve("state")), spec.migration(), spec.mappings(),
                    new Verifier.Options(10_000, 5, false, Duration.ofMinutes(1), false, 40), System.out).run();
            assertTrue(!partial.complete() && partial.tables().isEmpty(), "stopped at the chunk limit");
            Verifier.Report report = new Verifier(config(stack, work.resolve("state")), spec.migration(), spec.mappings(),
                    new Verifier.Options(10_000, 5, false, Duration.ofMinutes(1), true), System.out).run();
            assertEquals(partial.runId(), report.runId(), "the same run, resumed");
            assertTrue(report.complete());
            TableReport r = report.tables().get(0);
            System.out.println("VerifyIT: " + r.summary() + String.format(" in %.1f s, %,.0f rows/s", r.millis() / 1000.0, r.rowsPerSecond()));
            assertEquals(1_000_000, r.processed());
            assertEquals(11, r.mismatched(), r.summary());
            assertEquals(10, r.missing(), r.summary());
            assertEquals(10, r.extra(), r.summary());
            assertEquals(1_000_000 - 21, r.matching());
            assertEquals(injected, differences(stack, report.runId()), "every difference, by key and kind");
            assertTrue(r.chunksDiffering() <= 6, "only chunks with differences are read row by row: " + r.chunksDiffering());
            assertEquals(101, r.chunks(), "40 chunks before the interruption and the 61 after it, none twice");
        }
    }

    @Test
    void aRunningPipelineVerifiesCleanUnderChurnAndThenFindsRogueChangesExactly(@TempDir Path work) throws Exception {
        MigrationSpec spec = MigrationSpec.load(USERS_SPEC);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection l = stack.legacy().connect()) {
                UsersWorkload.createAndFill(l, 20_000);
            }
            PipelineConfig config = config(stack, work.resolve("state"));
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                Map<String, String> s = stack.connectionSettings();
                try (UsersWorkload workload = new UsersWorkload(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"), 200)
                        .start(1)) {
                    Thread.sleep(3_000);
                    Verifier.Report underChurn = new Verifier(config, spec.migration(), spec.mappings(),
                            new Verifier.Options(2_000, 5, true, Duration.ofMinutes(2), false), System.out).run();
                    TableReport r = underChurn.tables().get(0);
                    System.out.println("VerifyIT under churn: " + r.summary());
                    assertTrue(r.clean(), r.summary());
                    assertTrue(r.processed() > 19_000, r.summary());
                }
                Map<String, String> injected = new TreeMap<>();
                try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
                    st.execute("UPDATE public.users SET email = 'rogue@example.com' WHERE id IN (101, 102, 103)");
                    st.execute("DELETE FROM public.users WHERE id IN (201, 202)");
                    st.execute("INSERT INTO public.users (id, full_name, email) VALUES (900001, 'Rogue', 'r@example.com')");
                }
                for (long id : new long[]{101, 102, 103}) {
                    injected.put("{\"id\":" + id + "}", "mismatched");
                }
                injected.put("{\"id\":201}", "missing");
                injected.put("{\"id\":202}", "missing");
                injected.put("{\"id\":900001}", "extra");
                // Keys the workload deleted are absent on both sides: drop those from what is expected.
                try (Connection l = stack.legacy().connect(); Statement st = l.createStatement();
                     ResultSet rs = st.executeQuery("SELECT id FROM public.users WHERE id IN (101, 102, 103, 201, 202)")) {
                    java.util.Set<String> present = new java.util.HashSet<>();
                    while (rs.next()) {
                        present.add("{\"id\":" + rs.getLong(1) + "}");
                    }
                    injected.keySet().removeIf(k -> !k.equals("{\"id\":900001}") && !present.contains(k));
                }
                Verifier.Report rogue = new Verifier(config, spec.migration(), spec.mappings(),
                        new Verifier.Options(2_000, 5, true, Duration.ofMinutes(2), false), System.out).run();
                System.out.println("VerifyIT rogue: " + rogue.tables().get(0).summary());
                assertEquals(injected, differences(stack, rogue.runId()));

                // repair: those keys only, through the pipeline (an incremental snapshot with conditions, tombstones).
                long reReadBefore = pipeline.legacyCapture().metrics().incrementalSnapshotRows();
                List<Repairer.Outcome> outcomes = new Repairer(config, spec.mappings()).repair(Repairer.fromVerify(config, rogue.runId()));
                assertEquals(1, outcomes.size());
                long toRecapture = injected.values().stream().filter(k -> !k.equals("extra")).count();
                assertEquals(toRecapture, outcomes.get(0).recaptured());
                assertEquals(1, outcomes.get(0).deleted());
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                TableReport after = null;
                while (System.nanoTime() < deadline) {
                    after = new Verifier(config, spec.migration(), spec.mappings(),
                            new Verifier.Options(2_000, 5, true, Duration.ofMinutes(2), false), System.out).run().tables().get(0);
                    if (after.clean()) {
                        break;
                    }
                    Thread.sleep(1_000);
                }
                System.out.println("VerifyIT after repair: " + after.summary());
                assertTrue(after.clean(), after.summary());
                long reRead = pipeline.legacyCapture().metrics().incrementalSnapshotRows() - reReadBefore;
                assertEquals(toRecapture, reRead, "only the repaired keys were re-read, not the table");

                // repair by table: every row re-read, after a rogue update, and verify is clean again.
                try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
                    st.execute("UPDATE public.users SET full_name = 'Rogue again' WHERE id IN (301, 302)");
                }
                long before = pipeline.legacyCapture().metrics().incrementalSnapshotRows();
                Repairer.Outcome whole = new Repairer(config, spec.mappings()).repair(Map.of("public.users", Repairer.Keys.everyRow())).get(0);
                deadline = System.nanoTime() + Duration.ofSeconds(90).toNanos();
                while (pipeline.legacyCapture().metrics().incrementalSnapshotRows() - before < whole.recaptured() && System.nanoTime() < deadline) {
                    Thread.sleep(250);
                }
                assertEquals(whole.recaptured(), pipeline.legacyCapture().metrics().incrementalSnapshotRows() - before, "every row re-read once");
                while (System.nanoTime() < deadline) {
                    after = new Verifier(config, spec.migration(), spec.mappings(),
                            new Verifier.Options(2_000, 5, true, Duration.ofMinutes(2), false), System.out).run().tables().get(0);
                    if (after.clean()) {
                        break;
                    }
                    Thread.sleep(1_000);
                }
                System.out.println("VerifyIT after repairing the whole table: " + after.summary());
                assertTrue(after.clean(), after.summary());
            }
        }
    }

    /** Key JSON → kind of every difference stored for the run. */
    private static Map<String, String> differences(EmbeddedStack stack, String runId) throws Exception {
        Map<String, String> out = new TreeMap<>();
        try (Connection t = stack.target().connect();
             PreparedStatement ps = t.prepareStatement("SELECT key_json, kind FROM " + VerifyRuns.DIFFERENCES + " WHERE run_id = ?")) {
            ps.setString(1, runId);
            try (ResultSet rs = ps.executeQuery()) {
                while (rs.next()) {
                    out.put(rs.getString(1), rs.getString(2));
                }
            }
        }
        return out;
    }
}

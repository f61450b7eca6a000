package dev.understudy.pipeline;

import dev.understudy.testkit.UsersWorkload;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TableMapping;
import dev.understudy.transform.spec.MigrationSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A spec that is not a shipped example runs end to end: an expression column and a row filter, under
 * changes that move rows in and out of the filter; the target must equal the same projection
 * computed by SQL on the legacy database.
 */
class SpecPipelineIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final String SPEC = """
            migration: v1.2_upper_names
            flyway: "1.2"
            sources:
              users: { table: public.users }
            targets:
              users:
                table: public.users
                from: users
                contract: users.avsc
                key: [id]
                filter: "!email.startsWith('hidden')"
                columns:
                  id: { column: id }
                  full_name: { expression: "name == null ? name : name.upperAscii() + ' <' + email + '>'" }
                  email: { column: email }
                  birthdate: { default: null }
                  created_at: { column: created_at }
            """;
    /** The same projection, independently, in SQL. */
    private static final String EXPECTED = """
            SELECT id, upper(name) || ' <' || email || '>', email, NULL::date, (extract(epoch FROM created_at) * 1000000)::bigint
            FROM public.users WHERE email NOT LIKE 'hidden%' ORDER BY id""";
    private static final String ACTUAL = """
            SELECT id, full_name, email, birthdate, (extract(epoch FROM created_at) * 1000000)::bigint
            FROM public.users ORDER BY id""";

    @Test
    void aCustomSpecWithAnExpressionAndAFilterMigratesUnderChanges(@TempDir Path work) throws Exception {
        Path spec = work.resolve("upper.yaml");
        Files.writeString(spec, SPEC);
        MigrationSpec loaded = MigrationSpec.load(spec);
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                UsersWorkload.createAndFill(c, 2_000);
                s.execute("UPDATE public.users SET email = 'hidden' || id || '@example.com' WHERE id % 10 = 0");
            }
            try (Pipeline pipeline = new Pipeline(TestPipelines.config(stack, work.resolve("streams")), loaded).start()) {
                try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                    // rows leaving the filter, rows entering it, renames, inserts of both kinds, deletes
                    s.execute("UPDATE public.users SET email = 'hidden-now@example.com' WHERE id BETWEEN 1 AND 5");
                    s.execute("UPDATE public.users SET email = 'visible' || id || '@example.com' WHERE id IN (10, 20, 30)");
                    s.execute("UPDATE public.users SET name = 'Renamed ' || id WHERE id BETWEEN 100 AND 150");
                    s.execute("INSERT INTO public.users (name, email) VALUES ('New visible', 'new@example.com'), ('New hidden', 'hidden-new@example.com')");
                    s.execute("DELETE FROM public.users WHERE id BETWEEN 200 AND 210");
                }
                TestPipelines.Sides sides = TestPipelines.awaitRows(stack, pipeline, EXPECTED, ACTUAL, Duration.ofSeconds(90), false);
                List<String> expected = sides.expected();
                List<String> actual = sides.actual();
                assertTrue(expected.size() > 1_700, "expected rows: " + expected.size());
                assertEquals(expected, actual);
                assertEquals(0, pipeline.writer().metrics().deadLettered());
            }
        }
    }
}

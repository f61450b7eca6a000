package dev.understudy.cli;

import dev.understudy.stack.EmbeddedStack;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.Writer;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@code plan --config}: the spec's legacy tables checked on the live legacy database before anything
 * runs, as {@code run} checks them; every refused column named with its table, type and fix.
 */
class PlanCommandIT {
    private static final String CONTRACT = """
            {"type": "record", "name": "Shifts", "namespace": "test", "fields": [
              {"name": "id", "type": "long"},
              {"name": "label", "type": ["null", "string"], "default": null}
            ]}
            """;

    @Test
    void refusedColumnsAreNamedBeforeAnythingRunsAndACleanTableIsReportedChecked(@TempDir Path work) throws Exception {
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), "America/Sao_Paulo")) {
            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                s.execute("CREATE SCHEMA \"Ops\"");
                s.execute("CREATE TABLE \"Ops\".\"Shifts\" (id bigint PRIMARY KEY, label text, starts_at time with time zone, "
                        + "\"Span\" interval)");
                s.execute("CREATE TABLE public.plain (id bigint PRIMARY KEY, label text, span interval "
                        + "CHECK (isfinite(span) AND abs(extract(hour FROM span)) < 2147483648))");
            }
            Path config = work.resolve("pipeline.properties");
            Properties p = new Properties();
            p.putAll(stack.connectionSettings());
            try (Writer w = Files.newBufferedWriter(config)) {
                p.store(w, null);
            }
            Files.writeString(work.resolve("shifts.avsc"), CONTRACT);

            CliRun.Result refused = CliRun.run("plan", "--spec", spec(work, "Ops.Shifts").toString(), "--config", config.toString());
            assertEquals(1, refused.exit(), refused.out());
            assertTrue(refused.out().contains("legacy column Ops.Shifts.starts_at has type time with time zone")
                    && refused.out().contains("Fix: store it as time plus an offset column"), refused.out());
            assertTrue(refused.out().contains("legacy column Ops.Shifts.Span has type interval")
                    && refused.out().contains("ADD CHECK (isfinite(\"Span\")"), refused.out());

            CliRun.Result clean = CliRun.run("plan", "--spec", spec(work, "public.plain").toString(), "--config", config.toString());
            assertEquals(0, clean.exit(), clean.out());
            assertTrue(clean.out().contains("Legacy tables [public.plain]") && clean.out().contains("every one exists"), clean.out());
        }
    }

    private static Path spec(Path dir, String table) throws Exception {
        Path file = dir.resolve(table.replace('.', '_') + ".yaml");
        Files.writeString(file, """
                migration: v1_shifts
                flyway: "1"
                sources:
                  shifts: { table: %s }
                targets:
                  shifts:
                    table: public.shifts
                    from: shifts
                    contract: shifts.avsc
                    key: [id]
                    columns:
                      id: { column: id }
                      label: { column: label }
                """.formatted(table));
        return file;
    }
}

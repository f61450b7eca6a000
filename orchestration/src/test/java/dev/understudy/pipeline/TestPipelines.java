package dev.understudy.pipeline;

import dev.understudy.testkit.UsersChecksum;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.fail;

/** What the pipeline integration tests share: a config for the embedded stack, and waiting for convergence. */
final class TestPipelines {
    private TestPipelines() {
    }

    /** The stack's connection settings, a state directory, and {@code overrides} as key, value, key, value... */
    static PipelineConfig config(EmbeddedStack stack, Path stateDir, String... overrides) {
        Map<String, String> settings = new HashMap<>(stack.connectionSettings());
        settings.put(TransformConfig.STATE_DIR.name(), stateDir.toString());
        for (int i = 0; i + 1 < overrides.length; i += 2) {
            settings.put(overrides[i], overrides[i + 1]);
        }
        return PipelineConfig.parse(settings, "test");
    }

    /** Every row of {@code query}, its columns joined with '|'. */
    static List<String> rows(Connection c, String query) throws SQLException {
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

    /**
     * Asserts both sides hold the same rows; on failure the message lists a few rows missing from
     * each side (by first column, the key) rather than both whole tables.
     */
    static void assertSameRows(Sides sides) {
        if (sides.expected().equals(sides.actual())) {
            return;
        }
        java.util.Set<String> actual = new java.util.HashSet<>(sides.actual());
        java.util.Set<String> expected = new java.util.HashSet<>(sides.expected());
        List<String> missing = sides.expected().stream().filter(r -> !actual.contains(r)).limit(8).toList();
        List<String> extra = sides.actual().stream().filter(r -> !expected.contains(r)).limit(8).toList();
        fail("target differs from the legacy computation: " + sides.expected().size() + " expected rows, " + sides.actual().size()
                + " actual; expected but not in the target (first 8): " + missing + "; in the target but not expected (first 8): " + extra);
    }

    /** The last rows read on each side: {@code expected} from the legacy database, {@code actual} from the target. */
    record Sides(List<String> expected, List<String> actual) {
    }

    /**
     * Polls until {@code expectedSql} on the legacy database and {@code actualSql} on the target
     * return the same rows (and, with {@code driftZero}, the comparison reports nothing open or
     * pending), or the timeout passes; returns the last rows read for the caller's assertions.
     */
    static Sides awaitRows(EmbeddedStack stack, Pipeline pipeline, String expectedSql, String actualSql, Duration timeout,
                           boolean driftZero) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Sides last = new Sides(List.of(), List.of());
        while (System.nanoTime() < deadline) {
            assertNull(pipeline.failure(), "pipeline stage failed");
            try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
                last = new Sides(rows(l, expectedSql), rows(t, actualSql));
            }
            if (last.expected().equals(last.actual()) && (!driftZero || driftIsZero(pipeline))) {
                return last;
            }
            Thread.sleep(250);
        }
        return last;
    }

    /** Drift reported by every comparison task, and zero. */
    static boolean driftIsZero(Pipeline pipeline) {
        return pipeline.drift().oldestReportMs() > 0 && pipeline.drift().totalOpen() == 0 && pipeline.drift().totalPending() == 0;
    }

    /**
     * Waits until the target users table equals the expected result computed by SQL on the legacy
     * database (count and checksum) with zero drift; fails with the first differing rows otherwise.
     */
    static void awaitUsersConverged(EmbeddedStack stack, Pipeline pipeline, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        UsersChecksum.Summary expected = null;
        UsersChecksum.Summary actual = null;
        while (System.nanoTime() < deadline) {
            assertNull(pipeline.failure(), "pipeline stage failed");
            try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
                expected = UsersChecksum.expected(l);
                actual = UsersChecksum.actual(t);
            }
            if (expected.equals(actual) && driftIsZero(pipeline)) {
                return;
            }
            Thread.sleep(250);
        }
        Set<String> diff = new TreeSet<>();
        try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
            Set<String> e = new TreeSet<>(UsersChecksum.expectedRows(l));
            Set<String> a = new TreeSet<>(UsersChecksum.actualRows(t));
            for (String row : e) {
                if (!a.contains(row)) {
                    diff.add("missing/different in target: " + row);
                }
            }
            for (String row : a) {
                if (!e.contains(row)) {
                    diff.add("unexpected/different in target: " + row);
                }
            }
        } catch (SQLException ignored) {
            // report what we have
        }
        fail("no convergence within " + timeout + ": expected " + expected + ", actual " + actual + ", drift open "
                + pipeline.drift().totalOpen() + ", pending " + pipeline.drift().totalPending() + "; first differences: "
                + diff.stream().limit(10).toList());
    }
}

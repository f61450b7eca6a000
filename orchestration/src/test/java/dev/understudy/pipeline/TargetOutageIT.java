package dev.understudy.pipeline;

import dev.understudy.testkit.UsersWorkload;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.TransformConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.time.Duration;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The target PostgreSQL goes down for 30 s while the legacy database keeps changing, then comes
 * back: the writer retries with backoff instead of failing or dropping anything, catches up, the
 * dead-letter topic stays empty and drift returns to zero.
 */
class TargetOutageIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    @Test
    void theWriterSurvivesATargetOutageUnderChurnAndCatchesUp(@TempDir Path work) throws Exception {
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect()) {
                UsersWorkload.createAndFill(c, 5_000);
            }
            Map<String, String> s = stack.connectionSettings();
            try (Pipeline pipeline = new Pipeline(TestPipelines.config(stack, work.resolve("streams"), TransformConfig.SETTLE_MS.name(), "3000"),
                    Migrations.defaultMappings()).start()) {
                TestPipelines.awaitUsersConverged(stack, pipeline, Duration.ofSeconds(120));
                long retriesBefore = pipeline.writer().metrics().retries();
                try (UsersWorkload workload = new UsersWorkload(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"), 300)
                        .start(1)) {
                    Thread.sleep(2_000);
                    stack.target().beginOutage();
                    try {
                        Thread.sleep(30_000);
                        assertNull(pipeline.writer().failure().orElse(null), "the writer gave up during the outage");
                    } finally {
                        stack.target().endOutage();
                    }
                    Thread.sleep(3_000);
                }
                assertTrue(pipeline.writer().metrics().retries() > retriesBefore, "no retries recorded: " + pipeline.writer().metrics());
                TestPipelines.awaitUsersConverged(stack, pipeline, Duration.ofSeconds(180));
                assertEquals(0, pipeline.writer().metrics().deadLettered(), "dead letters");
                assertEquals(0, pipeline.drift().totalOpen(), "drift");
            }
        }
    }
}

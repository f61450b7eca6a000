package dev.understudy.pipeline;

import dev.understudy.testkit.UsersWorkload;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.TransformConfig;
import org.flywaydb.core.Flyway;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.time.Duration;
import java.util.concurrent.ThreadLocalRandom;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Dual-write mode ({@code comparison.mode=dual-write}): no shadow writer runs; the application (here
 * the test) writes both databases. The comparison uses the settle window: paired writes never open
 * drift, and writes that reached only the target are reported once they outlive the window.
 */
class DualWriteIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    @Test
    void pairedWritesKeepDriftAtZeroAndTargetOnlyWritesAreReported(@TempDir Path work) throws Exception {
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
                UsersWorkload.createAndFill(l, 500);
                Flyway.configure().dataSource(stack.target().jdbcUrl(), stack.target().user(), stack.target().password())
                        .locations("classpath:flyway/users").load().migrate();
                UsersWorkload.copyToTarget(l, t);
            }
            PipelineConfig config = TestPipelines.config(stack, work.resolve("streams"), TransformConfig.COMPARISON_MODE.name(), "dual-write",
                    TransformConfig.SETTLE_MS.name(), "3000");
            try (Pipeline pipeline = new Pipeline(config, Migrations.defaultMappings()).start()) {
                assertNull(pipeline.writer(), "no shadow writer in dual-write mode");
                awaitDrift(pipeline, 0, Duration.ofSeconds(90));

                // The application: each change written to the legacy database, then to the target.
                long maxOpen = 0;
                try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect();
                     PreparedStatement legacy = l.prepareStatement("UPDATE public.users SET name = ? WHERE id = ?");
                     PreparedStatement target = t.prepareStatement("UPDATE public.users SET full_name = ? WHERE id = ?")) {
                    long until = System.nanoTime() + Duration.ofSeconds(10).toNanos();
                    int n = 0;
                    while (System.nanoTime() < until) {
                        long id = 1 + ThreadLocalRandom.current().nextLong(500);
                        String name = "Paired " + n++;
                        legacy.setString(1, name);
                        legacy.setLong(2, id);
                        legacy.executeUpdate();
                        target.setString(1, name);
                        target.setLong(2, id);
                        target.executeUpdate();
                        maxOpen = Math.max(maxOpen, pipeline.drift().totalOpen());
                        Thread.sleep(50);
                    }
                }
                awaitDrift(pipeline, 0, Duration.ofSeconds(60));
                assertEquals(0, maxOpen, "paired writes opened drift");

                // Writes that reached only the target.
                try (Connection t = stack.target().connect(); var st = t.createStatement()) {
                    st.execute("UPDATE public.users SET full_name = 'Target only' WHERE id IN (7, 8, 9)");
                }
                awaitDrift(pipeline, 3, Duration.ofSeconds(60));
                Thread.sleep(4_000);
                assertEquals(3, pipeline.drift().totalOpen(), "exactly the target-only writes");

                // The per-table series: the pipeline publishes the table's total as partition -1 every 5 s.
                Thread.sleep(6_000);
                assertEquals(3L, latestTableTotal(stack, pipeline, "public.users"), "the per-table drift total");
            }
        }
    }

    /** Open count of the newest per-table total ({@link DriftMonitor#TABLE_TOTAL}) for {@code table} on the drift topic. */
    private static long latestTableTotal(EmbeddedStack stack, Pipeline pipeline, String table) {
        long open = -1;
        long at = -1;
        try (var consumer = new org.apache.kafka.clients.consumer.KafkaConsumer<String, org.apache.avro.generic.GenericRecord>(java.util.Map.of(
                org.apache.kafka.clients.consumer.ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()),
                new org.apache.kafka.common.serialization.StringDeserializer(), dev.understudy.schemas.AvroSerde.values(pipeline.registry()).deserializer())) {
            String topic = dev.understudy.schemas.Topics.drift(pipeline.prefix());
            var partitions = consumer.partitionsFor(topic).stream().map(p -> new org.apache.kafka.common.TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            var ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp)) && System.nanoTime() < deadline) {
                for (var r : consumer.poll(Duration.ofMillis(200))) {
                    var v = r.value();
                    if ((Integer) v.get("partition") == DriftMonitor.TABLE_TOTAL && table.equals(v.get("table").toString()) && (Long) v.get("atMs") > at) {
                        at = (Long) v.get("atMs");
                        open = (Long) v.get("open");
                    }
                }
            }
        }
        return open;
    }

    private static void awaitDrift(Pipeline pipeline, long open, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (System.nanoTime() < deadline) {
            assertNull(pipeline.failure(), "pipeline stage failed");
            if (pipeline.drift().oldestReportMs() > 0 && pipeline.drift().totalOpen() == open && (open > 0 || pipeline.drift().totalPending() == 0)) {
                return;
            }
            Thread.sleep(250);
        }
        assertTrue(false, "drift did not reach " + open + " open: " + pipeline.drift().byTable());
    }
}

package dev.understudy.pipeline;

import dev.understudy.testkit.UsersWorkload;
import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.PausePoints;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.TransformConfig;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Drift that knows what is in flight, on the users pipeline (LSN alignment, the default mode):
 * <ol>
 *   <li>under a steady workload with the writer slowed far below it, so that thousands of changes
 *   wait, drift never opens: every disagreeing key is pending, because the writer's stored positions
 *   say it has not applied them;</li>
 *   <li>with the capture of the target held back for three settle windows while the writer applies
 *   a workload at full speed, drift never opens either: the writer's positions reach the comparison
 *   through that same capture, after the rows they cover;</li>
 *   <li>rogue changes made directly in the target (updates, deletes, inserts) are reported exactly:
 *   the open divergences are those keys, with the right kinds, and nothing else.</li>
 * </ol>
 */
class LsnAlignedDriftIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final String TABLE = "public.users";

    @Test
    void aSlowWriterLeavesKeysPendingAndRogueTargetChangesAreReportedExactly(@TempDir Path work) throws Exception {
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect()) {
                UsersWorkload.createAndFill(c, 5_000);
            }
            Map<String, String> s = stack.connectionSettings();
            try (Pipeline pipeline = new Pipeline(TestPipelines.config(stack, work.resolve("streams"), TransformConfig.SETTLE_MS.name(), "3000"),
                    Migrations.defaultMappings()).start()) {
                TestPipelines.awaitUsersConverged(stack, pipeline, Duration.ofSeconds(120));

                // 1. The writer at 40 records/s against about 250 changes/s for 20 s.
                pipeline.writer().setMaxRecordsPerSecond(40);
                long maxOpen = 0;
                long maxPending = 0;
                long maxLag = 0;
                try (UsersWorkload workload = new UsersWorkload(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"), 250)
                        .start(1)) {
                    long until = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                    while (System.nanoTime() < until) {
                        assertNull(pipeline.failure(), "pipeline stage failed");
                        maxOpen = Math.max(maxOpen, pipeline.drift().totalOpen());
                        maxPending = Math.max(maxPending, pipeline.drift().totalPending());
                        maxLag = Math.max(maxLag, pipeline.writer().metrics().lag());
                        Thread.sleep(200);
                    }
                    assertNull(workload.failure());
                }
                // The writer is still far behind after the workload; drift keeps saying pending.
                for (int i = 0; i < 25; i++) {
                    maxOpen = Math.max(maxOpen, pipeline.drift().totalOpen());
                    Thread.sleep(200);
                }
                System.out.printf("LsnAlignedDriftIT: slowed writer: max writer lag %,d records, max pending %,d keys, max open %,d%n",
                        maxLag, maxPending, maxOpen);
                assertTrue(maxLag > 1_000, "the writer was not behind enough to test anything: max lag " + maxLag);
                assertTrue(maxPending > 100, "max pending " + maxPending);
                assertEquals(0, maxOpen, "drift opened while the writer was merely behind");

                pipeline.writer().setMaxRecordsPerSecond(0);
                TestPipelines.awaitUsersConverged(stack, pipeline, Duration.ofSeconds(180));
                assertEquals(0, pipeline.drift().totalOpen());

                // 2. The target capture held back while the writer applies at full speed: the writer's
                // changes do not reach the comparison for three settle windows. Drift must wait for the
                // capture, not report what it has not been shown yet.
                CountDownLatch release = new CountDownLatch(1);
                AtomicBoolean holding = new AtomicBoolean(true);
                long heldOpen = 0;
                long heldPending = 0;
                try (AutoCloseable hold = PausePoints.install(point -> {
                    if (holding.get() && point.equals(PausePoints.captureBatchAcknowledged("target"))) {
                        try {
                            release.await();
                        } catch (InterruptedException e) {
                            Thread.currentThread().interrupt();
                        }
                    }
                })) {
                    try (UsersWorkload workload = new UsersWorkload(s.get("legacy.jdbc.url"), s.get("legacy.user"), s.get("legacy.password"), 250)
                            .start(1)) {
                        long until = System.nanoTime() + Duration.ofSeconds(5).toNanos();
                        while (System.nanoTime() < until) {
                            heldOpen = Math.max(heldOpen, pipeline.drift().totalOpen());
                            heldPending = Math.max(heldPending, pipeline.drift().totalPending());
                            Thread.sleep(200);
                        }
                        assertNull(workload.failure());
                    }
                    long until = System.nanoTime() + Duration.ofSeconds(9).toNanos();
                    while (System.nanoTime() < until) {
                        assertNull(pipeline.failure(), "pipeline stage failed");
                        heldOpen = Math.max(heldOpen, pipeline.drift().totalOpen());
                        heldPending = Math.max(heldPending, pipeline.drift().totalPending());
                        Thread.sleep(200);
                    }
                    holding.set(false);
                    release.countDown();
                }
                System.out.printf("LsnAlignedDriftIT: target capture held for 14 s: max pending %,d keys, max open %,d%n", heldPending, heldOpen);
                assertTrue(heldPending > 100, "max pending " + heldPending);
                assertEquals(0, heldOpen, "drift opened while the target capture merely lagged");
                TestPipelines.awaitUsersConverged(stack, pipeline, Duration.ofSeconds(180));
                assertEquals(0, pipeline.drift().totalOpen());

                // 3. Rogue changes in the target: 5 updates, 3 deletes, 2 inserts.
                Map<String, String> injected = new TreeMap<>();
                try (Connection t = stack.target().connect(); Statement st = t.createStatement()) {
                    List<Long> ids = new java.util.ArrayList<>();
                    try (ResultSet rs = st.executeQuery("SELECT id FROM public.users ORDER BY id LIMIT 8 OFFSET 100")) {
                        while (rs.next()) {
                            ids.add(rs.getLong(1));
                        }
                    }
                    for (int i = 0; i < 5; i++) {
                        st.execute("UPDATE public.users SET full_name = 'Rogue " + i + "' WHERE id = " + ids.get(i));
                        injected.put("{\"id\":" + ids.get(i) + "}", "MISMATCH");
                    }
                    for (int i = 5; i < 8; i++) {
                        st.execute("DELETE FROM public.users WHERE id = " + ids.get(i));
                        injected.put("{\"id\":" + ids.get(i) + "}", "MISSING");
                    }
                    for (long id : new long[]{900_001, 900_002}) {
                        st.execute("INSERT INTO public.users (id, full_name, email) VALUES (" + id + ", 'Rogue insert', 'r@example.com')");
                        injected.put("{\"id\":" + id + "}", "UNEXPECTED");
                    }
                }
                long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
                while (pipeline.drift().totalOpen() < injected.size() && System.nanoTime() < deadline) {
                    Thread.sleep(250);
                }
                // Two more settle windows: a false positive would have time to show.
                Thread.sleep(6_000);
                assertEquals(injected.size(), pipeline.drift().totalOpen(), "open divergences: exactly the rogue changes");
                assertEquals(injected, openDivergences(stack, pipeline), "open divergences by key and kind");
            }
        }
    }

    /** Key → kind of every key whose latest divergence event is not RESOLVED, read from the divergence topic. */
    private static Map<String, String> openDivergences(EmbeddedStack stack, Pipeline pipeline) {
        Map<String, String> latest = new HashMap<>();
        try (KafkaConsumer<String, GenericRecord> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new StringDeserializer(), AvroSerde.values(pipeline.registry()).deserializer())) {
            String topic = Topics.divergence(pipeline.prefix());
            List<TopicPartition> partitions = consumer.partitionsFor(topic).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, GenericRecord> r : consumer.poll(Duration.ofMillis(200))) {
                    GenericRecord e = r.value();
                    if (TABLE.equals(e.get("table").toString())) {
                        latest.put(e.get("key").toString(), e.get("kind").toString());
                    }
                }
            }
        }
        latest.values().removeIf("RESOLVED"::equals);
        return new TreeMap<>(latest);
    }
}

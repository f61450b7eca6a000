package dev.understudy.pipeline;

import dev.understudy.stack.EmbeddedKafka;
import dev.understudy.stack.EmbeddedPostgresServer;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A generation's backfill is complete only when the rows its migration still holds in its own
 * topics have reached the target. A foreign-key join's rows pass through a repartition topic and the
 * join's subscription and response topics (KIP-213); a partition of those that no task has consumed
 * from yet has no committed offset in the application's group. Such a queue once went unseen: the
 * backfill was reported complete while the join's re-read rows were still on their way, and readers
 * of the target then saw older states of rows (the generative test, seed -6310965319548395140).
 */
class BackfillProgressIT {
    private static final String PIPELINE = "bp";
    private static final String MIGRATION_GROUP = PIPELINE + "-migration-g1";
    private static final String WRITER_GROUP = PIPELINE + "-shadow-writer";
    private static final String LEGACY = PIPELINE + ".legacy.public.orders";
    private static final String RESPONSE = MIGRATION_GROUP + "-orders-fk-join-subscription-response-topic";
    private static final String CHANGELOG = MIGRATION_GROUP + "-orders-store-changelog";
    private static final String NEW = PIPELINE + ".new.public.order_view";

    @Test
    void rowsQueuedInAJoinsTopicNobodyHasConsumedKeepTheBackfillOpen(@TempDir Path work) throws Exception {
        try (EmbeddedKafka kafka = EmbeddedKafka.start(work.resolve("kafka"));
             EmbeddedPostgresServer target = EmbeddedPostgresServer.start("target", work.resolve("target"), "Asia/Kolkata");
             Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(LEGACY, 1, (short) 1), new NewTopic(RESPONSE, 1, (short) 1),
                    new NewTopic(CHANGELOG, 1, (short) 1), new NewTopic(NEW, 1, (short) 1))).all().get();
            produce(kafka, LEGACY, 5);
            produce(kafka, RESPONSE, 3);
            produce(kafka, CHANGELOG, 2); // a store's changelog carries no rows towards the target
            produce(kafka, NEW, 2);
            // The migration has re-read the legacy history; no task has consumed the response topic yet.
            commit(admin, MIGRATION_GROUP, LEGACY, 5);
            commit(admin, WRITER_GROUP, NEW, 2);

            MigrationGenerations generations = new MigrationGenerations(target.jdbcUrl(), target.user(), target.password());
            MigrationGenerations.Generation generation = generations.resolve(PIPELINE, "orders_v1", "fingerprint", "1");
            try (BackfillProgress progress = BackfillProgress.start(kafka.bootstrapServers(), generation, MIGRATION_GROUP, List.of(LEGACY),
                    WRITER_GROUP, List.of(NEW), generations, () -> null, () -> 0)) {
                Thread.sleep(3_000); // six polls
                assertFalse(progress.complete(), "three join rows are still queued: " + progress.describe());
                assertEquals(BackfillProgress.Phase.REREADING, progress.phase(), progress.describe());
                assertTrue(progress.describe().contains("3 records queued"), progress.describe());

                // The join consumes its response topic and emits the rows; the writer applies them.
                produce(kafka, NEW, 3);
                commit(admin, MIGRATION_GROUP, RESPONSE, 3);
                awaitPhase(progress, BackfillProgress.Phase.APPLYING);
                assertFalse(progress.complete(), "the writer has not applied the join's rows: " + progress.describe());
                commit(admin, WRITER_GROUP, NEW, 5);
                long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
                while (!progress.complete() && System.nanoTime() < deadline) {
                    Thread.sleep(100);
                }
                assertTrue(progress.complete(), progress.describe());
                assertTrue(generations.resolve(PIPELINE, "orders_v1", "fingerprint", "1").backfillComplete(),
                        "the completion is recorded for the generation");
            }
        }
    }

    private static void awaitPhase(BackfillProgress progress, BackfillProgress.Phase phase) throws InterruptedException {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (progress.phase() != phase && System.nanoTime() < deadline) {
            Thread.sleep(100);
        }
        assertEquals(phase, progress.phase(), progress.describe());
    }

    private static void produce(EmbeddedKafka kafka, String topic, int records) throws Exception {
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG,
                kafka.bootstrapServers()), new ByteArraySerializer(), new ByteArraySerializer())) {
            for (int i = 0; i < records; i++) {
                producer.send(new ProducerRecord<>(topic, 0, new byte[]{(byte) i}, new byte[]{1})).get();
            }
        }
    }

    private static void commit(Admin admin, String group, String topic, long offset) throws Exception {
        admin.alterConsumerGroupOffsets(group, Map.of(new TopicPartition(topic, 0), new OffsetAndMetadata(offset))).all().get();
    }
}

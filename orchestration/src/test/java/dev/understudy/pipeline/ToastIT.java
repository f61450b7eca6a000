package dev.understudy.pipeline;

import dev.understudy.testkit.UsersWorkload;
import dev.understudy.testkit.UsersChecksum;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.ToastPlaceholders;
import dev.understudy.transform.TransformConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Unchanged TOASTed values end to end. The legacy users table keeps the default replica identity
 * (the primary key), so PostgreSQL does not log a large, out-of-line ("TOAST") {@code name} that an
 * UPDATE leaves unchanged; pgoutput marks the column unchanged ('u') and Debezium writes its
 * {@code unavailable.value.placeholder} into the change event. The migration must fill the value
 * from the row's prior image, so that the target still equals the legacy table and never holds the
 * placeholder.
 */
class ToastIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    /**
     * About 9.6 KB of hex digits from md5 of random values: pglz cannot shrink it by the 25% it
     * requires, so PostgreSQL stores it uncompressed and out of line (anything over the ~2 KB
     * TOAST_TUPLE_THRESHOLD is moved to the TOAST table).
     */
    private static final String BIG = "(SELECT string_agg(md5(random()::text), '') FROM generate_series(1, 300))";

    @TempDir
    static Path work;
    static EmbeddedStack stack;
    static Pipeline pipeline;

    @BeforeAll
    static void start() throws Exception {
        stack = EmbeddedStack.start(work, PG_TIME_ZONE);
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            UsersWorkload.createAndFill(c, 200);
            // Before the pipeline starts: the snapshot carries these big values.
            s.execute("UPDATE public.users SET name = " + BIG + " WHERE id BETWEEN 1 AND 10");
        }
        pipeline = new Pipeline(TestPipelines.config(stack, work.resolve("streams"), TransformConfig.SETTLE_MS.name(), "3000"),
                Migrations.defaultMappings()).start();
    }

    @AfterAll
    static void stop() {
        if (pipeline != null) {
            pipeline.close();
        }
        if (stack != null) {
            stack.close();
        }
    }

    @Test
    void unchangedToastedValuesAreFilledFromThePriorRowAndNeverReachTheTarget() throws Exception {
        awaitConverged(Duration.ofSeconds(120));
        try (Connection l = stack.legacy().connect(); Statement s = l.createStatement()) {
            ResultSet rs = s.executeQuery("SELECT min(octet_length(name)) FROM public.users WHERE id BETWEEN 1 AND 10");
            rs.next();
            assertTrue(rs.getInt(1) > 8000, "big names: " + rs.getInt(1));
            // Streamed big values too: the prior image then comes from a streamed change, not the snapshot.
            s.execute("UPDATE public.users SET name = " + BIG + " WHERE id BETWEEN 11 AND 15");
            // Only email changes: name is unchanged and TOASTed, so the WAL does not carry it.
            s.execute("UPDATE public.users SET email = 'toast' || id || '@example.com' WHERE id BETWEEN 1 AND 15");
            s.execute("UPDATE public.users SET email = 'again' || id || '@example.com' WHERE id BETWEEN 1 AND 5");
        }
        awaitConverged(Duration.ofSeconds(120));
        try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect()) {
            List<String> expected = UsersChecksum.expectedRows(l);
            List<String> actual = UsersChecksum.actualRows(t);
            assertEquals(200, expected.size());
            assertEquals(expected, actual);
            for (String row : actual) {
                assertFalse(row.contains(ToastPlaceholders.PLACEHOLDER), row);
            }
            try (Statement s = t.createStatement();
                 ResultSet rs = s.executeQuery("SELECT count(*) FROM public.users WHERE full_name = '"
                         + ToastPlaceholders.PLACEHOLDER + "' OR email = '" + ToastPlaceholders.PLACEHOLDER + "'")) {
                rs.next();
                assertEquals(0, rs.getLong(1));
            }
        }
        assertEquals(0, pipeline.writer().metrics().deadLettered());
        // The scenario really happened: Debezium put the placeholder into the legacy change events
        // of the 20 email-only updates (Avro writes strings as raw UTF-8, so the bytes show it).
        assertEquals(20, legacyChangesWithPlaceholder(), "legacy change events carrying the placeholder");
    }

    private static long legacyChangesWithPlaceholder() {
        byte[] marker = ToastPlaceholders.PLACEHOLDER.getBytes(StandardCharsets.UTF_8);
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> partitions = consumer.partitionsFor(Topics.legacy(pipeline.prefix(), "public.users")).stream()
                    .map(p -> new TopicPartition(p.topic(), p.partition())).toList();
            consumer.assign(partitions);
            consumer.seekToBeginning(partitions);
            Map<TopicPartition, Long> end = consumer.endOffsets(partitions);
            long found = 0;
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < end.get(tp))) {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(Duration.ofMillis(500))) {
                    if (r.value() != null && indexOf(r.value(), marker) >= 0) {
                        found++;
                    }
                }
            }
            return found;
        }
    }

    private static int indexOf(byte[] haystack, byte[] needle) {
        outer:
        for (int i = 0; i + needle.length <= haystack.length; i++) {
            for (int j = 0; j < needle.length; j++) {
                if (haystack[i + j] != needle[j]) {
                    continue outer;
                }
            }
            return i;
        }
        return -1;
    }

    private static void awaitConverged(Duration timeout) throws Exception {
        TestPipelines.awaitUsersConverged(stack, pipeline, timeout);
    }
}

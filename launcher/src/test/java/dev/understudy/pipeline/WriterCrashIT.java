package dev.understudy.pipeline;

import dev.understudy.cli.WriterCommand;
import dev.understudy.schemas.AvroSerializer;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.schemas.PausePoints;
import dev.understudy.schemas.SerdeConfig;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.writer.ShadowWriterConfig;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.File;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The shadow writer as two separate processes sharing the topic's partitions (one consumer group,
 * static members), one of them killed with SIGKILL at random times under a steady stream of
 * changes and restarted with its member id, many times; every other restart runs until the writer
 * halts itself at a named point ({@link PausePoints}: after decoding, before and after the database
 * commit, after the offset commit), then restarts again; it takes its partitions back and resumes
 * them from the positions stored in the target. The target must end equal to the last change per
 * key, and an audit trigger on the target table proves that no row's version ever went backwards
 * and that no change was applied twice. Then the writer group's offsets are rewound by 10,000: the
 * writer resumes from the positions it keeps in the target database, and the target does not change.
 */
class WriterCrashIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final String TOPIC = Topics.newSchema("understudy", "public.users");
    private static final Schema KEY = KeySchemas.of("public", "users", List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
    private static final Schema VALUE = Contracts.load("users.avsc");
    private static final int KEYS = 2_000;
    private static final int KILLS = 8;
    /** The users migration: the writer writes its target table, public.users. */
    private static final Path USERS_SPEC = Path.of("..", "examples", "users", "v1.2_add_birthdate_to_users.yaml").toAbsolutePath().normalize();
    private static final List<String> POINTS = List.of(PausePoints.WRITER_BATCH_COMMITTED, PausePoints.WRITER_BATCH_APPLIED,
            PausePoints.WRITER_DECODED, PausePoints.WRITER_OFFSETS_COMMITTED);

    @Test
    void killedAtRandomTimesAndNamedPointsTheWriterNeitherLosesNorRepeatsNorRegressesAndIgnoresARewind(@TempDir Path work) throws Exception {
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.target().connect(); Statement s = c.createStatement()) {
                s.execute("CREATE TABLE public.users (id bigint PRIMARY KEY, full_name text, email text NOT NULL, birthdate date, created_at timestamptz)");
                // full_name holds the change's version as 'v<version>', so the trigger sees every transition.
                s.execute("CREATE TABLE public.audit (seq bigserial PRIMARY KEY, id bigint NOT NULL, op text NOT NULL, old_v bigint, new_v bigint)");
                s.execute("""
                        CREATE FUNCTION public.audit_users() RETURNS trigger LANGUAGE plpgsql AS $$
                        BEGIN
                          IF TG_OP = 'DELETE' THEN
                            INSERT INTO public.audit (id, op, old_v) VALUES (OLD.id, 'D', substr(OLD.full_name, 2)::bigint);
                            RETURN OLD;
                          ELSIF TG_OP = 'UPDATE' THEN
                            INSERT INTO public.audit (id, op, old_v, new_v)
                            VALUES (NEW.id, 'U', substr(OLD.full_name, 2)::bigint, substr(NEW.full_name, 2)::bigint);
                          ELSE
                            INSERT INTO public.audit (id, op, new_v) VALUES (NEW.id, 'I', substr(NEW.full_name, 2)::bigint);
                          END IF;
                          RETURN NEW;
                        END $$""");
                s.execute("CREATE TRIGGER audit AFTER INSERT OR UPDATE OR DELETE ON public.users FOR EACH ROW EXECUTE FUNCTION public.audit_users()");
            }
            String bootstrap = stack.kafka().bootstrapServers();
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                admin.createTopics(List.of(new NewTopic(TOPIC, 3, (short) 1), new NewTopic(Topics.deadLetter("understudy"), 1, (short) 1)))
                        .all().get();
            }
            Path settings = work.resolve("writer.properties");
            Properties p = new Properties();
            p.putAll(stack.connectionSettings());
            p.setProperty(ShadowWriterConfig.MAX_BATCH_RECORDS.name(), "300");
            try (var out = Files.newBufferedWriter(settings)) {
                p.store(out, "writer crash test");
            }

            // Producer: versions grow globally, so each names one change; the last per key is the truth.
            Map<Long, Long> expected = new TreeMap<>();
            AtomicBoolean stop = new AtomicBoolean();
            AtomicReference<Throwable> producerFailure = new AtomicReference<>();
            ConfluentRegistryClient registry = new ConfluentRegistryClient(stack.connectionSettings().get(PipelineConfig.REGISTRY_URL.name()),
                    SerdeConfig.defaults());
            Thread producer = new Thread(() -> produce(bootstrap, registry, expected, stop, producerFailure), "changes");
            producer.start();

            Process[] writers = {startWriter(settings, "a", 0, null), startWriter(settings, "b", 0, null)};
            try {
                ThreadLocalRandom r = ThreadLocalRandom.current();
                for (int i = 1; i <= KILLS; i++) {
                    Thread.sleep(1_000 + r.nextInt(2_500));
                    int victim = r.nextInt(2);
                    String member = victim == 0 ? "a" : "b";
                    writers[victim].destroyForcibly().waitFor();
                    if (i % 2 == 1) {
                        // This run halts itself at a named point, where a crash is most dangerous.
                        String point = POINTS.get((i / 2) % POINTS.size());
                        writers[victim] = startWriter(settings, member, i, point + ":" + (1 + r.nextInt(3)));
                        assertTrue(writers[victim].waitFor(90, TimeUnit.SECONDS), "writer-" + member + " never reached " + point
                                + "; see target/writer-crash/writer-" + member + "-" + i + "-halt.log");
                        assertEquals(PausePoints.EXIT_CODE, writers[victim].exitValue(), "writer-" + member + " stopped, but not at "
                                + point + "; see target/writer-crash/writer-" + member + "-" + i + "-halt.log");
                    }
                    writers[victim] = startWriter(settings, member, i, null);
                }
                stop.set(true);
                producer.join();
                assertNull(producerFailure.get(), "producer failed");

                awaitTarget(stack, expected, Duration.ofSeconds(120));
                long audited = count(stack, "SELECT count(*) FROM public.audit");
                assertTrue(audited > 5_000, "too few changes applied: " + audited);
                assertEquals(0, count(stack, "SELECT count(*) FROM public.audit WHERE op = 'U' AND new_v <= old_v"),
                        "a row went backwards");
                assertEquals(0, count(stack, "SELECT count(*) FROM (SELECT new_v FROM public.audit WHERE new_v IS NOT NULL "
                        + "GROUP BY new_v HAVING count(*) > 1) twice"), "a change was applied twice");

                // Rewind: a graceful stop, the static member removed from the group (a static member
                // keeps its place across restarts, so offsets of a non-empty group cannot be altered),
                // the group's offsets moved back 10,000 records in all, then the writer again.
                for (Process w : writers) {
                    w.destroy();
                    w.waitFor();
                }
                try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
                    admin.removeMembersFromConsumerGroup("understudy-shadow-writer", new org.apache.kafka.clients.admin.RemoveMembersFromConsumerGroupOptions(
                            List.of(new org.apache.kafka.clients.admin.MemberToRemove("writer-a"),
                                    new org.apache.kafka.clients.admin.MemberToRemove("writer-b")))).all().get();
                    Map<TopicPartition, OffsetAndMetadata> committed =
                            admin.listConsumerGroupOffsets("understudy-shadow-writer").partitionsToOffsetAndMetadata().get();
                    Map<TopicPartition, OffsetAndMetadata> rewound = new HashMap<>();
                    committed.forEach((tp, om) -> rewound.put(tp, new OffsetAndMetadata(Math.max(0, om.offset() - 10_000 / 3 - 1))));
                    admin.alterConsumerGroupOffsets("understudy-shadow-writer", rewound).all().get();
                    long back = 0;
                    for (TopicPartition tp : committed.keySet()) {
                        back += committed.get(tp).offset() - rewound.get(tp).offset();
                    }
                    assertTrue(back >= 10_000, "rewound by " + back);
                    writers[0] = startWriter(settings, "a", KILLS + 1, null);
                    awaitGroupAtEnd(admin, bootstrap, Duration.ofSeconds(60));
                }
                assertEquals(audited, count(stack, "SELECT count(*) FROM public.audit"), "the rewind changed the target");
                awaitTarget(stack, expected, Duration.ofSeconds(5));
            } finally {
                stop.set(true);
                producer.join();
                for (Process w : writers) {
                    w.destroyForcibly().waitFor();
                }
            }
        }
    }

    /** {@code haltAt}: the {@link PausePoints#PROPERTY} of the run ({@code point:hit}), or null. */
    private static Process startWriter(Path settings, String member, int n, String haltAt) throws IOException {
        String java = ProcessHandle.current().info().command().orElse("java");
        List<String> command = new ArrayList<>(List.of(java, "-Xmx256m"));
        if (haltAt != null) {
            command.add("-D" + PausePoints.PROPERTY + "=" + haltAt);
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), WriterCommand.class.getName(),
                "--config", settings.toString(), "--spec", USERS_SPEC.toString(), "--status-interval", "1",
                "--instance-id", "writer-" + member));
        // Kept under target/ so that a failure can be read after the temporary directory is gone.
        Path dir = Files.createDirectories(Path.of("target", "writer-crash"));
        File log = dir.resolve("writer-" + member + "-" + n + (haltAt == null ? "" : "-halt") + ".log").toFile();
        return new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log).start();
    }

    private static void produce(String bootstrap, ConfluentRegistryClient registry, Map<Long, Long> expected, AtomicBoolean stop,
                                AtomicReference<Throwable> failure) {
        AvroSerializer keys = new AvroSerializer(registry, true);
        AvroSerializer values = new AvroSerializer(registry, false);
        ThreadLocalRandom r = ThreadLocalRandom.current();
        long version = 1_000;
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 5, ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            while (!stop.get()) {
                for (int i = 0; i < 100; i++) {
                    long id = 1 + r.nextInt(KEYS);
                    version++;
                    GenericRecord key = new GenericData.Record(KEY);
                    key.put("id", id);
                    GenericRecord value = null;
                    if (r.nextInt(100) >= 12) {
                        value = new GenericData.Record(VALUE);
                        value.put("id", id);
                        value.put("full_name", "v" + version);
                        value.put("email", "user" + id + "@example.com");
                        value.put("birthdate", null);
                        value.put("created_at", null);
                    }
                    RecordHeaders headers = new RecordHeaders();
                    headers.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(version));
                    headers.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(version));
                    headers.add(ChangeHeaders.OP, (value == null ? "d" : "u").getBytes(StandardCharsets.UTF_8));
                    producer.send(new ProducerRecord<>(TOPIC, null, keys.serialize(TOPIC, key),
                            value == null ? null : values.serialize(TOPIC, value), headers));
                    synchronized (expected) {
                        expected.put(id, value == null ? -version : version);
                    }
                }
                producer.flush();
                Thread.sleep(40);
            }
        } catch (Throwable t) {
            failure.set(t);
        }
    }

    /** Waits until the target holds exactly the last upsert of every key whose last change was not a delete. */
    private static void awaitTarget(EmbeddedStack stack, Map<Long, Long> expected, Duration timeout) throws Exception {
        List<String> want = new ArrayList<>();
        synchronized (expected) {
            expected.forEach((id, v) -> {
                if (v > 0) {
                    want.add(id + "|v" + v);
                }
            });
        }
        long deadline = System.nanoTime() + timeout.toNanos();
        List<String> got = List.of();
        while (System.nanoTime() < deadline) {
            try (Connection c = stack.target().connect()) {
                got = TestPipelines.rows(c, "SELECT id, full_name FROM public.users ORDER BY id");
            }
            if (got.equals(want)) {
                return;
            }
            Thread.sleep(500);
        }
        TestPipelines.assertSameRows(new TestPipelines.Sides(want, got));
    }

    private static void awaitGroupAtEnd(Admin admin, String bootstrap, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        Map<TopicPartition, OffsetAndMetadata> committed = Map.of();
        Map<TopicPartition, Long> ends = new HashMap<>();
        while (System.nanoTime() < deadline) {
            committed = admin.listConsumerGroupOffsets("understudy-shadow-writer").partitionsToOffsetAndMetadata().get();
            Map<TopicPartition, OffsetSpec> request = new HashMap<>();
            committed.keySet().forEach(tp -> request.put(tp, OffsetSpec.latest()));
            ends.clear();
            admin.listOffsets(request).all().get().forEach((tp, info) -> ends.put(tp, info.offset()));
            Map<TopicPartition, OffsetAndMetadata> now = committed;
            if (!now.isEmpty() && now.entrySet().stream().allMatch(e -> e.getValue().offset() >= ends.get(e.getKey()))) {
                return;
            }
            Thread.sleep(500);
        }
        throw new AssertionError("the writer group did not return to the end of " + TOPIC + ": committed " + committed + ", ends " + ends);
    }

    private static long count(EmbeddedStack stack, String sql) throws Exception {
        try (Connection c = stack.target().connect()) {
            return Long.parseLong(TestPipelines.rows(c, sql).get(0));
        }
    }
}

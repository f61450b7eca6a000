package dev.understudy.pipeline;

import dev.understudy.testkit.UsersWorkload;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.TransformConfig;
import org.apache.avro.Schema;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The registry's verdict is enforced: an incompatible contract stops the start before anything is
 * produced; an added nullable legacy column flows on as a new schema version; an incompatible legacy
 * change stops capture with the table, the subject and the registry's reason.
 */
class ContractEnforcementIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    @TempDir
    static Path work;
    static EmbeddedStack stack;

    @BeforeAll
    static void start() throws Exception {
        stack = EmbeddedStack.start(work, PG_TIME_ZONE);
        try (Connection c = stack.legacy().connect()) {
            UsersWorkload.createAndFill(c, 100);
        }
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            stack.close();
        }
    }

    private static PipelineConfig config(String name) {
        return TestPipelines.config(stack, work.resolve("streams-" + name), PipelineConfig.PIPELINE_NAME.name(), name);
    }

    @Test
    void anIncompatibleContractStopsTheStartNamingSubjectFieldAndRule() throws Exception {
        // An earlier version of the users contract in which email was a number: the shipped contract
        // (email a nullable string) cannot read it, which BACKWARD forbids.
        Schema earlier = new Schema.Parser().parse("""
                {"type":"record","name":"users","namespace":"understudy.contract.public","fields":[
                  {"name":"id","type":"long"},
                  {"name":"email","type":"long"}]}""");
        String subject = Topics.newSchema("refused", "public.users") + "-value";
        new ConfluentRegistryClient(stack.registry().url()).register(subject, earlier);

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new Pipeline(config("refused"), Migrations.defaultMappings()).start());
        String msg = e.getMessage();
        assertTrue(msg.contains("subject '" + subject + "'"), msg);
        assertTrue(msg.contains("field 'email'"), msg);
        // Confluent classifies a nullable string reading a long as a missing union branch.
        assertTrue(msg.contains("rule MISSING_UNION_BRANCH"), msg);
        assertTrue(msg.contains("BACKWARD"), msg);
        // Nothing was produced on the new-schema topic.
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
            String topic = Topics.newSchema("refused", "public.users");
            long records = 0;
            for (var p : admin.describeTopics(java.util.List.of(topic)).allTopicNames().get().get(topic).partitions()) {
                records += admin.listOffsets(Map.of(new TopicPartition(topic, p.partition()), OffsetSpec.latest())).all().get()
                        .values().iterator().next().offset();
            }
            assertEquals(0, records);
        }
    }

    @Test
    void anAddedNullableColumnFlowsOnAndAnIncompatibleChangeStopsCapture() throws Exception {
        try (Pipeline pipeline = new Pipeline(config("ddl"), Migrations.defaultMappings()).start()) {
            ConfluentRegistryClient registry = new ConfluentRegistryClient(stack.registry().url());
            String legacySubject = Topics.legacy("ddl", "public.users") + "-value";
            await(() -> pipeline.legacyCapture().metrics().snapshotRows() >= 100, Duration.ofSeconds(60), "snapshot");
            int before = registry.latest(legacySubject).orElseThrow().version();

            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                s.execute("ALTER TABLE public.users ADD COLUMN nickname text");
                s.execute("INSERT INTO public.users (name, email, nickname) VALUES ('Ada', 'ada@example.com', 'countess')");
            }
            await(() -> pipeline.legacyCapture().metrics().streamedChanges() >= 1, Duration.ofSeconds(60), "the insert after ADD COLUMN");
            assertEquals(before + 1, registry.latest(legacySubject).orElseThrow().version(), "a new compatible version");
            assertTrue(registry.latest(legacySubject).orElseThrow().schema().toString().contains("nickname"));

            try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
                s.execute("ALTER TABLE public.users ALTER COLUMN email TYPE bigint USING length(email)");
                s.execute("UPDATE public.users SET name = 'after the type change' WHERE id = 1");
            }
            await(() -> pipeline.failure() != null, Duration.ofSeconds(60), "capture to stop on the incompatible change");
            String msg = messages(pipeline.failure());
            assertTrue(msg.contains("public.users"), msg);
            assertTrue(msg.contains(legacySubject), msg);
            assertTrue(msg.contains("409") || msg.toLowerCase().contains("incompatible"), msg);
            assertNotNull(registry.latest(legacySubject));
            assertEquals(before + 1, registry.latest(legacySubject).orElseThrow().version(), "the incompatible schema was not registered");
        }
    }

    @Test
    void aTargetAtAnotherFlywayVersionIsRefusedNamingBoth() throws Exception {
        try (Connection c = stack.target().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE target_v11");
        }
        Path migrations = java.nio.file.Files.createDirectories(work.resolve("flyway-v11"));
        java.nio.file.Files.writeString(migrations.resolve("V1_1__create_users.sql"),
                "CREATE TABLE users (id bigint PRIMARY KEY, full_name text, email text, created_at timestamptz);");
        Map<String, String> settings = new HashMap<>(stack.connectionSettings());
        settings.put(PipelineConfig.TARGET_JDBC_URL.name(), stack.target().jdbcUrl().replaceAll("/[^/]+$", "/target_v11"));
        settings.put(PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + migrations);
        settings.put(PipelineConfig.PIPELINE_NAME.name(), "v11");
        settings.put(TransformConfig.STATE_DIR.name(), work.resolve("streams-v11").toString());
        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> new Pipeline(PipelineConfig.parse(settings, "test"), Migrations.defaultMappings()).start());
        assertTrue(e.getMessage().contains("cannot be brought to Flyway schema version 1.2")
                && e.getMessage().contains("go up to version 1.1"), e.getMessage());
        assertTrue(e.getMessage().contains("target.flyway.locations"), e.getMessage());

        // A target already past the version the migration needs is refused too, naming both.
        java.nio.file.Files.writeString(migrations.resolve("V1_2__add_birthdate_to_users.sql"), "ALTER TABLE users ADD COLUMN birthdate date;");
        java.nio.file.Files.writeString(migrations.resolve("V1_3__add_nickname.sql"), "ALTER TABLE users ADD COLUMN nickname text;");
        org.flywaydb.core.Flyway.configure().dataSource(settings.get(PipelineConfig.TARGET_JDBC_URL.name()), "postgres", "postgres")
                .locations("filesystem:" + migrations).load().migrate();
        IllegalStateException ahead = assertThrows(IllegalStateException.class,
                () -> new Pipeline(PipelineConfig.parse(settings, "test"), Migrations.defaultMappings()).start());
        assertTrue(ahead.getMessage().contains("is at Flyway schema version 1.3, but the migration needs version 1.2"), ahead.getMessage());
    }

    private static String messages(Throwable t) {
        StringBuilder sb = new StringBuilder();
        for (Throwable c = t; c != null; c = c.getCause()) {
            sb.append(c.getMessage()).append(" | ");
            if (c.getCause() == c) {
                break;
            }
        }
        return sb.toString();
    }

    private static void await(java.util.function.BooleanSupplier condition, Duration timeout, String what) throws InterruptedException {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.getAsBoolean()) {
            if (System.nanoTime() > deadline) {
                throw new AssertionError("timed out waiting for " + what);
            }
            Thread.sleep(100);
        }
    }
}

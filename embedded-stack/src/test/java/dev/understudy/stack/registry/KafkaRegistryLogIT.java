package dev.understudy.stack.registry;

import dev.understudy.stack.EmbeddedKafka;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.ConfigResource;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.UUID;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The registry's state in a Kafka topic: topic layout, restart, and two instances on one topic. */
class KafkaRegistryLogIT {
    private static final String AVRO = "AVRO";
    @TempDir
    static Path workDir;
    private static EmbeddedKafka kafka;

    @BeforeAll
    static void startKafka() {
        kafka = EmbeddedKafka.start(workDir);
    }

    @AfterAll
    static void stopKafka() {
        if (kafka != null) {
            kafka.close();
        }
    }

    private static String record(String name, String... fields) {
        StringBuilder json = new StringBuilder("{\"type\":\"record\",\"name\":\"" + name + "\",\"fields\":[");
        for (int i = 0; i < fields.length; i++) {
            json.append(i == 0 ? "" : ",").append("{\"name\":\"").append(fields[i])
                    .append("\",\"type\":[\"null\",\"string\"],\"default\":null}");
        }
        return json.append("]}").toString();
    }

    private static LogSchemaStore open(String topic) {
        return new LogSchemaStore(new KafkaRegistryLog(kafka.bootstrapServers(), topic, (short) 1, Duration.ofSeconds(30)));
    }

    @Test
    void restartOnTheSameTopicKeepsEverything() throws Exception {
        String topic = "_schemas-" + UUID.randomUUID();
        long started = System.nanoTime();
        try (LogSchemaStore first = open(topic)) {
            first.setCompatibility(null, "FULL_TRANSITIVE");
            first.setCompatibility("orders-value", "BACKWARD");
            first.register("orders-value", AVRO, record("Order", "a"));
            first.register("orders-value", AVRO, record("Order", "a", "b"));
            first.register("orders-value", AVRO, record("Order", "a", "b", "c"));
            first.register("customers-value", AVRO, record("Customer", "n"));
            first.register("gone-value", AVRO, record("Gone", "g"));
            first.deleteVersion("orders-value", "2", false);
            first.deleteSubject("gone-value", false);
            first.deleteSubject("gone-value", true);
            first.register("orders-value", AVRO, record("Order", "a", "b"));
            first.setMode("customers-value", "READONLY");
        }
        try (LogSchemaStore second = open(topic)) {
            assertEquals(List.of("customers-value", "orders-value"), second.subjects(true));
            assertEquals(List.of(1, 3, 4), second.versions("orders-value", false));
            assertEquals(List.of(1, 2, 3, 4), second.versions("orders-value", true));
            assertEquals(2, second.version("orders-value", 4, false).orElseThrow().id(), "re-registered with its id");
            assertEquals(1, second.version("customers-value", 1, false).orElseThrow().version());
            assertEquals(4, second.version("customers-value", 1, false).orElseThrow().id());
            assertEquals(Optional.of("FULL_TRANSITIVE"), second.compatibility(null));
            assertEquals(Optional.of("BACKWARD"), second.compatibility("orders-value"));
            assertEquals(Optional.of("READONLY"), second.mode("customers-value"));
            assertEquals(Optional.empty(), second.schemaById(5), "the permanently deleted schema is gone");
            assertEquals(6, second.register("new-value", AVRO, record("New", "x")).id(), "ids are not reused after a restart");
        }
        System.out.printf("Kafka registry log restart test took %d ms%n", (System.nanoTime() - started) / 1_000_000);

        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            TopicDescription description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            assertEquals(1, description.partitions().size());
            ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
            Config config = admin.describeConfigs(List.of(resource)).all().get().get(resource);
            assertEquals("compact", config.get("cleanup.policy").value());
        }
    }

    /** The same over HTTP: a registry restarted on the broker's _schemas topic answers as before. */
    @Test
    void registryRestartedOnKafkaAnswersTheSame() throws Exception {
        java.net.http.HttpClient http = java.net.http.HttpClient.newHttpClient();
        List<String> paths = List.of("/subjects?deleted=true", "/subjects/restart-value/versions?deleted=true",
                "/subjects/restart-value/versions/latest", "/subjects/restart-value/versions/1?deleted=true",
                "/schemas/ids/1", "/schemas/ids/2/versions", "/config", "/config/restart-value", "/mode/restart-value");
        List<String> before = new java.util.ArrayList<>();
        try (EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.startOnKafka(0, kafka.bootstrapServers())) {
            String url = registry.url();
            send(http, "PUT", url + "/config", "{\"compatibility\":\"FULL\"}");
            send(http, "PUT", url + "/config/restart-value", "{\"compatibility\":\"NONE\"}");
            send(http, "POST", url + "/subjects/restart-value/versions", "{\"schema\":\"\\\"string\\\"\"}");
            send(http, "POST", url + "/subjects/restart-value/versions", "{\"schema\":\"\\\"int\\\"\"}");
            send(http, "DELETE", url + "/subjects/restart-value/versions/1", null);
            send(http, "PUT", url + "/mode/restart-value", "{\"mode\":\"READONLY\"}");
            for (String path : paths) {
                before.add(send(http, "GET", url + path, null));
            }
        }
        try (EmbeddedSchemaRegistry registry = EmbeddedSchemaRegistry.startOnKafka(0, kafka.bootstrapServers())) {
            for (int i = 0; i < paths.size(); i++) {
                assertEquals(before.get(i), send(http, "GET", registry.url() + paths.get(i), null), paths.get(i));
            }
        }
        assertEquals("[\"restart-value\"]", before.get(0));
        assertEquals("[1,2]", before.get(1));
        assertEquals("{\"mode\":\"READONLY\"}", before.get(8));
    }

    private static String send(java.net.http.HttpClient http, String method, String url, String body) throws Exception {
        java.net.http.HttpRequest request = java.net.http.HttpRequest.newBuilder(java.net.URI.create(url))
                .header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .method(method, body == null ? java.net.http.HttpRequest.BodyPublishers.noBody()
                        : java.net.http.HttpRequest.BodyPublishers.ofString(body))
                .build();
        java.net.http.HttpResponse<String> response = http.send(request, java.net.http.HttpResponse.BodyHandlers.ofString());
        assertEquals(200, response.statusCode(), method + " " + url + ": " + response.body());
        return response.body();
    }

    @Test
    void aTopicThatIsNotCompactedOrHasSeveralPartitionsIsRefused() throws Exception {
        String deleting = "_schemas-delete-" + UUID.randomUUID();
        String partitioned = "_schemas-partitioned-" + UUID.randomUUID();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new org.apache.kafka.clients.admin.NewTopic(deleting, 1, (short) 1),
                    new org.apache.kafka.clients.admin.NewTopic(partitioned, 2, (short) 1)
                            .configs(Map.of("cleanup.policy", "compact")))).all().get();
        }
        SchemaStoreException notCompacted = org.junit.jupiter.api.Assertions.assertThrows(SchemaStoreException.class,
                () -> open(deleting));
        assertTrue(notCompacted.getMessage().contains("cleanup.policy=delete"), notCompacted.getMessage());
        SchemaStoreException twoPartitions = org.junit.jupiter.api.Assertions.assertThrows(SchemaStoreException.class,
                () -> open(partitioned));
        assertTrue(twoPartitions.getMessage().contains("has 2 partitions"), twoPartitions.getMessage());
    }

    @Test
    void twoInstancesOnOneTopicAgree() throws Exception {
        String topic = "_schemas-" + UUID.randomUUID();
        try (LogSchemaStore writer = open(topic); LogSchemaStore follower = open(topic)) {
            int id = writer.register("shared-value", AVRO, record("Shared", "s")).id();
            writer.setCompatibility("shared-value", "NONE");
            long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
            while (follower.compatibility("shared-value").isEmpty() && System.nanoTime() < deadline) {
                Thread.sleep(20);
            }
            assertEquals(Optional.of("NONE"), follower.compatibility("shared-value"));
            assertEquals(id, follower.latest("shared-value", false).orElseThrow().id());
            assertTrue(follower.schemaById(id).isPresent());
        }
    }
}

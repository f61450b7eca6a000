package dev.understudy.stack;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.RegistryClient;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.Reader;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.TreeMap;
import java.util.UUID;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EmbeddedStackIT {
    private static final String TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final ObjectMapper JSON = new ObjectMapper();

    @TempDir
    static Path workDir;
    private static EmbeddedStack stack;

    @BeforeAll
    static void start() {
        long started = System.nanoTime();
        stack = EmbeddedStack.start(workDir, TIME_ZONE);
        System.out.printf("Embedded stack started in %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    @AfterAll
    static void stop() {
        if (stack != null) {
            long started = System.nanoTime();
            stack.close();
            stack.close();
            System.out.printf("Embedded stack closed in %d ms%n", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            assertFalse(Files.exists(workDir.resolve("legacy")), "legacy directory deleted on close");
            assertFalse(Files.exists(workDir.resolve("target")), "target directory deleted on close");
            assertFalse(Files.exists(workDir.resolve("kafka")), "kafka directory deleted on close");
        }
    }

    @Test
    void postgresServersAreSetUpForLogicalDecoding() throws SQLException {
        for (EmbeddedPostgresServer server : List.of(stack.legacy(), stack.target())) {
            assertEquals("jdbc:postgresql://localhost:" + server.port() + "/" + server.name(), server.jdbcUrl());
            assertEquals(workDir.resolve(server.name()).resolve("data"), server.dataDirectory());
            try (Connection c = server.connect()) {
                assertEquals(server.name(), query(c, "SELECT current_database()"));
                assertEquals("logical", query(c, "SHOW wal_level"));
                assertEquals("on", query(c, "SHOW synchronous_commit"));
                // log_timezone can only be set server-wide, so it shows the server's setting as is.
                assertEquals(TIME_ZONE, query(c, "SHOW log_timezone"));
                // TimeZone does not: pgjdbc sends the JVM's zone (TimeZone.getDefault()) in every startup
                // packet, so JDBC sessions run in the JVM's zone. The server-wide value is the one the
                // postmaster was started with, which sessions of other clients (psql) get.
                assertEquals(java.util.TimeZone.getDefault().getID(), query(c, "SHOW TimeZone"));
                assertEquals("client", query(c, "SELECT source FROM pg_settings WHERE name = 'TimeZone'"));
                List<String> postmasterArgs = ProcessHandle.of(server.postmasterPid()).orElseThrow()
                        .info().arguments().map(List::of).orElseThrow();
                assertTrue(postmasterArgs.contains("timezone=" + TIME_ZONE), postmasterArgs.toString());
                assertEquals("20", query(c, "SHOW max_replication_slots"));
                assertEquals("20", query(c, "SHOW max_wal_senders"));
                assertEquals("200", query(c, "SHOW max_connections"));
                assertEquals("off", query(c, "SHOW fsync"));
                assertEquals("off", query(c, "SHOW full_page_writes"));
                assertTrue(query(c, "SHOW server_version").startsWith("17."), "PostgreSQL 17");
            }
        }
        assertNotEquals(stack.legacy().port(), stack.target().port());
    }

    @Test
    void logicalReplicationSlotCanBeCreated() throws SQLException {
        try (Connection c = stack.legacy().connect(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE slot_probe (id int PRIMARY KEY)");
            s.execute("SELECT pg_create_logical_replication_slot('it_probe', 'pgoutput')");
            assertEquals("it_probe", query(c, "SELECT slot_name FROM pg_replication_slots WHERE slot_name = 'it_probe'"));
            s.execute("SELECT pg_drop_replication_slot('it_probe')");
            s.execute("DROP TABLE slot_probe");
        }
    }

    @Test
    void kafkaRoundTrip() throws Exception {
        String bootstrap = stack.kafka().bootstrapServers();
        assertTrue(bootstrap.startsWith("127.0.0.1:"), bootstrap);
        String topic = "it-" + UUID.randomUUID();
        Map<String, Object> producerConfig = Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class);
        RecordMetadata sent;
        try (KafkaProducer<String, String> producer = new KafkaProducer<>(producerConfig)) {
            // The topic does not exist: auto.create.topics.enable creates it with num.partitions.
            sent = producer.send(new ProducerRecord<>(topic, "key", "value")).get(30, TimeUnit.SECONDS);
        }
        Map<String, Object> consumerConfig = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.GROUP_ID_CONFIG, "it-" + UUID.randomUUID(),
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig)) {
            assertEquals(3, consumer.partitionsFor(topic).size(), "num.partitions=3");
            consumer.subscribe(List.of(topic));
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            ConsumerRecord<String, String> received = null;
            while (received == null && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    received = record;
                }
            }
            assertTrue(received != null, "record consumed within 30 s");
            assertEquals("key", received.key());
            assertEquals("value", received.value());
            assertEquals(sent.partition(), received.partition());
            assertEquals(sent.offset(), received.offset());
        }
    }

    @Test
    void registryWorksWithThePipelinesClient() {
        Schema v1 = SchemaBuilder.record("Customer").namespace("legacy.public").fields()
                .requiredLong("id").requiredString("name").endRecord();
        Schema v2 = SchemaBuilder.record("Customer").namespace("legacy.public").fields()
                .requiredLong("id").requiredString("name").optionalString("email").endRecord();
        RegistryClient client = new ConfluentRegistryClient(stack.registry().url());
        int id = client.register("it.customers-value", v1);

        RegistryClient fresh = new ConfluentRegistryClient(stack.registry().url());
        assertEquals(v1, fresh.byId(id), "schema by id");
        assertEquals(id, fresh.register("it.customers-value", v1), "re-registering returns the same id");
        assertEquals(id, fresh.register("it.other-value", v1), "same schema under another subject: same id");
        Optional<RegistryClient.Registered> latest = fresh.latest("it.customers-value");
        assertTrue(latest.isPresent());
        assertEquals(1, latest.get().version(), "re-registering created no version");
        assertEquals(id, latest.get().id());

        int id2 = fresh.register("it.customers-value", v2);
        assertNotEquals(id, id2);
        RegistryClient.Registered newest = new ConfluentRegistryClient(stack.registry().url()).latest("it.customers-value").orElseThrow();
        assertEquals(2, newest.version());
        assertEquals(id2, newest.id());
        assertEquals(v2, newest.schema());
        assertEquals(Optional.empty(), fresh.latest("it.nothing-value"));
    }

    /** The registry keeps its state in the broker's compacted _schemas topic, in Confluent's layout. */
    @Test
    void registryKeepsItsStateInKafka() throws Exception {
        Schema schema = SchemaBuilder.record("Stored").namespace("it").fields().requiredInt("n").endRecord();
        int id = new ConfluentRegistryClient(stack.registry().url()).register("it.stored-value", schema);
        Map<String, Object> consumerConfig = Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class);
        try (KafkaConsumer<String, String> consumer = new KafkaConsumer<>(consumerConfig)) {
            org.apache.kafka.common.TopicPartition partition = new org.apache.kafka.common.TopicPartition("_schemas", 0);
            assertEquals(1, consumer.partitionsFor("_schemas").size());
            consumer.assign(List.of(partition));
            consumer.seekToBeginning(List.of(partition));
            long end = consumer.endOffsets(List.of(partition)).get(partition);
            ConsumerRecord<String, String> stored = null;
            while (consumer.position(partition) < end) {
                for (ConsumerRecord<String, String> record : consumer.poll(Duration.ofMillis(200))) {
                    if (record.key().equals("{\"keytype\":\"SCHEMA\",\"subject\":\"it.stored-value\",\"version\":1,\"magic\":1}")) {
                        stored = record;
                    }
                }
            }
            assertTrue(stored != null, "the registration is a record of _schemas");
            JsonNode value = JSON.readTree(stored.value());
            assertEquals(id, value.get("id").asInt());
            assertEquals(schema, new Schema.Parser().parse(value.get("schema").asText()));
            assertFalse(value.get("deleted").asBoolean());
        }
    }

    @Test
    void registryErrorCodes() throws Exception {
        String url = stack.registry().url();
        Schema schema = SchemaBuilder.record("Probe").namespace("it").fields().requiredInt("n").endRecord();
        new ConfluentRegistryClient(url).register("it.probe-value", schema);
        HttpClient http = HttpClient.newHttpClient();

        JsonNode subject = expectError(http, get(url + "/subjects/it.unknown-value/versions"), 404, 40401);
        assertEquals("Subject 'it.unknown-value' not found.", subject.get("message").asText());
        JsonNode version = expectError(http, get(url + "/subjects/it.probe-value/versions/7"), 404, 40402);
        assertEquals("Version 7 not found.", version.get("message").asText());
        JsonNode id = expectError(http, get(url + "/schemas/ids/987654"), 404, 40403);
        assertEquals("Schema 987654 not found", id.get("message").asText());
        expectError(http, post(url + "/subjects/it.probe-value",
                "{\"schema\": \"{\\\"type\\\":\\\"record\\\",\\\"name\\\":\\\"Other\\\",\\\"fields\\\":[]}\"}"), 404, 40403);
        JsonNode invalid = expectError(http, post(url + "/subjects/it.probe-value/versions",
                "{\"schema\": \"{\\\"type\\\": \\\"no-such-type\\\"}\"}"), 422, 42201);
        assertTrue(invalid.get("message").asText().startsWith("Invalid schema"), invalid.toString());
        expectError(http, get(url + "/subjects/it.probe-value/versions/zero"), 422, 42202);
        expectError(http, get(url + "/no/such/path"), 404, 404);

        HttpResponse<String> root = http.send(get(url + "/"), HttpResponse.BodyHandlers.ofString());
        assertEquals(200, root.statusCode());
        assertEquals("{}", root.body());
    }

    @Test
    void writesTheEightConnectionSettings() throws Exception {
        Set<String> keys = Set.of("legacy.jdbc.url", "legacy.user", "legacy.password", "target.jdbc.url", "target.user",
                "target.password", "kafka.bootstrap.servers", "registry.url");
        Map<String, String> settings = stack.connectionSettings();
        assertEquals(keys, settings.keySet());
        assertEquals(stack.legacy().jdbcUrl(), settings.get("legacy.jdbc.url"));
        assertEquals(stack.target().jdbcUrl(), settings.get("target.jdbc.url"));
        assertEquals("postgres", settings.get("legacy.user"));
        assertEquals("postgres", settings.get("target.password"));
        assertEquals(stack.kafka().bootstrapServers(), settings.get("kafka.bootstrap.servers"));
        assertEquals(stack.registry().url(), settings.get("registry.url"));

        Path file = workDir.resolve("settings").resolve("understudy-dev.properties");
        stack.writeSettings(file);
        stack.writeSettings(file);
        List<String> lines = Files.readAllLines(file);
        assertTrue(lines.get(0).startsWith("#"), "comment header");
        List<String> keyLines = lines.stream().filter(l -> !l.startsWith("#")).map(l -> l.substring(0, l.indexOf('='))).toList();
        assertEquals(List.copyOf(new TreeMap<>(settings).keySet()), keyLines, "keys sorted");
        Properties loaded = new Properties();
        try (Reader in = Files.newBufferedReader(file)) {
            loaded.load(in);
        }
        assertEquals(keys, loaded.stringPropertyNames());
        for (String key : keys) {
            assertEquals(settings.get(key), loaded.getProperty(key), key);
        }
        try (var listing = Files.list(file.getParent())) {
            assertEquals(1, listing.count(), "no temporary file left behind");
        }
        // The JDBC URL in the file connects.
        try (Connection c = java.sql.DriverManager.getConnection(loaded.getProperty("target.jdbc.url"),
                loaded.getProperty("target.user"), loaded.getProperty("target.password"))) {
            assertEquals("target", query(c, "SELECT current_database()"));
        }
    }

    private static HttpRequest get(String url) {
        return HttpRequest.newBuilder(URI.create(url)).GET().build();
    }

    private static HttpRequest post(String url, String body) {
        return HttpRequest.newBuilder(URI.create(url)).header("Content-Type", "application/vnd.schemaregistry.v1+json")
                .POST(HttpRequest.BodyPublishers.ofString(body)).build();
    }

    private static JsonNode expectError(HttpClient http, HttpRequest request, int status, int errorCode) throws Exception {
        HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
        assertEquals(status, response.statusCode(), response.body());
        assertEquals("application/vnd.schemaregistry.v1+json", response.headers().firstValue("Content-Type").orElse(""));
        JsonNode body = JSON.readTree(response.body());
        assertEquals(errorCode, body.get("error_code").asInt(), response.body());
        assertTrue(body.get("message").isTextual(), response.body());
        return body;
    }

    private static String query(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            assertTrue(rs.next(), sql);
            return rs.getString(1);
        }
    }
}

package dev.understudy.writer;

import dev.understudy.schemas.AvroSerializer;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.schemas.Topics;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.Future;
import java.util.function.Supplier;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

class ShadowWriterIT {
    private static final Logger log = LoggerFactory.getLogger(ShadowWriterIT.class);
    private static final String PREFIX = "understudy";
    private static final String USERS_TOPIC = Topics.newSchema(PREFIX, "public.users");
    private static final String ACCOUNTS_TOPIC = Topics.newSchema(PREFIX, "public.accounts");
    private static final String DLQ = Topics.deadLetter(PREFIX);
    private static final Schema KEY = KeySchemas.of("public", "users",
            List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
    private static final Schema VALUE = Contracts.load("users.avsc");
    private static final Instant CREATED = Instant.parse("2019-02-17T01:30:00.123456Z");

    private static KafkaClusterTestKit kafka;
    private static EmbeddedPostgres pg;
    private static KafkaProducer<byte[], byte[]> producer;
    /** Shared by the producing side and the writer, as a registry would be. */
    private static final InMemoryRegistryClient registry = new InMemoryRegistryClient();
    private static final AvroSerializer keySerializer = new AvroSerializer(registry, true);
    private static final AvroSerializer valueSerializer = new AvroSerializer(registry, false);

    @BeforeAll
    static void start() throws Exception {
        pg = TestPostgres.start();
        TestPostgres.execute(pg,
                "CREATE TABLE public.users (id bigint PRIMARY KEY, full_name text, email text NOT NULL, birthdate date, created_at timestamptz)",
                "CREATE TABLE public.accounts (id bigint PRIMARY KEY, full_name text, email text NOT NULL, birthdate date, created_at timestamptz)");
        kafka = new KafkaClusterTestKit.Builder(new TestKitNodes.Builder()
                .setCombined(true).setNumBrokerNodes(1).setNumControllerNodes(1).build())
                .setConfigProp("offsets.topic.replication.factor", "1")
                .setConfigProp("offsets.topic.num.partitions", "1")
                .setConfigProp("transaction.state.log.replication.factor", "1")
                .setConfigProp("transaction.state.log.min.isr", "1")
                .setConfigProp("group.initial.rebalance.delay.ms", "0")
                .setConfigProp("auto.create.topics.enable", "false")
                .build();
        kafka.format();
        kafka.startup();
        kafka.waitForReadyBrokers();
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(USERS_TOPIC, 3, (short) 1), new NewTopic(ACCOUNTS_TOPIC, 1, (short) 1),
                    new NewTopic(DLQ, 1, (short) 1))).all().get();
        }
        producer = new KafkaProducer<>(Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.LINGER_MS_CONFIG, 5),
                new ByteArraySerializer(), new ByteArraySerializer());
    }

    @AfterAll
    static void stop() throws Exception {
        if (producer != null) {
            producer.close();
        }
        if (kafka != null) {
            kafka.close();
        }
        if (pg != null) {
            pg.close();
        }
    }

    // ---------------------------------------------------------------------------------------------

    private static GenericRecord key(long id) {
        GenericRecord k = new GenericData.Record(KEY);
        k.put("id", id);
        return k;
    }

    private static GenericRecord row(long id, String name, String email) {
        GenericRecord v = new GenericData.Record(VALUE);
        v.put("id", id);
        v.put("full_name", name);
        v.put("email", email);
        v.put("birthdate", (int) (10_000 + id));
        v.put("created_at", ChronoUnit.MICROS.between(Instant.EPOCH, CREATED) + id);
        return v;
    }

    /** A record as the transform writes it: Avro key and value, ordering headers. */
    private static Future<RecordMetadata> send(String topic, long id, long version, String op, GenericRecord value) {
        return sendRaw(topic, keySerializer.serialize(topic, key(id)), value == null ? null : valueSerializer.serialize(topic, value),
                version, op);
    }

    private static Future<RecordMetadata> sendRaw(String topic, byte[] key, byte[] value, long version, String op) {
        RecordHeaders headers = new RecordHeaders();
        headers.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(version));
        headers.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(version));
        headers.add(ChangeHeaders.TX_ID, ChangeHeaders.encodeLong(700 + version % 1000));
        headers.add(ChangeHeaders.OP, op.getBytes(StandardCharsets.UTF_8));
        return producer.send(new ProducerRecord<>(topic, null, key, value, headers));
    }

    private static ShadowWriterConfig config(String group, String topic, String table) {
        return ShadowWriterConfig.of(kafka.bootstrapServers(), group, Map.of(topic, table), TestPostgres.jdbcUrl(pg),
                "postgres", "postgres", PREFIX).withRetryBackoff(Duration.ofMillis(100), Duration.ofSeconds(1));
    }

    private static void await(String what, Duration timeout, Callable<Boolean> condition, Supplier<String> state) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        while (!condition.call()) {
            if (System.nanoTime() > deadline) {
                fail("Timed out after " + timeout + " waiting for " + what + ": " + state.get());
            }
            Thread.sleep(50);
        }
    }

    private static long queryLong(String sql) throws Exception {
        try (Connection c = TestPostgres.connect(pg, true); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }

    private static String queryString(String sql) throws Exception {
        try (Connection c = TestPostgres.connect(pg, true); Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            return rs.next() ? rs.getString(1) : null;
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private static List<ConsumerRecord<byte[], byte[]>> readDeadLetters(int atLeast) throws Exception {
        List<ConsumerRecord<byte[], byte[]>> out = new ArrayList<>();
        try (KafkaConsumer<byte[], byte[]> c = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            TopicPartition tp = new TopicPartition(DLQ, 0);
            c.assign(List.of(tp));
            c.seekToBeginning(List.of(tp));
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (out.size() < atLeast && System.nanoTime() < deadline) {
                c.poll(Duration.ofMillis(200)).forEach(out::add);
            }
        }
        return out;
    }

    // ---------------------------------------------------------------------------------------------

    @Test
    void appliesTheStreamDeadLettersPoisonRecordsAndReplaysIdempotently() throws Exception {
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (long id = 1; id <= 5000; id++) {
            sent.add(send(USERS_TOPIC, id, 0, "r", row(id, "User " + id, "user" + id + "@example.com")));
        }
        for (long id = 1; id <= 500; id++) {
            sent.add(send(USERS_TOPIC, id, 1_000_000 + id, "u", row(id, "Updated " + id, "user" + id + "@example.com")));
        }
        for (long id = 4901; id <= 5000; id++) {
            sent.add(send(USERS_TOPIC, id, 2_000_000 + id, "d", null));
        }
        // A row the target refuses (email is NOT NULL there), a record that is not Avro at all, and a
        // good row after them.
        byte[] poisonValue = valueSerializer.serialize(USERS_TOPIC, row(6001, "No Mail", null));
        Future<RecordMetadata> poison = sendRaw(USERS_TOPIC, keySerializer.serialize(USERS_TOPIC, key(6001)), poisonValue, 3_000_000, "c");
        byte[] garbage = "{\"id\": 6002, \"json\": \"not avro\"}".getBytes(StandardCharsets.UTF_8);
        Future<RecordMetadata> undecodable = sendRaw(USERS_TOPIC, keySerializer.serialize(USERS_TOPIC, key(6002)), garbage, 3_000_001, "c");
        sent.add(poison);
        sent.add(undecodable);
        sent.add(send(USERS_TOPIC, 6003, 3_000_002, "c", row(6003, "Last", "last@example.com")));
        producer.flush();
        for (Future<RecordMetadata> f : sent) {
            f.get();
        }
        int total = sent.size();
        assertEquals(5603, total);

        long start = System.nanoTime();
        WriterMetrics m;
        try (ShadowWriter writer = new ShadowWriter(config("writer-it", USERS_TOPIC, "public.users"), registry).start()) {
            m = writer.metrics();
            await("all records committed", Duration.ofSeconds(90),
                    () -> m.recordsCommitted() >= total || writer.failure().isPresent(), m::toString);
            assertTrue(writer.failure().isEmpty(), () -> "writer failed: " + writer.failure().get());
            await("lag 0", Duration.ofSeconds(10), () -> m.lag() == 0, m::toString);
            log.info("Applied {} records in {} ms: {}", total, Duration.ofNanos(System.nanoTime() - start).toMillis(), m);
        }
        assertEquals(total, m.recordsCommitted());
        assertEquals(2, m.deadLettered());
        assertEquals(0, m.rowsStale());
        assertEquals(total - 2, m.rowsApplied() + m.rowsSuperseded(), m.toString());

        assertEquals(4901, queryLong("SELECT count(*) FROM public.users"));
        assertEquals(500, queryLong("SELECT count(*) FROM public.users WHERE id <= 500 AND full_name = 'Updated ' || id"));
        assertEquals(4400, queryLong("SELECT count(*) FROM public.users WHERE id BETWEEN 501 AND 4900 AND full_name = 'User ' || id"));
        assertEquals(0, queryLong("SELECT count(*) FROM public.users WHERE id BETWEEN 4901 AND 5000 OR id IN (6001, 6002)"));
        assertEquals("Last", queryString("SELECT full_name FROM public.users WHERE id = 6003"));
        assertEquals(0, queryLong("SELECT count(*) FROM public.users WHERE id <= 4900 AND (created_at <> '"
                + CREATED + "'::timestamptz + (id || ' microseconds')::interval OR birthdate <> DATE '1970-01-01' + (10000 + id)::int)"));

        List<ConsumerRecord<byte[], byte[]>> letters = readDeadLetters(2);
        assertEquals(2, letters.size());
        ConsumerRecord<byte[], byte[]> refused = letters.stream()
                .filter(r -> header(r, DeadLetterPublisher.SQLSTATE) != null).findFirst().orElseThrow();
        RecordMetadata poisonAt = poison.get();
        assertEquals("23502", header(refused, DeadLetterPublisher.SQLSTATE));
        assertEquals(USERS_TOPIC, header(refused, DeadLetterPublisher.TOPIC));
        assertEquals(String.valueOf(poisonAt.partition()), header(refused, DeadLetterPublisher.PARTITION));
        assertEquals(String.valueOf(poisonAt.offset()), header(refused, DeadLetterPublisher.OFFSET));
        assertEquals("3000000", header(refused, DeadLetterPublisher.VERSION));
        assertEquals("3000000", header(refused, DeadLetterPublisher.LSN));
        assertEquals("public.users", header(refused, DeadLetterPublisher.TABLE));
        assertEquals("{\"id\":6001}", header(refused, DeadLetterPublisher.KEY));
        assertTrue(header(refused, DeadLetterPublisher.ERROR).contains("email"), header(refused, DeadLetterPublisher.ERROR));
        assertTrue(Long.parseLong(header(refused, DeadLetterPublisher.FAILED_AT_MS)) > 0);
        assertArrayEquals(poisonValue, refused.value(), "the original bytes, replayable as they are");
        assertArrayEquals(keySerializer.serialize(USERS_TOPIC, key(6001)), refused.key());

        ConsumerRecord<byte[], byte[]> unreadable = letters.stream()
                .filter(r -> header(r, DeadLetterPublisher.SQLSTATE) == null).findFirst().orElseThrow();
        RecordMetadata undecodableAt = undecodable.get();
        assertNull(header(unreadable, DeadLetterPublisher.SQLSTATE));
        assertEquals(String.valueOf(undecodableAt.partition()), header(unreadable, DeadLetterPublisher.PARTITION));
        assertEquals(String.valueOf(undecodableAt.offset()), header(unreadable, DeadLetterPublisher.OFFSET));
        assertEquals("{\"id\":6002}", header(unreadable, DeadLetterPublisher.KEY));
        assertTrue(header(unreadable, DeadLetterPublisher.ERROR).toLowerCase().contains("deserialization"),
                header(unreadable, DeadLetterPublisher.ERROR));
        assertArrayEquals(garbage, unreadable.value());

        // Replaying the whole topic from the start (a new group) must change nothing: not one row is rewritten.
        String rowsBefore = queryString("SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM public.users u");
        String xminsBefore = queryString("SELECT md5(string_agg(id || ':' || xmin::text, ',' ORDER BY id)) FROM public.users");
        try (ShadowWriter replay = new ShadowWriter(config("writer-it-replay", USERS_TOPIC, "public.users"), registry).start()) {
            WriterMetrics r = replay.metrics();
            await("replay committed", Duration.ofSeconds(90),
                    () -> r.recordsCommitted() >= total || replay.failure().isPresent(), r::toString);
            assertTrue(replay.failure().isEmpty(), () -> "replay failed: " + replay.failure().get());
            assertEquals(0, r.rowsApplied(), r.toString());
            assertEquals(total - 2, r.rowsStale() + r.rowsSuperseded(), r.toString());
        }
        assertEquals(rowsBefore, queryString("SELECT md5(string_agg(u::text, ',' ORDER BY id)) FROM public.users u"));
        assertEquals(xminsBefore, queryString("SELECT md5(string_agg(id || ':' || xmin::text, ',' ORDER BY id)) FROM public.users"));
    }

    @Test
    void aRateLimitHoldsTheWriterBackAndAPauseStopsItInTheGroup() throws Exception {
        String topic = Topics.newSchema("throttle", "public.accounts");
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 1, (short) 1))).all().get();
        }
        try (ShadowWriter writer = new ShadowWriter(config("writer-it-throttle", topic, "public.accounts").withMaxBatchRecords(100), registry)) {
            writer.setMaxRecordsPerSecond(400);
            WriterMetrics m = writer.metrics();
            for (long id = 5001; id <= 6200; id++) {
                send(topic, id, id, "c", row(id, "Throttled " + id, "t" + id + "@example.com"));
            }
            producer.flush();
            writer.start();
            await("first records", Duration.ofSeconds(60), () -> m.recordsCommitted() > 0, m::toString);
            long first = System.nanoTime();
            Thread.sleep(1_500);
            double seconds = (System.nanoTime() - first) / 1e9;
            long committed = m.recordsCommitted();
            // An upper bound only (a slow machine commits less, never more): 400 records/s since the
            // first batch, plus the batch in hand when the count was read and the first one.
            assertTrue(committed <= 400 * seconds + 200, committed + " records in " + seconds + " s at 400 records/s");
            assertTrue(m.throttledMillis() > 0, m::toString);

            writer.setMaxRecordsPerSecond(0);
            await("the rest without a limit", Duration.ofSeconds(60), () -> m.recordsCommitted() >= 1200, m::toString);

            writer.pause();
            await("the pause", Duration.ofSeconds(30), m::paused, m::toString);
            long before = m.recordsCommitted();
            for (long id = 6201; id <= 6250; id++) {
                send(topic, id, id, "c", row(id, "Paused " + id, "p" + id + "@example.com"));
            }
            producer.flush();
            Thread.sleep(1_500);
            assertEquals(before, m.recordsCommitted(), "records applied while paused");
            assertTrue(writer.isRunning());
            writer.resume();
            await("the records sent during the pause", Duration.ofSeconds(60), () -> m.recordsCommitted() >= before + 50, m::toString);
            assertFalse(m.paused());

            // The same through the group's controls in the target, as `understudy throttle` sets them.
            try (Connection c = TestPostgres.connect(pg, true)) {
                WriterControl.write(c, "writer-it-throttle", new WriterBookkeeping.Control(true, null));
            }
            await("the pause from the control table", Duration.ofSeconds(30), m::paused, m::toString);
            long held = m.recordsCommitted();
            for (long id = 6251; id <= 6270; id++) {
                send(topic, id, id, "c", row(id, "Controlled " + id, "c" + id + "@example.com"));
            }
            producer.flush();
            Thread.sleep(1_500);
            assertEquals(held, m.recordsCommitted(), "records applied while paused by the control table");
            try (Connection c = TestPostgres.connect(pg, true)) {
                WriterControl.write(c, "writer-it-throttle", new WriterBookkeeping.Control(false, null));
            }
            await("the records sent during the controlled pause", Duration.ofSeconds(60), () -> m.recordsCommitted() >= held + 20,
                    m::toString);
        }
    }

    @Test
    void aKilledDatabaseConnectionIsRetriedWithoutLosingRecords() throws Exception {
        try (ShadowWriter writer = new ShadowWriter(config("writer-it-retry", ACCOUNTS_TOPIC, "public.accounts"), registry).start()) {
            WriterMetrics m = writer.metrics();
            for (long id = 1; id <= 10; id++) {
                send(ACCOUNTS_TOPIC, id, 10 + id, "c", row(id, "Account " + id, "a" + id + "@example.com"));
            }
            producer.flush();
            await("first rows", Duration.ofSeconds(60), () -> m.recordsCommitted() >= 10 || writer.failure().isPresent(), m::toString);

            try (Connection locker = TestPostgres.connect(pg, false); Statement s = locker.createStatement()) {
                // Hold the writer's next transaction on a lock, then kill its connection mid-statement.
                s.execute("LOCK TABLE public.accounts IN ACCESS EXCLUSIVE MODE");
                for (long id = 1; id <= 200; id++) {
                    send(ACCOUNTS_TOPIC, id, 1000 + id, id <= 10 ? "u" : "c", row(id, "Renamed " + id, "a" + id + "@example.com"));
                }
                producer.flush();
                String waiting = "SELECT pid FROM pg_stat_activity WHERE application_name = 'understudy-shadow-writer' "
                        + "AND wait_event_type = 'Lock' AND query ILIKE '%accounts%'";
                await("the writer waiting on the lock", Duration.ofSeconds(60), () -> queryString(waiting) != null, m::toString);
                long killed = queryLong("SELECT count(pg_terminate_backend(pid)) FROM (" + waiting + ") w");
                assertEquals(1, killed);
                locker.rollback();
            }
            await("all rows after the retry", Duration.ofSeconds(60),
                    () -> m.recordsCommitted() >= 210 || writer.failure().isPresent(), m::toString);
            assertTrue(writer.failure().isEmpty(), () -> "writer failed: " + writer.failure().get());
            assertTrue(m.retries() >= 1, m.toString());
        }
        assertEquals(200, queryLong("SELECT count(*) FROM public.accounts WHERE full_name = 'Renamed ' || id"));
    }

    @Test
    void aTableThatDoesNotExistStopsTheWriterWithAClearFailure() throws Exception {
        ShadowWriter writer = new ShadowWriter(config("writer-it-missing", ACCOUNTS_TOPIC, "public.missing_table"), registry).start();
        try {
            await("the writer to stop", Duration.ofSeconds(30), () -> !writer.isRunning() && writer.failure().isPresent(),
                    () -> "running=" + writer.isRunning());
            String message = writer.failure().get().getMessage();
            assertTrue(message.contains("public.missing_table") && message.contains("migrations"), message);
        } finally {
            writer.close();
        }
        assertFalse(writer.isRunning());
        assertTrue(Arrays.asList(writer.failure().get().getClass(), writer.failure().get().getCause().getClass())
                .contains(TableMappingException.class));
    }

    /**
     * Transaction boundaries: 300 source transactions of five new rows each (commit order t, rows
     * spread over three partitions) after 20 snapshot rows without a commit order. The test moves the
     * watermark; a reader of the target, one statement per read, must never find a transaction with
     * some but not all of its rows. The writer is closed while it holds transactions past the
     * watermark, and a new one (same group) must apply them once the watermark passes them: held
     * records are never lost, since stored positions stop at the first held one.
     */
    @Test
    void sourceTransactionsLandWholeAndHeldOnesSurviveARestart() throws Exception {
        String topic = Topics.newSchema(PREFIX, "public.txn_users");
        TestPostgres.execute(pg, "CREATE TABLE public.txn_users (id bigint PRIMARY KEY, full_name text, email text NOT NULL, "
                + "birthdate date, created_at timestamptz)");
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, kafka.bootstrapServers()))) {
            admin.createTopics(List.of(new NewTopic(topic, 3, (short) 1))).all().get();
            // KRaft brokers learn a new topic's leaders asynchronously: produce only once every partition has one.
            await("leaders for " + topic, Duration.ofSeconds(30), () -> admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic)
                    .partitions().stream().allMatch(p -> p.leader() != null && !p.leader().isEmpty()), () -> "no leader yet");
        }
        List<Future<RecordMetadata>> sent = new ArrayList<>();
        for (long id = 1; id <= 20; id++) {
            sent.add(sendRaw(topic, keySerializer.serialize(topic, key(id)),
                    valueSerializer.serialize(topic, row(id, "snapshot", "s@example.com")), 0, "r"));
        }
        int transactions = 300;
        for (long t = 1; t <= transactions; t++) {
            for (long i = 0; i < 5; i++) {
                long id = 1000 + t * 5 + i;
                RecordHeaders headers = new RecordHeaders();
                headers.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(id));
                headers.add(ChangeHeaders.COMMIT_ORDER, ChangeHeaders.encodeLong(t));
                headers.add(ChangeHeaders.OP, "c".getBytes(StandardCharsets.UTF_8));
                sent.add(producer.send(new ProducerRecord<>(topic, null, keySerializer.serialize(topic, key(id)),
                        valueSerializer.serialize(topic, row(id, "T" + t, "t" + t + "@example.com")), headers)));
            }
        }
        producer.flush();
        for (Future<RecordMetadata> f : sent) {
            f.get();
        }

        java.util.concurrent.atomic.AtomicLong watermark = new java.util.concurrent.atomic.AtomicLong(TransactionWatermark.NONE);
        java.util.concurrent.atomic.AtomicLong reads = new java.util.concurrent.atomic.AtomicLong();
        List<String> partial = java.util.Collections.synchronizedList(new ArrayList<>());
        java.util.concurrent.atomic.AtomicBoolean reading = new java.util.concurrent.atomic.AtomicBoolean(true);
        Thread reader = new Thread(() -> {
            try (Connection c = TestPostgres.connect(pg, true); Statement st = c.createStatement()) {
                while (reading.get()) {
                    try (ResultSet rs = st.executeQuery("SELECT string_agg(full_name || ':' || n, ',') FROM (SELECT full_name, count(*) n "
                            + "FROM public.txn_users WHERE full_name LIKE 'T%' GROUP BY full_name HAVING count(*) <> 5) x")) {
                        rs.next();
                        if (rs.getString(1) != null && partial.size() < 5) {
                            partial.add(rs.getString(1));
                        }
                    }
                    reads.incrementAndGet();
                }
            } catch (Exception e) {
                partial.add("reader failed: " + e);
            }
        }, "txn-reader");
        reader.start();
        String applied = "SELECT count(*) FROM public.txn_users WHERE full_name LIKE 'T%'";
        try {
            try (ShadowWriter writer = new ShadowWriter(config("writer-it-txn", topic, "public.txn_users"), registry)
                    .alignTransactions(watermark::get).start()) {
                WriterMetrics m = writer.metrics();
                await("the snapshot rows, and every transaction row held", Duration.ofSeconds(60),
                        () -> queryLong("SELECT count(*) FROM public.txn_users") == 20 && m.heldRecords() == 5L * transactions, m::toString);
                assertEquals(0, queryLong(applied), "nothing past the watermark is applied");

                watermark.set(50);
                await("transactions up to 50", Duration.ofSeconds(30), () -> queryLong(applied) == 250, m::toString);
                watermark.set(120);
                // The metrics follow the database commit (the batch's counts are added after it), so wait for them too.
                await("transactions up to 120", Duration.ofSeconds(30), () -> queryLong(applied) == 600
                        && m.appliedCommitOrder() == 120 && m.transactionsApplied() >= 120, m::toString);
                assertEquals(5L * (transactions - 120), m.heldRecords(), m.toString());
            }
            // Closed while holding transactions 121..300: a new writer of the group reads them again.
            assertEquals(600, queryLong(applied));
            assertEquals(120, queryLong("SELECT commit_order FROM " + WriterPositions.TRANSACTION_TABLE + " WHERE group_id = 'writer-it-txn'"));
            try (ShadowWriter writer = new ShadowWriter(config("writer-it-txn", topic, "public.txn_users"), registry)
                    .alignTransactions(watermark::get).start()) {
                WriterMetrics m = writer.metrics();
                await("held again after the restart", Duration.ofSeconds(60), () -> m.heldRecords() == 5L * (transactions - 120), m::toString);
                assertEquals(600, queryLong(applied));
                watermark.set(transactions);
                await("every transaction", Duration.ofSeconds(30), () -> queryLong(applied) == 5L * transactions && m.heldRecords() == 0,
                        m::toString);
                assertTrue(writer.failure().isEmpty(), () -> "writer failed: " + writer.failure().get());
                assertEquals(0, m.heldSpills());
            }
        } finally {
            reading.set(false);
            reader.join(10_000);
        }
        assertTrue(reads.get() > 20, "reads: " + reads.get());
        assertEquals(List.of(), partial, "a reader saw part of a transaction");
        assertEquals(20 + 5L * transactions, queryLong("SELECT count(*) FROM public.txn_users"));
    }
}

package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.internals.ComparisonProcessor;
import dev.understudy.transform.internals.ComparisonStoreNames;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.stream.Collectors;
import java.util.stream.IntStream;

import static dev.understudy.transform.Fixtures.PREFIX;
import static dev.understudy.transform.Fixtures.TIMESTAMP_MICROS;
import static dev.understudy.transform.Fixtures.nullable;
import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * {@link MigrationSeeds} against the stream itself: legacy snapshot reads piped through the migration
 * and then, as the expected side, through the comparison must leave in their stores exactly what the
 * seeds hold for the same rows. A loaded row's state is then indistinguishable from a streamed one's
 * when the applications start from the seeded changelogs.
 */
class MigrationSeedsTest {
    private static final String PEOPLE = "public.people";
    private static final String WITH_EMAIL = "public.people_with_email";
    private static final String USERS = UsersMapping.TARGET_TABLE;
    private static final long GENERATION = 4;
    private static final Map<String, Long> LINEAGES = Map.of(PEOPLE, 2L, WITH_EMAIL, 3L, USERS, 5L);
    private static final String MIGRATION_APP = Topics.migrationApplication(PREFIX, GENERATION);
    private static final String COMPARISON_APP = Topics.comparisonApplication(PREFIX);
    /** Partitions of the legacy topics and, a different count, of the new-schema topics: each seed must use its input topic's. */
    private static final int LEGACY_PARTITIONS = 3;
    private static final int NEW_SCHEMA_PARTITIONS = 5;
    private static final long SNAPSHOT_LSN = 0x1_6B37_4D48L;
    private static final long SNAPSHOT_TX = 771L;
    private static final long RECORD_TIME = Instant.parse("2030-01-01T00:00:00Z").toEpochMilli();
    private static final long CREATED_AT = 1_700_000_123_456_789L;
    /** Where the delete flag sits in an expected-source value: offset, lsn, generation, version, joined version (8 bytes each). */
    private static final int SOURCE_DELETE_FLAG = 5 * Long.BYTES;

    private static final Schema PEOPLE_ROW = SchemaBuilder.record("Value").namespace("understudy.public.people").fields()
            .name("id").type().optional().longType()
            .name("name").type().optional().stringType()
            .name("email").type().optional().stringType()
            .name("age_text").type().optional().stringType()
            .name("created_at").type(nullable(TIMESTAMP_MICROS)).withDefault(null)
            .endRecord();
    private static final Schema PEOPLE_ENVELOPE = ChangeEnvelope.of("public", "people", PEOPLE_ROW);
    private static final Schema PEOPLE_KEY = KeySchemas.of("public", "people",
            List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));

    /**
     * Two targets split from public.people: everything (renames, a default, a CEL expression and a
     * cast that nulls what it cannot convert), and the rows with an email (a filter) with a cast that
     * dead-letters instead.
     */
    private static final String SPEC = String.join("\n",
            "migration: v2.0_people",
            "flyway: \"2.0\"",
            "sources:",
            "  people: { table: public.people }",
            "targets:",
            "  people:",
            "    table: public.people",
            "    from: people",
            "    contract: people.avsc",
            "    key: [id]",
            "    columns:",
            "      id: { column: id }",
            "      full_name: { column: name }",
            "      email: { column: email }",
            "      tier: { default: \"standard\" }",
            "      name_upper: { expression: \"name == null ? name : name.upperAscii()\" }",
            "      age: { cast: { column: age_text, to: int, onFailure: null } }",
            "      created_at: { column: created_at }",
            "  with_email:",
            "    table: public.people_with_email",
            "    from: people",
            "    contract: people.avsc",
            "    key: [id]",
            "    filter: \"email != null\"",
            "    columns:",
            "      id: { column: id }",
            "      full_name: { column: name }",
            "      email: { column: email }",
            "      tier: { default: \"standard\" }",
            "      name_upper: { expression: \"name == null ? name : name.upperAscii()\" }",
            "      age: { cast: { column: age_text, to: int, onFailure: dead-letter } }",
            "      created_at: { column: created_at }",
            "");

    @TempDir
    Path dir;

    private InMemoryRegistryClient registry;
    private List<TableMapping> mappings;
    private TopologyTestDriver migration;
    private TopologyTestDriver comparison;

    /** A legacy row as read by the snapshot, with its key's bytes as on the legacy topic. */
    private record Input(String table, GenericRecord key, GenericRecord envelope, byte[] keyBytes) {
    }

    @BeforeEach
    void setUp() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/specs/people.avsc")) {
            Files.write(dir.resolve("people.avsc"), in.readAllBytes());
        }
        Path spec = dir.resolve("people.yaml");
        Files.writeString(spec, SPEC);
        registry = new InMemoryRegistryClient();
        List<TableMapping> all = new ArrayList<>(Migrations.fromSpec(spec));
        all.add(new UsersMapping());
        mappings = List.copyOf(all);
        migration = new TopologyTestDriver(PipelineTopology.migration(PREFIX, mappings, registry, GENERATION, LINEAGES),
                StreamsProperties.of(MIGRATION_APP, "unused:9092", dir.resolve("migration-state"), 1));
        comparison = new TopologyTestDriver(PipelineTopology.comparison(PREFIX, mappings, registry, ComparisonSettings.defaults()),
                StreamsProperties.of(COMPARISON_APP, "unused:9092", dir.resolve("comparison-state"), 1));
    }

    @AfterEach
    void tearDown() {
        if (migration != null) {
            migration.close();
        }
        if (comparison != null) {
            comparison.close();
        }
    }

    @Test
    void seedsHoldWhatTheStreamStoresForSnapshotReads() {
        List<Input> inputs = List.of(
                people(1, "Ada", "ada@example.com", " 36 ", CREATED_AT),
                // Nulls everywhere but the key: the expression's null branch, a null cast source.
                people(2, null, "nobody@example.com", null, null),
                // No email: the filtered target leaves it out.
                people(3, "Grace", null, "40", CREATED_AT + 1),
                // Cannot be cast: null by the unfiltered target's policy; the filtered target excludes it before casting.
                people(4, "Linus", null, "forty", CREATED_AT + 2),
                users(10, "Edsger", "ed@example.com", CREATED_AT),
                users(11, null, null, null));
        Set<Long> filtered = Set.of(3L, 4L);

        Map<String, List<TestRecord<byte[], byte[]>>> newSchema = streamThrough(inputs);
        MigrationSeeds seeds = new MigrationSeeds(PREFIX, MIGRATION_APP, COMPARISON_APP, mappings, registry, GENERATION, LINEAGES,
                MigrationSeedsTest::partitions);

        // The changelog topics, each named as Kafka Streams names a store's changelog and paired with
        // the input topic whose partitions it has.
        Map<String, String> expectedTopics = new LinkedHashMap<>();
        for (String table : List.of(PEOPLE, USERS)) {
            expectedTopics.put(MigrationSeeds.changelog(MIGRATION_APP, MigrationTopology.toastStoreName(table)), Topics.legacy(PREFIX, table));
        }
        for (TableMapping m : mappings) {
            ComparisonStoreNames stores = stores(m);
            expectedTopics.put(MigrationSeeds.changelog(COMPARISON_APP, stores.expected()), Topics.newSchema(PREFIX, m.targetTable()));
            expectedTopics.put(MigrationSeeds.changelog(COMPARISON_APP, stores.expectedSource()), Topics.newSchema(PREFIX, m.targetTable()));
        }
        assertEquals(expectedTopics, seeds.changelogTopics(), "changelog topics");
        assertEquals(List.of(PEOPLE, USERS), seeds.legacyTables());

        // Every seeded record, per changelog topic and key.
        Map<String, Map<Bytes, MigrationSeeds.StoreRecord>> seeded = new LinkedHashMap<>();

        // The migration's TOAST-fill store: every row's image, under its legacy key's JSON.
        for (String table : List.of(PEOPLE, USERS)) {
            KeyValueStore<String, byte[]> toast = migration.getKeyValueStore(MigrationTopology.toastStoreName(table));
            List<Input> ofTable = inputs.stream().filter(i -> i.table.equals(table)).toList();
            assertEquals(ofTable.size(), count(toast), "rows in the TOAST store of " + table);
            for (Input in : ofTable) {
                MigrationSeeds.StoreRecord image = seeds.image(table, in.key, in.envelope);
                String storeKey = KeyJson.encode(in.key);
                assertEquals(MigrationSeeds.changelog(MIGRATION_APP, MigrationTopology.toastStoreName(table)), image.topic());
                assertArrayEquals(storeKey.getBytes(StandardCharsets.UTF_8), image.key(), "image key " + storeKey);
                byte[] stored = toast.get(storeKey);
                assertNotNull(stored, "stream stored " + table + " " + storeKey);
                assertArrayEquals(stored, image.value(), "image of " + table + " " + storeKey);
                assertEquals(partition(in.keyBytes, LEGACY_PARTITIONS), image.partition(), "image partition of " + table + " " + storeKey);
                assertNull(seeded.computeIfAbsent(image.topic(), t -> new LinkedHashMap<>()).put(Bytes.wrap(image.key()), image));
            }
        }

        // The seeded rows and the comparison's records, per target store.
        Map<String, List<MigrationSeeds.TargetRow>> rowsByTarget = new LinkedHashMap<>();
        List<MigrationSeeds.StoreRecord> seededSources = new ArrayList<>();
        for (Input in : inputs) {
            MigrationSeeds.Seeded s = seeds.seed(in.table, in.key, in.envelope, RECORD_TIME);
            long readers = mappings.stream().filter(m -> m.sourceTable().equals(in.table)).count();
            assertEquals(readers, s.rows().size(), "one row per target reading " + in.table + " (no left keys for a first read)");
            for (MigrationSeeds.TargetRow r : s.rows()) {
                rowsByTarget.computeIfAbsent(r.mapping().targetTable(), t -> new ArrayList<>()).add(r);
                boolean excluded = r.mapping().targetTable().equals(WITH_EMAIL) && filtered.contains((Long) in.key.get("id"));
                assertEquals(excluded, r.row() == null, r.mapping().targetTable() + " row of " + KeyJson.encode(in.key));
            }
            for (MigrationSeeds.StoreRecord record : s.state()) {
                if (record.topic().endsWith("-expected-source-changelog")) {
                    seededSources.add(record);
                    continue;
                }
                MigrationSeeds.StoreRecord previous = seeded.computeIfAbsent(record.topic(), t -> new LinkedHashMap<>())
                        .put(Bytes.wrap(record.key()), record);
                assertNull(previous, "one record per key and store");
            }
        }

        for (TableMapping m : mappings) {
            String target = m.targetTable();
            ComparisonStoreNames stores = stores(m);
            List<TestRecord<byte[], byte[]>> out = newSchema.getOrDefault(target, List.of());
            List<MigrationSeeds.TargetRow> rows = rowsByTarget.get(target);
            assertEquals(out.size(), rows.size(), "rows of " + target);
            Map<Bytes, MigrationSeeds.StoreRecord> expected = seeded.getOrDefault(
                    MigrationSeeds.changelog(COMPARISON_APP, stores.expected()), Map.of());
            // The seeded expected records are the new-schema topic's rows, key and value bytes, in order.
            List<TestRecord<byte[], byte[]>> upserts = out.stream().filter(r -> r.value() != null).toList();
            assertEquals(upserts.stream().map(r -> Bytes.wrap(r.key())).toList(), List.copyOf(expected.keySet()),
                    "seeded expected keys of " + target);
            for (int i = 0; i < out.size(); i++) {
                MigrationSeeds.TargetRow row = rows.get(i);
                TestRecord<byte[], byte[]> record = out.get(i);
                assertArrayEquals(record.key(), AvroSerde.keys(registry).serializer()
                        .serialize(Topics.newSchema(PREFIX, target), row.key()), "target key " + i + " of " + target);
                assertEquals(record.value() == null, row.row() == null, "tombstone " + i + " of " + target);
                if (record.value() != null) {
                    assertArrayEquals(record.value(), expected.get(Bytes.wrap(record.key())).value(), "expected row " + i + " of " + target);
                }
            }

            // The comparison's expected store holds exactly the seeded rows.
            Map<Bytes, byte[]> streamExpected = contents(comparison.getKeyValueStore(stores.expected()));
            assertEquals(expected.keySet(), streamExpected.keySet(), "expected keys of " + target);
            for (Map.Entry<Bytes, MigrationSeeds.StoreRecord> e : expected.entrySet()) {
                assertArrayEquals(streamExpected.get(e.getKey()), e.getValue().value(), "expected value of " + target + " " + e.getKey());
            }

            // Expected-source: one record per partition, under a key no row has, with the source the
            // stream keeps for the first row but for the offset (a loaded row has none), where the
            // stream keeps one per row.
            String sourceChangelog = MigrationSeeds.changelog(COMPARISON_APP, stores.expectedSource());
            List<MigrationSeeds.StoreRecord> sources = seededSources.stream().filter(r -> r.topic().equals(sourceChangelog)).toList();
            assertEquals(IntStream.range(0, NEW_SCHEMA_PARTITIONS).boxed().toList(), sources.stream().map(MigrationSeeds.StoreRecord::partition).toList(),
                    "one seeded source per partition of " + target);
            Map<Bytes, byte[]> streamSource = contents(comparison.getKeyValueStore(stores.expectedSource()));
            byte[] firstStreamed = streamSource.get(Bytes.wrap(out.get(0).key()));
            assertEquals(0L, ByteBuffer.wrap(firstStreamed).getLong(), "the stream's offset of the first row of " + target);
            for (MigrationSeeds.StoreRecord r : sources) {
                assertArrayEquals(ComparisonProcessor.SEEDED_SOURCE_KEY.get(), r.key(), "seeded source key of " + target);
                assertEquals(-1L, ByteBuffer.wrap(r.value()).getLong(), "seeded offset of " + target);
                assertEquals(0, r.value()[SOURCE_DELETE_FLAG], "the seeded source is no delete's");
                assertArrayEquals(Arrays.copyOfRange(firstStreamed, Long.BYTES, firstStreamed.length),
                        Arrays.copyOfRange(r.value(), Long.BYTES, r.value().length), "expected-source after the offset, " + target);
                assertFalse(streamSource.containsKey(Bytes.wrap(r.key())), "the stream has no row under the seeded source's key");
            }

            // Every seeded record goes to the partition its key has on the new-schema topic.
            for (MigrationSeeds.StoreRecord r : expected.values()) {
                assertEquals(partition(r.key(), NEW_SCHEMA_PARTITIONS), r.partition(), "expected partition, " + target);
            }
        }
        assertEquals(List.of(3L, 4L), rowsByTarget.get(WITH_EMAIL).stream().filter(r -> r.row() == null)
                .map(r -> (Long) r.key().get("id")).toList(), "rows the filter excludes");

        // The same records as the stream's own changelog topics hold, key and value bytes, and without
        // headers (the seeds have none); expected-source apart (above).
        for (Map.Entry<String, Map<Bytes, MigrationSeeds.StoreRecord>> topic : seeded.entrySet()) {
            TopologyTestDriver driver = topic.getKey().startsWith(MIGRATION_APP + "-") ? migration : comparison;
            assertTrue(driver.producedTopicNames().contains(topic.getKey()), "the stream writes " + topic.getKey());
            Map<Bytes, TestRecord<byte[], byte[]>> logged = new LinkedHashMap<>();
            for (TestRecord<byte[], byte[]> r : driver.createOutputTopic(topic.getKey(), new ByteArrayDeserializer(),
                    new ByteArrayDeserializer()).readRecordsToList()) {
                assertFalse(r.headers().iterator().hasNext(), "no headers on " + topic.getKey());
                // Compacted: the last record of a key is its state, and a tombstone (the stream's delete
                // of an excluded row's expected row, which it never had) is none.
                if (r.value() == null) {
                    logged.remove(Bytes.wrap(r.key()));
                } else {
                    logged.put(Bytes.wrap(r.key()), r);
                }
            }
            assertEquals(topic.getValue().keySet(), logged.keySet(), "keys of " + topic.getKey());
            for (MigrationSeeds.StoreRecord r : topic.getValue().values()) {
                assertArrayEquals(logged.get(Bytes.wrap(r.key())).value(), r.value(), topic.getKey() + " " + Bytes.wrap(r.key()));
            }
        }

        // Not seeded: the stream also marks every expected row still without a target row as pending
        // (the comparison has read no target change yet), which the seeds leave to the first target
        // change of each key.
        for (TableMapping m : mappings) {
            KeyValueStore<Bytes, Long> pending = comparison.getKeyValueStore(stores(m).pending());
            assertEquals(seeded.getOrDefault(MigrationSeeds.changelog(COMPARISON_APP, stores(m).expected()), Map.of()).size(), count(pending),
                    "pending keys of " + m.targetTable());
            assertFalse(seeds.changelogTopics().containsKey(MigrationSeeds.changelog(COMPARISON_APP, stores(m).pending())));
        }
    }

    @Test
    void aJoinIsRefusedNamingItsTarget() throws IOException {
        for (String name : List.of("purchase_orders.yaml", "purchase_order_view.avsc")) {
            try (InputStream in = getClass().getResourceAsStream("/specs/" + name)) {
                Files.write(dir.resolve(name), in.readAllBytes());
            }
        }
        List<TableMapping> withJoin = new ArrayList<>(mappings);
        withJoin.addAll(Migrations.fromSpec(dir.resolve("purchase_orders.yaml")));
        assertTrue(withJoin.stream().anyMatch(m -> m instanceof JoinedTableMapping));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new MigrationSeeds(PREFIX, MIGRATION_APP,
                COMPARISON_APP, withJoin, registry, GENERATION, LINEAGES, MigrationSeedsTest::partitions));
        assertTrue(e.getMessage().contains("public.purchase_order_view"), e.getMessage());
    }

    /**
     * A row that one target of a split cannot map while the other can: the stream dead-letters it for
     * that target alone and keeps the other target's row; so do the seeds, the failing target being a
     * {@link MigrationSeeds.Failure} whose dead letter carries the row's legacy bytes.
     */
    @Test
    void aRowOneTargetCannotMapIsAFailureOfThatTargetAloneAsInTheStream() {
        // An email, so the filtered target casts 'n/a' and dead-letters it; the unfiltered target nulls it.
        Input in = people(5, "Alan", "alan@example.com", "n/a", CREATED_AT);
        Serializer<GenericRecord> values = AvroSerde.values(registry).serializer();
        String legacyTopic = Topics.legacy(PREFIX, PEOPLE);
        migration.createInputTopic(legacyTopic, new ByteArraySerializer(), new ByteArraySerializer())
                .pipeInput(in.keyBytes, values.serialize(legacyTopic, in.envelope), RECORD_TIME);
        List<TestRecord<byte[], byte[]>> streamDead = migration.createOutputTopic(Topics.deadLetter(PREFIX), new ByteArrayDeserializer(),
                new ByteArrayDeserializer()).readRecordsToList();
        assertEquals(1, streamDead.size(), "dead-lettered for " + WITH_EMAIL);
        List<TestRecord<byte[], byte[]>> people = migration.createOutputTopic(Topics.newSchema(PREFIX, PEOPLE),
                new ByteArrayDeserializer(), new ByteArrayDeserializer()).readRecordsToList();
        assertEquals(1, people.size(), "mapped for " + PEOPLE);
        assertTrue(migration.createOutputTopic(Topics.newSchema(PREFIX, WITH_EMAIL), new ByteArrayDeserializer(),
                new ByteArrayDeserializer()).isEmpty());

        MigrationSeeds seeds = new MigrationSeeds(PREFIX, MIGRATION_APP, COMPARISON_APP, mappings, registry, GENERATION, LINEAGES,
                MigrationSeedsTest::partitions);
        assertArrayEquals(migration.<String, byte[]>getKeyValueStore(MigrationTopology.toastStoreName(PEOPLE)).get(KeyJson.encode(in.key)),
                seeds.image(PEOPLE, in.key, in.envelope).value(), "the image is seeded whatever the mappings make of the row");
        MigrationSeeds.Seeded seeded = seeds.seed(PEOPLE, in.key, in.envelope, RECORD_TIME);
        assertEquals(List.of(PEOPLE), seeded.rows().stream().map(r -> r.mapping().targetTable()).toList(), "rows seeded");
        assertArrayEquals(people.get(0).value(), values.serialize(Topics.newSchema(PREFIX, PEOPLE), seeded.rows().get(0).row()));
        assertEquals(1, seeded.failures().size());
        MigrationSeeds.Failure failure = seeded.failures().get(0);
        assertEquals(WITH_EMAIL, failure.mapping().targetTable());
        assertTrue(failure.error().getMessage().contains("cannot convert 'n/a' to int"), failure.error().getMessage());
        MigrationSeeds.DeadLetter dead = seeds.deadLetter(PEOPLE, in.key, in.envelope, RECORD_TIME, failure);
        assertEquals(Topics.deadLetter(PREFIX), dead.topic());
        assertArrayEquals(streamDead.get(0).key(), dead.key(), "the dead letter's key: the legacy key bytes");
        assertArrayEquals(streamDead.get(0).value(), dead.value(), "the dead letter's value: the legacy envelope bytes");
    }

    private static ComparisonStoreNames stores(TableMapping m) {
        return ComparisonStoreNames.of(ComparisonTopology.nodeName(m));
    }

    /**
     * Pipes the snapshot reads through the migration, then its new-schema rows (with their headers)
     * through the comparison as the expected side; returns the new-schema records per target.
     */
    private Map<String, List<TestRecord<byte[], byte[]>>> streamThrough(List<Input> inputs) {
        Serializer<GenericRecord> values = AvroSerde.values(registry).serializer();
        Map<String, TestInputTopic<byte[], byte[]>> legacy = new LinkedHashMap<>();
        for (Input in : inputs) {
            String topic = Topics.legacy(PREFIX, in.table);
            legacy.computeIfAbsent(topic, t -> migration.createInputTopic(t, new ByteArraySerializer(), new ByteArraySerializer()))
                    .pipeInput(in.keyBytes, values.serialize(topic, in.envelope), RECORD_TIME);
        }
        assertTrue(migration.createOutputTopic(Topics.deadLetter(PREFIX), new ByteArrayDeserializer(), new ByteArrayDeserializer())
                .isEmpty(), "no dead letters");
        Map<String, List<TestRecord<byte[], byte[]>>> out = new LinkedHashMap<>();
        for (TableMapping m : mappings) {
            String topic = Topics.newSchema(PREFIX, m.targetTable());
            List<TestRecord<byte[], byte[]>> records = migration.createOutputTopic(topic, new ByteArrayDeserializer(),
                    new ByteArrayDeserializer()).readRecordsToList();
            out.put(m.targetTable(), records);
            TestInputTopic<byte[], byte[]> expected = comparison.createInputTopic(topic, new ByteArraySerializer(), new ByteArraySerializer());
            for (TestRecord<byte[], byte[]> r : records) {
                expected.pipeInput(new TestRecord<>(r.key(), r.value(), r.headers(), r.timestamp()));
            }
        }
        return out;
    }

    private static int partitions(String topic) {
        for (String table : List.of(PEOPLE, WITH_EMAIL, USERS)) {
            if (topic.equals(Topics.legacy(PREFIX, table))) {
                return LEGACY_PARTITIONS;
            }
            if (topic.equals(Topics.newSchema(PREFIX, table))) {
                return NEW_SCHEMA_PARTITIONS;
            }
        }
        throw new AssertionError("Partitions asked for " + topic + ", which no seeded store reads");
    }

    /** The partition the default partitioner gives the key bytes on a topic of {@code partitions} partitions. */
    private static int partition(byte[] keyBytes, int partitions) {
        return Utils.toPositive(Utils.murmur2(keyBytes)) % partitions;
    }

    private static <K, V> long count(KeyValueStore<K, V> store) {
        long n = 0;
        try (KeyValueIterator<K, V> it = store.all()) {
            while (it.hasNext()) {
                it.next();
                n++;
            }
        }
        return n;
    }

    private static Map<Bytes, byte[]> contents(KeyValueStore<Bytes, byte[]> store) {
        Map<Bytes, byte[]> out = new LinkedHashMap<>();
        try (KeyValueIterator<Bytes, byte[]> it = store.all()) {
            while (it.hasNext()) {
                KeyValue<Bytes, byte[]> e = it.next();
                out.put(e.key, e.value);
            }
        }
        return out;
    }

    private Input people(long id, String name, String email, String ageText, Long createdAt) {
        GenericData.Record key = new GenericData.Record(PEOPLE_KEY);
        key.put("id", id);
        GenericData.Record row = new GenericData.Record(PEOPLE_ROW);
        row.put("id", id);
        row.put("name", name);
        row.put("email", email);
        row.put("age_text", ageText);
        row.put("created_at", createdAt);
        return input(PEOPLE, key, Fixtures.envelope(PEOPLE_ENVELOPE, null, row, ChangeEnvelope.OP_READ, snapshotSource("people")));
    }

    private Input users(long id, String name, String email, Long createdAt) {
        return input(USERS, Fixtures.key(id), Fixtures.envelope(Fixtures.LEGACY_ENVELOPE, null, Fixtures.legacyRow(id, name, email, createdAt),
                ChangeEnvelope.OP_READ, snapshotSource("users")));
    }

    private Input input(String table, GenericRecord key, GenericRecord envelope) {
        return new Input(table, key, envelope, AvroSerde.keys(registry).serializer().serialize(Topics.legacy(PREFIX, table), key));
    }

    /** The source of a row read by the capture's snapshot: flagged, at the snapshot's LSN, with no commit order. */
    private static GenericRecord snapshotSource(String table) {
        GenericData.Record s = new GenericData.Record(Contracts.SOURCE);
        s.put("connector", "legacy");
        s.put("db", "legacy_db");
        s.put("schema", "public");
        s.put("table", table);
        s.put("lsn", SNAPSHOT_LSN);
        s.put("txId", SNAPSHOT_TX);
        s.put("tsMs", 1_700_000_000_000L);
        s.put("snapshot", true);
        s.put("commitOrder", null);
        return s;
    }
}

package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.internals.ComparisonProcessor;
import dev.understudy.transform.internals.ComparisonStoreNames;
import dev.understudy.transform.internals.DeadLetters;
import dev.understudy.transform.internals.MigrationProcessor;
import dev.understudy.transform.internals.ToastFillProcessor;
import dev.understudy.schemas.KeyJson;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Serializer;
import org.apache.kafka.common.utils.Utils;
import org.apache.kafka.streams.processor.api.Record;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToIntFunction;

/**
 * The state the migration and the comparison would hold after reading legacy rows from the stream,
 * for rows read outside it (a bulk load at an exported snapshot): each row's stored image (the
 * migration's {@code toast-prior-rows-<table>} store) and each target's expected row (the
 * comparison's {@code expected} store, and in its {@code expected-source} store the one source all
 * loaded rows share, once per partition), as records of those stores' changelog topics, plus the
 * target rows themselves, for the loader to write, and each row's record on its legacy topic, so
 * that the topic keeps the whole history a later generation re-reads.
 * <p>
 * Why changelogs: a Kafka Streams task that starts without local state restores each store from its
 * changelog topic, {@code <application.id>-<store>-changelog} (Kafka Streams docs, "Fault-tolerant
 * State Stores"), before it processes a record; so records written there before the application's
 * first start are state it starts from, with nothing re-read from the legacy topics. Each record goes
 * to the partition of the task that owns the key: the partition the default partitioner gives the
 * key bytes on the store's input topic (murmur2, as {@code BuiltInPartitioner.partitionForKey}).
 * <p>
 * Every value here is produced by the stream's own code, so a row maps exactly as it would in the
 * stream: {@link MigrationProcessor#migrate} for the target rows and their headers,
 * {@link ToastFillProcessor#snapshotRead} for the stored image, {@link ComparisonProcessor#seededSource}
 * for the expected row's source.
 * <p>
 * Not seeded: the comparison's pending keys. In the stream every expected row is pending until the
 * target capture delivers the writer's change of it; a loaded row has no writer change to wait for,
 * so it is compared when the target capture delivers the loaded row (its snapshot of the target),
 * and a difference is reported as usual. A row the load failed to write at all is therefore not
 * reported by the comparison, only by {@code understudy verify}, which compares the tables by SQL.
 * <p>
 * Single-table mappings only: a foreign-key join keeps state of
 * KIP-213's own making (subscriptions), which is not seeded here.
 */
public final class MigrationSeeds {
    /** One record of a store's changelog topic. */
    public record StoreRecord(String topic, int partition, byte[] key, byte[] value) {
    }

    /** A target row of a mapping, or {@code row == null} when the mapping leaves the legacy row out (its filter). */
    public record TargetRow(TableMapping mapping, GenericRecord key, GenericRecord row) {
    }

    /** A target that could not map the row: the stream dead-letters the row for this target alone. */
    public record Failure(TableMapping mapping, RuntimeException error) {
    }

    /** What one legacy row seeds: store records, the rows its targets hold, and the targets that could not map it. */
    public record Seeded(List<StoreRecord> state, List<TargetRow> rows, List<Failure> failures) {
    }

    private final String prefix;
    private final String migrationApplicationId;
    private final String comparisonApplicationId;
    private final Map<String, List<Target>> bySource = new LinkedHashMap<>();
    private final Serializer<GenericRecord> keys;
    private final Serializer<GenericRecord> values;
    private final ToIntFunction<String> partitions;

    /**
     * A target of a legacy table, with the names its seeds go to, built once: a topic name built per
     * row would be hashed again by every map it is looked up in (the producer's, the serializer's).
     */
    private record Target(TableMapping mapping, MigrationProcessor processor, ComparisonStoreNames stores, String newTopic,
                          String expectedChangelog, String expectedSourceChangelog) {
    }

    /** The legacy table's own names, built once for the same reason. */
    private record Source(String legacyTopic, String imageChangelog) {
    }

    private final Map<String, Source> sources = new LinkedHashMap<>();
    /** The expected-source changelogs this instance wrote the loaded rows' source to. */
    private final Set<String> sourcesSeeded = new HashSet<>();

    /**
     * @param comparisonApplicationId the comparison's application id, or null when the comparison
     *                                does not run on the new-schema topics (nothing is seeded for it)
     * @param partitions              partitions of a topic (the legacy and new-schema topics), as created
     * @throws IllegalArgumentException naming the target when a mapping is a join
     */
    public MigrationSeeds(String prefix, String migrationApplicationId, String comparisonApplicationId, List<TableMapping> mappings,
                          RegistryClient registry, long generation, Map<String, Long> lineages, ToIntFunction<String> partitions) {
        this.prefix = prefix;
        this.migrationApplicationId = migrationApplicationId;
        this.comparisonApplicationId = comparisonApplicationId;
        this.keys = AvroSerde.keys(registry).serializer();
        this.values = AvroSerde.values(registry).serializer();
        this.partitions = partitions;
        for (TableMapping m : mappings) {
            if (m instanceof JoinedTableMapping joined) {
                throw new IllegalArgumentException("Target " + m.targetTable() + " joins " + joined.joinedTable()
                        + ": a foreign-key join's state cannot be seeded, so its rows cannot be loaded outside the stream");
            }
            ChangeHeaders.Stamp stamp = new ChangeHeaders.Stamp(generation, lineages.getOrDefault(m.targetTable(), 0L));
            String legacyTopic = Topics.legacy(prefix, m.sourceTable());
            MigrationProcessor processor = new MigrationProcessor(m, registry, legacyTopic, Topics.deadLetter(prefix),
                    "unused-row-sink", "unused-dead-letter-sink", stamp);
            ComparisonStoreNames stores = ComparisonStoreNames.of(ComparisonTopology.nodeName(m));
            bySource.computeIfAbsent(m.sourceTable(), t -> new ArrayList<>()).add(new Target(m, processor, stores,
                    Topics.newSchema(prefix, m.targetTable()),
                    comparisonApplicationId == null ? null : changelog(comparisonApplicationId, stores.expected()),
                    comparisonApplicationId == null ? null : changelog(comparisonApplicationId, stores.expectedSource())));
            sources.computeIfAbsent(m.sourceTable(), t -> new Source(legacyTopic,
                    changelog(migrationApplicationId, MigrationTopology.toastStoreName(t))));
        }
    }

    /** The changelog topics the seeds go to, each with the topic whose partitions it must copy. */
    public Map<String, String> changelogTopics() {
        Map<String, String> out = new LinkedHashMap<>();
        for (Map.Entry<String, List<Target>> e : bySource.entrySet()) {
            out.put(changelog(migrationApplicationId, MigrationTopology.toastStoreName(e.getKey())), Topics.legacy(prefix, e.getKey()));
            if (comparisonApplicationId != null) {
                for (Target t : e.getValue()) {
                    String newTopic = Topics.newSchema(prefix, t.mapping.targetTable());
                    out.put(changelog(comparisonApplicationId, t.stores.expected()), newTopic);
                    out.put(changelog(comparisonApplicationId, t.stores.expectedSource()), newTopic);
                }
            }
        }
        return out;
    }

    /**
     * What the legacy row {@code key}/{@code envelope} of {@code legacyTable}, a snapshot read as the
     * capture makes it (op "r"), seeds. Each target maps the row on its own, as each migration
     * processor of the stream does: a target that cannot map it is a {@link Failure} (the stream
     * dead-letters the row for that target, {@link #deadLetter}), and the other targets still seed it.
     * The row's image in the migration's own store is {@link #image}, seeded whatever the targets do.
     *
     * @param timestamp the record timestamp the row would carry, ms
     * @throws FatalMappingException when a mapping says a failure must stop the migration
     *                               ({@code onFailure: fail}): the stream would stop at this row too
     */
    public Seeded seed(String legacyTable, GenericRecord key, GenericRecord envelope, long timestamp) {
        List<StoreRecord> state = new ArrayList<>();
        List<TargetRow> rows = new ArrayList<>();
        List<Failure> failures = new ArrayList<>();
        String legacyTopic = source(legacyTable).legacyTopic();
        for (Target t : targets(legacyTable)) {
            List<Record<Object, Object>> mapped;
            try {
                mapped = t.processor.migrate(key, envelope, new RecordHeaders(), timestamp, legacyTopic);
            } catch (FatalMappingException e) {
                throw e;
            } catch (RuntimeException e) {
                failures.add(new Failure(t.mapping, e));
                continue;
            }
            for (Record<Object, Object> r : mapped) {
                GenericRecord targetKey = (GenericRecord) r.key();
                GenericRecord row = (GenericRecord) r.value();
                rows.add(new TargetRow(t.mapping, targetKey, row));
                if (comparisonApplicationId != null) {
                    byte[] keyBytes = keys.serialize(t.newTopic, targetKey);
                    int partition = partition(keyBytes, t.newTopic);
                    if (row != null) {
                        state.add(new StoreRecord(t.expectedChangelog, partition, keyBytes, values.serialize(t.newTopic, row)));
                    }
                    if (sourcesSeeded.add(t.expectedSourceChangelog)) {
                        // The loaded rows' one source, in every partition's store, in place of a record
                        // per row (ComparisonProcessor.seededSource): each worker's seeds write it once.
                        Map.Entry<byte[], byte[]> source = ComparisonProcessor.seededSource(r.headers());
                        for (int p = 0; p < partitions.applyAsInt(t.newTopic); p++) {
                            state.add(new StoreRecord(t.expectedSourceChangelog, p, source.getKey(), source.getValue()));
                        }
                    }
                }
            }
        }
        return new Seeded(state, rows, failures);
    }

    /**
     * A row's image twice: as the record the capture's snapshot would have produced to the legacy
     * topic ({@code legacy}: the legacy key and envelope bytes, in the partition the capture's
     * producer would choose), and as the migration's stored image of the row ({@code stored}, its
     * TOAST-fill store), which every legacy row seeds whether or not a mapping can map it, as in the
     * stream.
     */
    public record Images(StoreRecord legacy, StoreRecord stored) {
    }

    /** The row's {@link Images}, its key and envelope serialized once for both. */
    public Images images(String legacyTable, GenericRecord key, GenericRecord envelope) {
        Source source = source(legacyTable);
        byte[] keyBytes = keys.serialize(source.legacyTopic(), key);
        byte[] envelopeBytes = values.serialize(source.legacyTopic(), envelope);
        int partition = partition(keyBytes, source.legacyTopic());
        return new Images(new StoreRecord(source.legacyTopic(), partition, keyBytes, envelopeBytes),
                new StoreRecord(source.imageChangelog(), partition, KeyJson.encode(key).getBytes(StandardCharsets.UTF_8),
                        ToastFillProcessor.snapshotRead(envelopeBytes)));
    }

    /** The migration's stored image of the row ({@link Images#stored}). */
    public StoreRecord image(String legacyTable, GenericRecord key, GenericRecord envelope) {
        return images(legacyTable, key, envelope).stored();
    }

    /** A dead letter, as the stream writes it to the dead-letter topic. */
    public record DeadLetter(String topic, byte[] key, byte[] value, Headers headers) {
    }

    /**
     * The dead letter of a legacy row that a target could not map ({@link Seeded#failures}): its legacy
     * key and envelope as on the legacy topic, with the dead-letter headers that target's migration
     * writes (no partition and offset: the row was read from the database, not the topic), so that it
     * can be replayed to the legacy topic like any other.
     *
     * @throws RuntimeException the failure's error itself when it is transient (the registry, say): no row's fault
     */
    public DeadLetter deadLetter(String legacyTable, GenericRecord key, GenericRecord envelope, long timestamp, Failure failure) {
        if (DeadLetters.isTransient(failure.error())) {
            throw failure.error();
        }
        String legacyTopic = Topics.legacy(prefix, legacyTable);
        byte[] keyBytes = keys.serialize(legacyTopic, key);
        Record<Object, Object> dead = DeadLetters.record(new Record<>(keyBytes, values.serialize(legacyTopic, envelope), timestamp,
                new RecordHeaders()), keyBytes, new DeadLetters.Where(legacyTopic, -1, -1L), failure.error());
        return new DeadLetter(Topics.deadLetter(prefix), (byte[]) dead.key(), (byte[]) dead.value(), dead.headers());
    }

    /** The legacy tables the mappings read. */
    public List<String> legacyTables() {
        return List.copyOf(bySource.keySet());
    }

    private List<Target> targets(String legacyTable) {
        List<Target> t = bySource.get(legacyTable);
        if (t == null) {
            throw new IllegalArgumentException("No mapping reads legacy table " + legacyTable + "; tables read: " + bySource.keySet());
        }
        return t;
    }

    private Source source(String legacyTable) {
        Source source = sources.get(legacyTable);
        if (source == null) {
            throw new IllegalArgumentException("No mapping reads legacy table " + legacyTable + "; tables read: " + bySource.keySet());
        }
        return source;
    }

    private int partition(byte[] keyBytes, String inputTopic) {
        return Utils.toPositive(Utils.murmur2(keyBytes)) % partitions.applyAsInt(inputTopic);
    }

    /** A store's changelog topic (Kafka Streams' naming, {@code ProcessorStateManager.storeChangelogTopic}). */
    public static String changelog(String applicationId, String store) {
        return applicationId + "-" + store + "-changelog";
    }
}

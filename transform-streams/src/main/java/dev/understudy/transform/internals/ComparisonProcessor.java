package dev.understudy.transform.internals;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ChangeOrder;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.WireFormat;
import dev.understudy.transform.ComparisonSettings;
import dev.understudy.transform.ComparisonTopology;
import dev.understudy.transform.TableMapping;
import dev.understudy.transform.WriterProgress;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.Deserializer;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.KeyValue;
import org.apache.kafka.streams.processor.PunctuationType;
import org.apache.kafka.streams.processor.api.ProcessorContext;
import org.apache.kafka.streams.processor.api.Record;
import org.apache.kafka.streams.state.KeyValueIterator;
import org.apache.kafka.streams.state.KeyValueStore;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Compares, per key, the expected row (new-schema topic) with the actual row (target change topic)
 * of one table, in one task. See {@link ComparisonTopology} for the outputs and the settle window.
 *
 * <p>State per key, in five stores: the expected row, the actual row, since when the key has
 * disagreed while not yet reported (pending), the divergence last reported (open), and where the
 * latest expected change came from (new-schema offset, source LSN, generation). A key is in
 * at most one of pending and open unless an open divergence changed state and the new state is
 * itself waiting out the settle window.
 *
 * <p>"Now" is {@link ProcessorContext#currentSystemTimeMs()}, the task's cached wall-clock time
 * (which the topology test driver mocks), so records and punctuations agree on the clock.
 */
public final class ComparisonProcessor extends DeadLetteringProcessor<Bytes, byte[]> {
    /** The one key of the store of the last target change read. */
    static final String ACTUAL_READ_KEY = "read";
    private static final Bytes ACTUAL_READ = Bytes.wrap(ACTUAL_READ_KEY.getBytes(java.nio.charset.StandardCharsets.UTF_8));

    /**
     * The key, in the expected-source store, of the source every row loaded outside the stream shares
     * ({@link #seededSource}). Not a key of any row: row keys are in the registry's wire format, whose
     * first byte is 0.
     */
    public static final Bytes SEEDED_SOURCE_KEY = Bytes.wrap("seeded".getBytes(java.nio.charset.StandardCharsets.UTF_8));

    /** The longest a task goes without publishing its drift counts. */
    public static final Duration DRIFT_HEARTBEAT = Duration.ofSeconds(5);
    private static final Logger log = LoggerFactory.getLogger(ComparisonProcessor.class);
    private static final Schema EVENT = Contracts.DIVERGENCE_EVENT;
    private static final Schema KIND = EVENT.getField("kind").schema();
    private static final Schema FIELDS = EVENT.getField("fields").schema();
    private static final Schema FIELD_DIFFERENCE = FIELDS.getElementType();

    private final TableMapping mapping;
    private final ComparisonSettings settings;
    private final ComparisonStoreNames storeNames;
    private final String expectedTopic;
    private final String actualTopic;
    private final String divergenceSink;
    private final String driftSink;
    private final Deserializer<GenericRecord> keys;
    private final Deserializer<GenericRecord> values;
    // Key schema ids already checked against the mapping's key schema.
    private final Set<Integer> checkedKeySchemaIds = new HashSet<>();

    private KeyValueStore<Bytes, byte[]> expected;
    private KeyValueStore<Bytes, byte[]> actual;
    private KeyValueStore<Bytes, Long> pending;
    private KeyValueStore<Bytes, byte[]> open;
    private KeyValueStore<Bytes, byte[]> expectedSource;
    private KeyValueStore<Bytes, Long> actualRead;
    /** The offset of the last target change this task read (its partition of the target topic), or -1. */
    private long actualReadOffset = -1L;
    private int partition;
    private long openCount;
    private long pendingCount;
    // Lower bound of the pending store's values: lets a punctuation skip the scan when no key can be
    // due yet. Never above the true minimum; recomputed by each scan.
    private long earliestPendingMs = Long.MAX_VALUE;
    private long lastDriftOpen = -1;
    private long lastDriftPending = -1;
    private long lastDriftAtMs; // the first punctuation always publishes: lastDriftOpen starts at -1

    ComparisonProcessor(TableMapping mapping, RegistryClient registry, ComparisonSettings settings,
                        ComparisonStoreNames storeNames, String expectedTopic, String actualTopic,
                        String deadLetterTopic, String divergenceSink, String driftSink, String deadLetterSink) {
        super("Comparison of " + mapping.targetTable(), deadLetterTopic, deadLetterSink);
        this.mapping = mapping;
        this.settings = settings;
        this.storeNames = storeNames;
        this.expectedTopic = expectedTopic;
        this.actualTopic = actualTopic;
        this.divergenceSink = divergenceSink;
        this.driftSink = driftSink;
        this.keys = AvroSerde.keys(registry).deserializer();
        this.values = AvroSerde.values(registry).deserializer();
    }

    @Override
    public void init(ProcessorContext<Object, Object> context) {
        super.init(context);
        this.expected = context.getStateStore(storeNames.expected());
        this.actual = context.getStateStore(storeNames.actual());
        this.pending = context.getStateStore(storeNames.pending());
        this.open = context.getStateStore(storeNames.open());
        this.expectedSource = context.getStateStore(storeNames.expectedSource());
        this.actualRead = context.getStateStore(storeNames.actualRead());
        Long read = actualRead.get(ACTUAL_READ);
        this.actualReadOffset = read == null ? -1L : read;
        this.partition = context.taskId().partition();
        // A task initialises its processors only once its stores are restored from their changelogs
        // (StreamTask#completeRestoration), so counting here sees the state left by the previous
        // owner of this partition. Counted exactly: approximateNumEntries is an estimate in RocksDB.
        try (KeyValueIterator<Bytes, byte[]> it = open.all()) {
            while (it.hasNext()) {
                it.next();
                openCount++;
            }
        }
        try (KeyValueIterator<Bytes, Long> it = pending.all()) {
            while (it.hasNext()) {
                earliestPendingMs = Math.min(earliestPendingMs, it.next().value);
                pendingCount++;
            }
        }
        // Wall-clock punctuation fires on system time whether or not records arrive (checked by the
        // stream thread between polls, so it can be late by up to a poll, never early).
        context.schedule(settings.punctuateInterval(), PunctuationType.WALL_CLOCK_TIME, this::punctuate);
    }

    @Override
    public void process(Record<Bytes, byte[]> record) {
        DeadLetters.Where where = DeadLetters.Where.of(context.recordMetadata(), expectedTopic);
        boolean isExpected = expectedTopic.equals(where.topic());
        if (!isExpected) {
            // Read, whatever becomes of it (a record that cannot be compared is dead-lettered below).
            readActual(where.offset());
        }
        Bytes key = record.key();
        try {
            if (key == null) {
                throw new MalformedChangeException("Record has no key; every row of " + mapping.targetTable()
                        + " must be keyed by its primary key");
            }
            checkKeySchema(where, key.get());
            if (isExpected) {
                Source source = Source.of(context.recordMetadata().map(m -> m.offset()).orElse(-1L), record.headers(),
                        record.value() == null);
                byte[] previous = expectedSource.get(key);
                if (previous != null && source.isBefore(Source.decode(previous))) {
                    // Older than the expected row already held: the writer drops it too (its guard
                    // applies only newer changes), so it says nothing about what the target should
                    // hold. Records of one target key can arrive out of order when several legacy rows
                    // hand the key over, each from its own partition.
                    return;
                }
                applyExpected(where, key, record.value());
                // For deletes too: the writer must have applied the delete before a row still in the
                // target counts as unexpected.
                expectedSource.put(key, source.encode());
            } else {
                applyActual(where, key, record.value());
            }
        } catch (RuntimeException e) {
            deadLetter(record, key == null ? null : key.get(), where, e);
            return;
        }
        evaluate(key, context.currentSystemTimeMs());
    }

    /** Records that this task read the target change at {@code offset}, unreadable ones too. */
    private void readActual(long offset) {
        if (offset > actualReadOffset) {
            actualReadOffset = offset;
            actualRead.put(ACTUAL_READ, offset);
        }
    }

    private void applyExpected(DeadLetters.Where where, Bytes key, byte[] value) {
        if (value == null) {
            expected.delete(key);
            return;
        }
        // Decoded now so that a record that cannot be read fails here, on its own coordinates, and not
        // later when the key is compared.
        Schema schema = values.deserialize(where.topic(), value).getSchema();
        String contract = mapping.targetValueSchema().getFullName();
        if (!schema.getFullName().equals(contract)) {
            throw new MalformedChangeException("Expected row is a " + schema.getFullName() + " record, not a " + contract
                    + " row of the contract for " + mapping.targetTable() + "; only the migration of that table may write to '"
                    + expectedTopic + "'");
        }
        expected.put(key, value);
    }

    private void applyActual(DeadLetters.Where where, Bytes key, byte[] value) {
        if (value == null) {
            // The tombstone that follows a delete event (Debezium's tombstones.on.delete).
            actual.delete(key);
            return;
        }
        GenericRecord envelope = values.deserialize(where.topic(), value);
        String op = Envelopes.op(envelope);
        if (ChangeEnvelope.OP_DELETE.equals(op)) {
            actual.delete(key);
        } else if (Envelopes.isUpsert(op)) {
            Envelopes.requiredAfter(envelope, op);
            actual.put(key, value);
        } else {
            throw Envelopes.unknownOp(op);
        }
    }

    /**
     * The key bytes of the two topics match only if both sides serialize the key with the same
     * schema; a target capture that builds its key differently would make every row look MISSING on
     * one key and UNEXPECTED on another. Checked once per schema id.
     */
    private void checkKeySchema(DeadLetters.Where where, byte[] key) {
        int id = WireFormat.schemaId(key, where.toString());
        if (checkedKeySchemaIds.contains(id)) {
            return;
        }
        Schema schema = keys.deserialize(where.topic(), key).getSchema();
        if (!schema.equals(mapping.targetKeySchema())) {
            throw new MalformedChangeException("Key schema " + schema + " (registry id " + id + ") differs from the key schema of "
                    + mapping.targetTable() + ", " + mapping.targetKeySchema() + "; keys of '" + expectedTopic + "' and '"
                    + actualTopic + "' must be built with KeySchemas.of(...) from the target primary key so that they are byte-identical");
        }
        checkedKeySchemaIds.add(id);
    }

    /** Re-evaluates a key after one of its sides changed. */
    private void evaluate(Bytes key, long now) {
        Divergence current = compare(key);
        byte[] openBytes = open.get(key);
        OpenDivergence reported = openBytes == null ? null : OpenDivergence.decode(openBytes);
        if (current == null) {
            clearPending(key);
            if (reported != null) {
                emit(key, new Divergence(Divergence.Kind.RESOLVED, List.of()), now, reported.openSinceMs());
                open.delete(key);
                openCount--;
            }
            return;
        }
        if (reported != null && reported.reported().equals(current)) {
            // Back to the state already reported: nothing new to report.
            clearPending(key);
            return;
        }
        if (pending.get(key) == null) {
            pending.put(key, now);
            pendingCount++;
            earliestPendingMs = Math.min(earliestPendingMs, now);
        }
    }

    private void punctuate(long now) {
        long settleMs = settings.settleWindow().toMillis();
        if (pendingCount > 0 && now - earliestPendingMs >= settleMs) {
            // Collect first, then update: writing to a store while iterating it is not safe for every
            // store implementation.
            List<KeyValue<Bytes, Long>> due = new ArrayList<>();
            long earliestRemaining = Long.MAX_VALUE;
            try (KeyValueIterator<Bytes, Long> it = pending.all()) {
                while (it.hasNext()) {
                    KeyValue<Bytes, Long> entry = it.next();
                    if (now - entry.value >= settleMs && applied(entry.key, entry.value, now, settleMs)) {
                        due.add(entry);
                    } else {
                        earliestRemaining = Math.min(earliestRemaining, entry.value);
                    }
                }
            }
            earliestPendingMs = earliestRemaining;
            for (KeyValue<Bytes, Long> entry : due) {
                promote(entry.key, entry.value, now);
            }
        }
        boolean changed = openCount != lastDriftOpen || pendingCount != lastDriftPending;
        if (changed || now - lastDriftAtMs >= DRIFT_HEARTBEAT.toMillis()) {
            emitDrift(now);
        }
    }

    /**
     * With the writer's progress: whether the writer applied the change behind the key's expected row,
     * the target capture delivered what it applied, this task has read the target topic that far, and
     * a settle window has passed since the delivery. Until then the key is in flight, however long that
     * takes: a slow writer, a lagging target capture and a lagging comparison all leave it pending.
     * A key with no expected change on record (a row only the target has, or state from before this
     * store existed) has nothing to wait for. Without the writer's progress (dual-write mode), true.
     */
    private boolean applied(Bytes key, long pendingSinceMs, long now, long settleMs) {
        WriterProgress progress = settings.writerProgress();
        if (progress == null) {
            return true;
        }
        byte[] sourceBytes = expectedSource.get(key);
        if (sourceBytes == null) {
            return true;
        }
        Source source = Source.decode(sourceBytes);
        if (source.offset() < 0) {
            return true;
        }
        long appliedAt = progress.appliedAtMs(expectedTopic, partition, source.offset());
        return appliedAt != WriterProgress.NOT_APPLIED && now - Math.max(pendingSinceMs, appliedAt) >= settleMs
                && actualReadOffset >= progress.targetOffsetAt(expectedTopic, partition, source.offset(), actualTopic);
    }

    /** Reports a key that stayed in disagreement for the whole settle window. */
    private void promote(Bytes key, long pendingSinceMs, long now) {
        clearPending(key);
        Divergence current = compare(key);
        byte[] openBytes = open.get(key);
        OpenDivergence reported = openBytes == null ? null : OpenDivergence.decode(openBytes);
        if (current == null) {
            // Every record re-evaluates its key and clears pending on agreement, so this is only
            // reached if that invariant breaks; resolve rather than leave a stale report.
            if (reported != null) {
                emit(key, new Divergence(Divergence.Kind.RESOLVED, List.of()), now, reported.openSinceMs());
                open.delete(key);
                openCount--;
            }
            return;
        }
        if (reported != null && reported.reported().equals(current)) {
            return;
        }
        // A key already open stays open since its first report; a new one since it first disagreed.
        long openSince = reported != null ? reported.openSinceMs() : pendingSinceMs;
        emit(key, current, now, openSince);
        open.put(key, new OpenDivergence(current, openSince).encode());
        if (reported == null) {
            openCount++;
        }
    }

    private void clearPending(Bytes key) {
        if (pending.get(key) != null) {
            pending.delete(key);
            pendingCount--;
        }
    }

    private Divergence compare(Bytes key) {
        byte[] expectedBytes = expected.get(key);
        byte[] actualBytes = actual.get(key);
        GenericRecord expectedRow = expectedBytes == null ? null : values.deserialize(expectedTopic, expectedBytes);
        GenericRecord actualRow = actualBytes == null ? null : Envelopes.after(values.deserialize(actualTopic, actualBytes));
        return Divergence.between(expectedRow, actualRow, mapping.targetValueSchema());
    }

    private void emit(Bytes key, Divergence divergence, long now, long openSinceMs) {
        String keyJson = KeyJson.encode(keys.deserialize(expectedTopic, key.get()));
        GenericData.Record event = new GenericData.Record(EVENT);
        event.put("table", mapping.targetTable());
        event.put("key", keyJson);
        event.put("kind", new GenericData.EnumSymbol(KIND, divergence.kind().name()));
        GenericData.Array<GenericRecord> fields = new GenericData.Array<>(divergence.fields().size(), FIELDS);
        for (Divergence.FieldDifference f : divergence.fields()) {
            GenericData.Record diff = new GenericData.Record(FIELD_DIFFERENCE);
            diff.put("name", f.name());
            diff.put("expected", f.expected());
            diff.put("actual", f.actual());
            fields.add(diff);
        }
        event.put("fields", fields);
        event.put("detectedAtMs", now);
        event.put("openSinceMs", openSinceMs);
        byte[] sourceBytes = expectedSource.get(key);
        // An expected row without a source of its own was loaded outside the stream, from the load's source.
        if (sourceBytes == null && expected.get(key) != null) {
            sourceBytes = expectedSource.get(SEEDED_SOURCE_KEY);
        }
        Source source = sourceBytes == null ? null : Source.decode(sourceBytes);
        event.put("sourceLsn", source == null || source.lsn() == Source.UNKNOWN ? null : source.lsn());
        event.put("generation", source == null ? 0L : source.generation());
        // Debug only: the divergence topic is the record of these; a lagging writer can open
        // thousands at once, which would flood the log.
        log.debug("{} {}: {} {} (open since {})", mapping.targetTable(), keyJson, divergence.kind(), divergence.fields(), openSinceMs);
        // A new Record carries only the headers it is given. Deriving it from the input record
        // (record.withKey/withValue) would carry the input's headers, the version and LSN of a row,
        // onto an event they do not describe.
        context.forward(new Record<>(mapping.targetTable() + " " + keyJson, event, now, new RecordHeaders()), divergenceSink);
    }

    private void emitDrift(long now) {
        GenericData.Record drift = new GenericData.Record(Contracts.DRIFT);
        drift.put("table", mapping.targetTable());
        drift.put("partition", partition);
        drift.put("open", openCount);
        drift.put("pending", pendingCount);
        drift.put("atMs", now);
        context.forward(new Record<>(mapping.targetTable() + "#" + partition, drift, now, new RecordHeaders()), driftSink);
        lastDriftOpen = openCount;
        lastDriftPending = pendingCount;
        lastDriftAtMs = now;
    }

    /**
     * The {@code expectedSource} store record, key and value, that stands for the source of every
     * expected row that reached the store without passing the new-schema topic (a row loaded into
     * the target and the store together, {@link dev.understudy.transform.MigrationSeeds}), given the
     * headers the migration gives such a row. Those rows share one source (the load's snapshot LSN,
     * version 0, the target's generation and lineage), so it is kept once per task rather than once
     * per row; without an own source record a loaded row is ordered and awaited as a row with this
     * source would be: every streamed change of it is newer than a snapshot read, and with no
     * new-schema offset {@link #applied} has nothing to wait for. Divergence events of such a row
     * report this source.
     */
    public static Map.Entry<byte[], byte[]> seededSource(Headers headers) {
        return Map.entry(SEEDED_SOURCE_KEY.get(), Source.of(-1L, headers, false).encode());
    }

    /**
     * Where an expected change came from: its new-schema offset, its source LSN and generation, and
     * its order for the writer ({@link ChangeOrder}, from the headers). Stored values written before
     * the order was kept decode without one, and any change counts as newer.
     */
    record Source(long offset, long lsn, long generation, ChangeOrder order) {
        static final long UNKNOWN = Long.MIN_VALUE;

        static Source of(long offset, Headers headers, boolean delete) {
            ChangeOrder order = ChangeOrder.of(headers, delete);
            return new Source(offset, ChangeHeaders.getLong(headers, ChangeHeaders.LSN, UNKNOWN), order.generation(),
                    order.version() == UNKNOWN ? null : order);
        }

        /**
         * Whether this change is older than {@code other}, so the writer drops it after {@code other}.
         * Without a version on either side nothing can be ordered, and the later record counts, as in
         * the writer's collapse of a batch.
         */
        boolean isBefore(Source other) {
            return order != null && other.order != null && order.compareTo(other.order) < 0;
        }

        byte[] encode() {
            ByteBuffer b = ByteBuffer.allocate(3 * Long.BYTES + (order == null ? 0 : 3 * Long.BYTES + 1))
                    .putLong(offset).putLong(lsn).putLong(generation);
            if (order != null) {
                b.putLong(order.version()).putLong(order.joinedVersion()).put((byte) (order.delete() ? 1 : 0)).putLong(order.lineage());
            }
            return b.array();
        }

        /** Reads {@link #encode}'s bytes; values stored before lineages existed end after the delete flag (lineage 0). */
        static Source decode(byte[] bytes) {
            ByteBuffer b = ByteBuffer.wrap(bytes);
            long offset = b.getLong();
            long lsn = b.getLong();
            long generation = b.getLong();
            ChangeOrder order = null;
            if (b.remaining() >= 2 * Long.BYTES + 1) {
                long version = b.getLong();
                long joinedVersion = b.getLong();
                boolean delete = b.get() == 1;
                long lineage = b.remaining() >= Long.BYTES ? b.getLong() : 0L;
                order = new ChangeOrder(lineage, version, joinedVersion, generation, delete);
            }
            return new Source(offset, lsn, generation, order);
        }
    }
}

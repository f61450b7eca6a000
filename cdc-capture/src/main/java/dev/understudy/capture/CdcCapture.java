package dev.understudy.capture;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.understudy.schemas.AvroSerializer;
import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.schemas.PausePoints;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.SerdeConfig;
import dev.understudy.schemas.Topics;
import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.connect.data.Field;
import org.apache.kafka.connect.data.Struct;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.BiConsumer;

/**
 * Tails one PostgreSQL database's WAL with Debezium Embedded (pgoutput): an initial snapshot, then
 * streaming. Each row change becomes one Avro change event on {@code <prefix>.<family>.<schema>.<table>},
 * keyed by primary key.
 * <p>
 * Delivery: a batch handed over by Debezium is produced to Kafka, then flushed, and only when every
 * record of it has been acknowledged are its records marked processed. Debezium commits source
 * offsets (to a Kafka topic) only for processed records, so after a crash capture resumes at or
 * before the first unacknowledged change: changes may repeat, never vanish. Downstream stages are
 * idempotent for exactly that reason.
 * <p>
 * Incremental snapshots ({@link #requestIncrementalSnapshot(List)}) re-read tables while streaming
 * goes on, for tables added to the capture after its initial snapshot or whose topics lost history
 * to retention. They go through Debezium's source signalling channel: the capture's signal table
 * ({@link CaptureSettings#signalTable()}) is created at start, and it and every captured table are
 * added to the publication before the engine starts (see {@link SourceDatabase#addMissingTablesToPublication()}),
 * so a capture restarted with an added table streams every change to it committed after
 * {@link #start()}. The signal table's own changes (the request and the watermark rows Debezium
 * writes around every chunk) are never produced to Kafka.
 * <p>
 * Commit announcements ({@link CaptureSettings#commitsTopic()}): with Debezium's transaction metadata
 * on, an END record follows the last change of each transaction in the queue. Once Kafka acknowledged
 * the batch holding it, the capture produces that transaction's commit order (the value every one of
 * its changes carries, {@code source.commitOrder}) to the commits topic. Transactions reach the queue
 * in commit order (pgoutput sends each at its COMMIT), so an announced commit order also says that every
 * earlier transaction is complete in Kafka. Downstream, that is how the writer knows when all rows of a
 * legacy transaction can be applied together.
 */
public final class CdcCapture implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CdcCapture.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private final CaptureSettings settings;
    private final KafkaProducer<GenericRecord, GenericRecord> producer;
    private final ChangeEventConverter converter;
    private final CaptureMetrics metrics = new CaptureMetrics();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private volatile DebeziumEngine<RecordChangeEvent<SourceRecord>> engine;
    private final ExecutorService executor;
    private final SourceDatabase source;
    private final IncrementalSnapshotTracker incrementalSnapshot = new IncrementalSnapshotTracker();
    /** Why incremental snapshots cannot be requested, or null when they can. */
    private volatile String signalUnavailable;
    private volatile boolean started;
    /** False once {@link #exportStartingPoint()} fixed the starting point: the rows are read elsewhere. */
    private volatile boolean snapshotData = true;
    private volatile boolean closed;
    /** Producer of the changes the capture cannot convert, to the dead-letter topic. */
    private final KafkaProducer<byte[], byte[]> deadLetters;
    /** Producer of commit announcements, or null when the settings name no commits topic. */
    private final KafkaProducer<byte[], byte[]> commits;
    /** Commit order of the last streamed change handed over (engine thread only). */
    private long lastCommitOrder = Long.MIN_VALUE;
    /** Highest commit order announced (engine thread only). */
    private long announced = Long.MIN_VALUE;
    /** A captured table whose changes are handed to {@link #observer} instead of Kafka, or null. */
    private String observedTable;
    private BiConsumer<GenericRecord, Map<TopicPartition, Long>> observer;
    /** The highest offset acknowledged per partition this capture produced to (engine thread only). */
    private final Map<TopicPartition, Long> produced = new HashMap<>();

    public CdcCapture(CaptureSettings settings, RegistryClient registry) {
        this.settings = settings;
        // Row schemas derive from the captured tables, so nobody can register them beforehand: capture
        // always registers them (the registry still enforces the subject's compatibility level), and
        // always writes with the table's current schema.
        SerdeConfig own = registry.serdeConfig();
        registry = registry.withSerdeConfig(new SerdeConfig(own.subjectNameStrategy(), true, false));
        this.converter = new ChangeEventConverter(settings.name());
        this.source = new SourceDatabase(settings);
        this.signalUnavailable = settings.signalTable() == null ? "capture '" + settings.name() + "' has no signal table configured" : null;
        this.producer = new KafkaProducer<>(producerProperties(settings),
                new AvroSerializer(registry, true), new AvroSerializer(registry, false));
        this.deadLetters = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers(),
                ProducerConfig.CLIENT_ID_CONFIG, "understudy-capture-dlq-" + settings.name(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true),
                new ByteArraySerializer(), new ByteArraySerializer());
        this.commits = settings.commitsTopic() == null ? null : new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers(),
                ProducerConfig.CLIENT_ID_CONFIG, "understudy-capture-commits-" + settings.name(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, 0),
                new ByteArraySerializer(), new ByteArraySerializer());

        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "understudy-capture-" + settings.name());
            t.setDaemon(true);
            return t;
        });
    }

    /**
     * The change-event producer's properties: every send acknowledged by all in-sync replicas and
     * idempotent, since a batch's offsets are committed only after its acknowledgements (see above);
     * batching and compression from the capture's tunables ({@link CaptureConfig}).
     */
    static Map<String, Object> producerProperties(CaptureSettings settings) {
        CaptureConfig config = settings.config();
        return Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers(),
                ProducerConfig.CLIENT_ID_CONFIG, "understudy-capture-" + settings.name(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, config.producerLingerMs(),
                ProducerConfig.BATCH_SIZE_CONFIG, config.producerBatchSize(),
                ProducerConfig.COMPRESSION_TYPE_CONFIG, config.producerCompressionType());
    }

    /**
     * Hands the row images of {@code table}'s changes (inserts, updates, snapshot reads) to
     * {@code observer} instead of producing them to Kafka, each once Kafka acknowledged the batch that
     * carried it, on the capture's thread, with the highest offset acknowledged so far in every
     * partition the capture produced to. Every change the database logged before it is then in Kafka
     * at or below those offsets, since pgoutput sends transactions in commit order and changes within
     * one in WAL order: an observed row written in the same transaction as other captured rows says
     * those rows are delivered, and where. The table must be one of the captured tables. Before
     * {@link #start()}.
     */
    public CdcCapture observing(String table, BiConsumer<GenericRecord, Map<TopicPartition, Long>> observer) {
        if (!settings.tables().contains(table)) {
            throw new IllegalArgumentException("Capture '" + settings.name() + "' observes " + table + ", which it does not capture; "
                    + "add it to the captured tables " + settings.tables());
        }
        this.observedTable = table;
        this.observer = observer;
        return this;
    }

    /**
     * Starts {@link #produced} at the ends of the topics an earlier run of this capture produced to, so
     * that the first positions observed after a restart also cover what that run delivered (a reader
     * that had not read it yet is still behind).
     */
    private void seedProduced() {
        List<String> topics = new ArrayList<>();
        for (String table : settings.tables()) {
            if (!table.equals(observedTable)) {
                topics.add(settings.debeziumTopicPrefix() + "." + table);
            }
        }
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers()))) {
            Set<String> existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            topics.retainAll(existing);
            if (topics.isEmpty()) {
                return;
            }
            Map<TopicPartition, OffsetSpec> latest = new HashMap<>();
            admin.describeTopics(topics).allTopicNames().get(30, TimeUnit.SECONDS).forEach((topic, d) -> d.partitions()
                    .forEach(p -> latest.put(new TopicPartition(topic, p.partition()), OffsetSpec.latest())));
            admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS).forEach((tp, info) -> {
                if (info.offset() > 0) {
                    produced.put(tp, info.offset() - 1);
                }
            });
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            // Only the first observed positions after this start lose that bound; later ones carry their own.
            LOG.warn("Capture '{}': could not read the ends of its topics {}: {}", settings.name(), topics, e.toString());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /**
     * Makes the point from which this capture, not yet started, will stream: its publication (created
     * when missing, {@link SourceDatabase#createPublicationIfMissing}) and then its replication slot,
     * created with an exported snapshot ({@link ExportedSnapshot}). The capture then starts without
     * a snapshot of its own (Debezium's {@code snapshot.mode=no_data}): Debezium streams from an existing
     * slot's confirmed position when it has no offsets (PostgresReplicationConnection, the default
     * starting position), which for a new slot is its consistent point. Rows read at the returned
     * snapshot plus what this capture streams are each table's history, nothing missed and nothing
     * twice. The caller closes the snapshot once it has read what it needs, before or after {@link #start()}.
     *
     * @throws SQLException naming the slot when it exists already (see {@link ExportedSnapshot#create})
     */
    public ExportedSnapshot exportStartingPoint() throws SQLException {
        if (started) {
            throw new IllegalStateException("Capture '" + settings.name() + "' has started already; its starting point is fixed");
        }
        if (settings.signalTable() != null) {
            try {
                source.createSignalTable();
            } catch (SQLException e) {
                LOG.warn("Capture '{}': could not create its signal table before exporting a snapshot: {}", settings.name(), e.getMessage());
            }
        }
        source.createPublicationIfMissing();
        ExportedSnapshot snapshot = ExportedSnapshot.create(settings.jdbcUrl(), settings.user(), settings.password() == null ? ""
                : settings.password(), settings.slotName(), "pgoutput");
        streamOnly();
        LOG.info("Capture '{}': created {}; it will stream from there, without a snapshot of its own", settings.name(), snapshot);
        return snapshot;
    }

    /**
     * Starts this capture, when it starts, without a snapshot of its own ({@code snapshot.mode=no_data}):
     * for a slot whose rows were read elsewhere at its exported snapshot ({@link #exportStartingPoint()})
     * and whose capture has no offsets yet. It streams from the slot's confirmed position.
     */
    public CdcCapture streamOnly() {
        if (started) {
            throw new IllegalStateException("Capture '" + settings.name() + "' has started already");
        }
        snapshotData = false;
        return this;
    }

    public CdcCapture start() {
        if (settings.signalTable() != null) {
            // Before the publication is completed below and before the engine starts (whose table filter
            // for the publication only takes tables that exist).
            try {
                source.createSignalTable();
            } catch (SQLException e) {
                // Capture itself does not need the table (e.g. a user without CREATE on the schema), so it
                // goes on; only incremental snapshots are unavailable, and say why when requested.
                signalUnavailable = "the signal table " + settings.signalTable() + " could not be created on " + settings.jdbcUrl()
                        + ": " + e.getMessage() + "; create it as " + Signals.SIGNAL_COLUMNS + " and restart the capture";
                LOG.warn("Capture '{}': incremental snapshots unavailable: {}", settings.name(), signalUnavailable);
            }
        }
        try {
            source.addMissingTablesToPublication();
        } catch (SQLException e) {
            // Not fatal here: the engine updates the publication itself when it starts (or fails with its
            // own message); only changes committed before it does may then be missed.
            LOG.warn("Capture '{}': could not add missing tables to publication {}: {}", settings.name(), settings.publication(),
                    e.getMessage());
        }
        if (observer != null) {
            seedProduced();
        }
        Properties properties = settings.debeziumProperties();
        try {
            if (snapshotData) {
                properties.putAll(source.snapshotOverrides());
            } else {
                properties.setProperty("snapshot.mode", "no_data");
            }
        } catch (SQLException e) {
            // Without them the snapshot reads dates through JDBC, which shifts the ten days 1582-10-05..14.
            LOG.warn("Capture '{}': could not read the captured tables' columns for the snapshot's date overrides: {}",
                    settings.name(), e.getMessage());
        }
        if (signalUnavailable != null && settings.heartbeatTable() != null) {
            // No heartbeat table either (created with the signal table): Debezium would fail at its first
            // heartbeat query. The slot then only advances with changes to the captured tables.
            properties.remove("heartbeat.action.query");
            properties.setProperty("table.include.list", String.join(",", settings.tables()));
        }
        this.engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
                .using(properties)
                .notifying(this::handleBatch)
                .using((success, message, error) -> {
                    if (!success && !closed) {
                        Throwable t = error != null ? error : new IllegalStateException(message);
                        failure.compareAndSet(null, t);
                        LOG.error("Capture '{}' of {} stopped: {}", settings.name(), settings.jdbcUrl(), message, error);
                    }
                })
                .build();
        started = true;
        executor.execute(engine);
        return this;
    }

    /**
     * Asks Debezium for an incremental snapshot of {@code tables} (schema-qualified, each captured by
     * this capture): inserts an execute-snapshot signal into the signal table. Debezium reads it from the
     * WAL and re-reads the tables in primary-key chunks while streaming continues; the rows arrive on the
     * tables' topics as reads ({@code op = "r"}, {@code source.snapshot = true}) interleaved with streamed
     * changes, de-duplicated against changes made while a chunk was read. Progress:
     * {@link #incrementalSnapshot()}.
     *
     * @return the signal's id
     * @throws IllegalArgumentException when {@code tables} is empty or names a table this capture does not capture
     * @throws IllegalStateException    when the capture has no usable signal table, is not started, or the insert fails
     */
    public String requestIncrementalSnapshot(List<String> tables) {
        if (!started || closed) {
            throw new IllegalStateException("Capture '" + settings.name() + "' is " + (closed ? "closed" : "not started")
                    + "; request incremental snapshots of a running capture");
        }
        return requestIncrementalSnapshot(tables, Map.of());
    }

    /**
     * Asks, before this stream-only capture starts ({@link #streamOnly()}), for an incremental
     * snapshot of the rows of each table of {@code filters} where its filter holds (a SQL condition
     * on the table, Debezium's {@code additional-conditions}). The signal is committed now, so it is
     * in the WAL ahead of anything the capture will confirm: however the process ends, a capture
     * that streams from the slot's position reads the signal and takes the snapshot. Progress:
     * {@link #incrementalSnapshot()}.
     *
     * @return the signal's id
     */
    public String requestIncrementalSnapshotBeforeStart(Map<String, String> filters) {
        if (started) {
            throw new IllegalStateException("Capture '" + settings.name() + "' has started already");
        }
        if (settings.signalTable() == null) {
            throw new IllegalStateException("Capture '" + settings.name() + "' has no signal table, so it cannot take incremental snapshots");
        }
        try {
            source.createSignalTable();
        } catch (SQLException e) {
            throw new IllegalStateException("Capture '" + settings.name() + "' cannot create its signal table " + settings.signalTable()
                    + " on " + settings.jdbcUrl() + ": " + e.getMessage() + "; create it as " + Signals.SIGNAL_COLUMNS + " and start again", e);
        }
        return requestIncrementalSnapshot(new ArrayList<>(filters.keySet()), filters);
    }

    private String requestIncrementalSnapshot(List<String> tables, Map<String, String> filters) {
        if (tables == null || tables.isEmpty()) {
            throw new IllegalArgumentException("Name at least one table to snapshot; capture '" + settings.name()
                    + "' captures " + settings.tables());
        }
        List<String> requested = new ArrayList<>();
        for (String t : tables) {
            String table = t == null ? null : t.trim();
            if (table == null || !settings.tables().contains(table)) {
                throw new IllegalArgumentException("Table '" + t + "' is not captured by capture '" + settings.name()
                        + "', so it cannot be snapshotted incrementally; captured tables: " + settings.tables()
                        + ". Add it to the capture's tables and restart the capture first");
            }
            if (!requested.contains(table)) {
                requested.add(table);
            }
        }
        if (signalUnavailable != null) {
            throw new IllegalStateException("Capture '" + settings.name() + "' cannot run incremental snapshots: " + signalUnavailable);
        }
        Map<String, Long> estimates;
        try {
            estimates = source.estimatedRows(requested);
        } catch (SQLException e) {
            LOG.warn("Capture '{}': no row estimates for {}: {}", settings.name(), requested, e.getMessage());
            estimates = Map.of();
        }
        String id;
        try {
            id = source.requestIncrementalSnapshot(requested, filters);
        } catch (SQLException e) {
            throw new IllegalStateException("Capture '" + settings.name() + "' could not insert the execute-snapshot signal into "
                    + settings.signalTable() + " on " + settings.jdbcUrl() + ": " + e.getMessage(), e);
        }
        incrementalSnapshot.requested(id, requested, estimates, System.currentTimeMillis());
        LOG.info("Capture '{}' requested an incremental snapshot of {} (signal {}, estimated rows {})", settings.name(), requested,
                id, estimates);
        return id;
    }

    /** Progress of the current or last incremental snapshot ({@link IncrementalSnapshotProgress#NONE} before any). */
    public IncrementalSnapshotProgress incrementalSnapshot() {
        return incrementalSnapshot.progress();
    }

    private void handleBatch(List<RecordChangeEvent<SourceRecord>> batch,
                             DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer) throws InterruptedException {
        List<Future<?>> sends = new ArrayList<>(batch.size());
        long snapshotRows = 0;
        long incrementalRows = 0;
        // In stream order: maps of incremental-snapshot rows per table, and notifications. A notification
        // follows the rows it reports on, so it is applied after them (and after Kafka acknowledged them).
        List<Object> progress = new ArrayList<>();
        Map<String, Long> incrementalByTable = new HashMap<>();
        String notificationTopic = settings.notificationTopic();
        String signalTableName = settings.signalTable();
        String heartbeatTableName = settings.heartbeatTable();
        long streamed = 0;
        long deadLettered = 0;
        long lastLsn = -1;
        long lastTs = -1;
        String transactionTopic = commits == null ? null : settings.transactionTopic();
        long ended = Long.MIN_VALUE;
        List<GenericRecord> observed = observer == null ? List.of() : new ArrayList<>();
        for (RecordChangeEvent<SourceRecord> event : batch) {
            SourceRecord record = event.record();
            if (transactionTopic != null && transactionTopic.equals(record.topic())) {
                // BEGIN/END metadata: never produced. An END closes the transaction whose changes came just
                // before it; a transaction with no captured change (only signal rows, say) announces nothing new.
                if (record.value() instanceof Struct tx && tx.schema().field("status") != null
                        && "END".equals(tx.getString("status")) && lastCommitOrder > announced) {
                    ended = lastCommitOrder;
                }
                continue;
            }
            if (notificationTopic.equals(record.topic())) {
                // Debezium's sink notification channel: consumed here, never produced.
                SnapshotNotification.from(record).ifPresent(n -> {
                    if (!incrementalByTable.isEmpty()) {
                        progress.add(Map.copyOf(incrementalByTable));
                        incrementalByTable.clear();
                    }
                    progress.add(n);
                });
                continue;
            }
            String sourceTable = signalTableName == null ? null : ChangeEventConverter.sourceTable(record);
            if (sourceTable != null && (signalTableName.equals(sourceTable) || heartbeatTableName.equals(sourceTable))) {
                // Signals and Debezium's chunk watermarks: connector bookkeeping, not data. Marked processed
                // with the batch like every other record, so the offsets move past them.
                continue;
            }
            ChangeEventConverter.Converted c;
            try {
                c = converter.convert(record);
            } catch (RuntimeException e) {
                // A change Debezium read but that cannot be represented (a value outside what its Avro type
                // holds, say): that one change is dead-lettered with its coordinates, acknowledged with the
                // batch, and every other change goes on. Types that cannot be carried at all are refused
                // before the start (ColumnTypeCheck), so this is one value, not a whole table.
                sends.add(deadLetter(record, e));
                deadLettered++;
                continue;
            }
            if (c == null) {
                continue;
            }
            if (observedTable != null && observedTable.equals(c.table())) {
                Object after = c.envelope().get(ChangeEnvelope.AFTER);
                if (after != null) {
                    observed.add((GenericRecord) after);
                }
                continue;
            }
            try {
                sends.add(producer.send(new ProducerRecord<>(c.topic(), c.key(), c.envelope())));
            } catch (SerializationException e) {
                // Serialization registers the table's current row schema; the registry refuses it when
                // the table's structure changed in a way the subject's compatibility level forbids.
                // Stopping here (offsets stay before this change) drops nothing: after the subject's
                // level or the table is fixed, capture resumes with this very change.
                GenericRecord source = (GenericRecord) c.envelope().get("source");
                throw new IllegalStateException("Capture '" + settings.name() + "' stops at table " + source.get("schema") + "."
                        + source.get("table") + " (LSN " + c.lsn() + "): the schema registry refused its row schema for topic '"
                        + c.topic() + "': " + rootMessage(e) + ". The table changed incompatibly (for example a column's type changed);"
                        + " revert the change, or change the subject's compatibility level deliberately, then restart the pipeline", e);
            }
            if (c.incremental()) {
                incrementalRows++;
                incrementalByTable.merge(c.table(), 1L, Long::sum);
            } else if (c.snapshot()) {
                snapshotRows++;
            } else {
                streamed++;
                GenericRecord src = (GenericRecord) c.envelope().get("source");
                lastTs = ((Number) src.get("tsMs")).longValue();
                Object order = src.get("commitOrder");
                if (order != null) {
                    lastCommitOrder = (Long) order;
                }
            }
            lastLsn = Math.max(lastLsn, c.lsn());
        }
        producer.flush();
        deadLetters.flush();
        for (Future<?> f : sends) {
            try {
                Object acknowledged = f.get();
                // Only an observer needs them: no work per change for a capture without one.
                if (observer != null && acknowledged instanceof RecordMetadata m && m.hasOffset()) {
                    produced.merge(new TopicPartition(m.topic(), m.partition()), m.offset(), Math::max);
                }
            } catch (ExecutionException e) {
                throw new IllegalStateException("Kafka at " + settings.bootstrapServers() + " did not acknowledge a change from capture '"
                        + settings.name() + "': " + e.getCause() + ". Capture stops here; its offsets stay at the last acknowledged batch.", e.getCause());
            }
        }
        PausePoints.reach(PausePoints.CAPTURE_BATCH_ACKNOWLEDGED);
        PausePoints.reach(PausePoints.captureBatchAcknowledged(settings.topicFamily()));
        for (RecordChangeEvent<SourceRecord> event : batch) {
            committer.markProcessed(event);
        }
        committer.markBatchFinished();
        PausePoints.reach(PausePoints.CAPTURE_BATCH_MARKED);
        Map<TopicPartition, Long> producedNow = observed.isEmpty() ? Map.of() : Map.copyOf(produced);
        for (GenericRecord row : observed) {
            try {
                observer.accept(row, producedNow);
            } catch (RuntimeException e) {
                LOG.warn("Capture '{}': the observer of {} failed on a row: {}", settings.name(), observedTable, e.toString());
            }
        }
        if (ended > announced) {
            announce(ended);
        }
        metrics.snapshotRows.addAndGet(snapshotRows);
        metrics.deadLettered.addAndGet(deadLettered);
        metrics.incrementalSnapshotRows.addAndGet(incrementalRows);
        if (!incrementalByTable.isEmpty()) {
            progress.add(incrementalByTable);
        }
        for (Object p : progress) {
            if (p instanceof SnapshotNotification n) {
                if (n.incrementalSnapshot()) {
                    LOG.info("Capture '{}' incremental snapshot {}: {}", settings.name(), n.type(), n.additionalData());
                }
                incrementalSnapshot.onNotification(n, System.currentTimeMillis());
            } else {
                @SuppressWarnings("unchecked")
                Map<String, Long> rows = (Map<String, Long>) p;
                incrementalSnapshot.rowsEmitted(rows);
            }
        }
        if (!progress.isEmpty()) {
            PausePoints.reach(PausePoints.CAPTURE_SNAPSHOT_CHUNK);
        }
        metrics.streamedChanges.addAndGet(streamed);
        if (streamed > 0) {
            if (!metrics.snapshotCompleted) {
                metrics.snapshotCompletedAtMs = System.currentTimeMillis();
            }
            metrics.snapshotCompleted = true;
            metrics.lastSourceTsMs.set(lastTs);
        }
        if (lastLsn >= 0) {
            metrics.lastLsn.accumulateAndGet(lastLsn, Math::max);
        }
        metrics.batches.incrementAndGet();
        metrics.lastBatchAckMs.set(System.currentTimeMillis());
    }

    /**
     * Sends a change that could not be converted to the pipeline's dead-letter topic
     * ({@link Topics#deadLetter}), with the coordinates the writer's dead letters carry
     * ({@link DeadLetterFields}: the legacy topic it was bound for, table, key, LSN, error; partition
     * and offset -1, as it never reached that topic) plus the column and the stage. Key and value are
     * UTF-8 JSON: the primary key, and the same coordinates.
     */
    private Future<?> deadLetter(SourceRecord record, RuntimeException e) {
        String table = String.valueOf(ChangeEventConverter.sourceTable(record));
        Long lsn = null;
        if (record.value() instanceof Struct v && v.schema().field("source") != null) {
            lsn = v.getStruct("source").getInt64("lsn");
        }
        LOG.error("Capture '{}' dead-letters a change of {} (key {}, LSN {}) to {}; the other changes go on. Cause: {}", settings.name(),
                table, keyJson(record.key()), lsn, Topics.deadLetter(settings.topicPrefix()), e.getMessage() == null ? e.toString() : e.getMessage());
        return deadLetters.send(deadLetterRecord(settings.topicPrefix(), table, record.key(), lsn, e));
    }

    /**
     * The dead letter of a row change the capture read but cannot carry (a value outside what its
     * Avro type holds, say): the table, the key as JSON, the LSN, the column and the error, in
     * {@link DeadLetterFields} headers and a JSON value. Rows read at a snapshot outside the capture
     * ({@link SnapshotImages}) are dead-lettered the same way.
     */
    static ProducerRecord<byte[], byte[]> deadLetterRecord(String topicPrefix, String table, Object connectKey, Long lsn, RuntimeException e) {
        String column = e instanceof AvroConversions.UncarriedValueException u ? u.column : null;
        String key = keyJson(connectKey);
        String error = e.getMessage() == null ? e.toString() : e.getMessage();
        String topic = Topics.legacy(topicPrefix, table);
        RecordHeaders h = new RecordHeaders();
        DeadLetterFields.onto(h, DeadLetterFields.CAPTURE).origin(topic, -1, -1).lsn(lsn).table(table).key(key).column(column).error(error)
                .failedAt(System.currentTimeMillis());
        ObjectNode value = JSON.createObjectNode().put("stage", DeadLetterFields.CAPTURE).put("table", table).put("column", column)
                .put("lsn", lsn).put("topic", topic).put("error", error);
        value.set("key", keyNode(connectKey));
        return new ProducerRecord<>(Topics.deadLetter(topicPrefix), null, key.getBytes(StandardCharsets.UTF_8),
                value.toString().getBytes(StandardCharsets.UTF_8), h);
    }

    /** A Connect key struct as a JSON object in field order, values as their text, e.g. {@code {"id":"42"}}. */
    private static ObjectNode keyNode(Object key) {
        ObjectNode node = JSON.createObjectNode();
        if (key instanceof Struct k) {
            for (Field f : k.schema().fields()) {
                Object v = k.get(f);
                node.put(f.name(), v == null ? null : v.toString());
            }
        }
        return node;
    }

    private static String keyJson(Object key) {
        return key instanceof Struct ? keyNode(key).toString() : "null";
    }

    /**
     * Produces {@code commitOrder} to the commits topic. Not awaited: a lost announcement only delays
     * the next reader until the following one, which covers it (each covers all earlier transactions).
     */
    private void announce(long commitOrder) {
        announced = commitOrder;
        commits.send(new ProducerRecord<>(settings.commitsTopic(), 0, settings.name().getBytes(StandardCharsets.UTF_8),
                ByteBuffer.allocate(Long.BYTES).putLong(commitOrder).array()), (metadata, error) -> {
            if (error != null) {
                LOG.warn("Capture '{}' could not announce commit order {} on {}: {}", settings.name(), commitOrder,
                        settings.commitsTopic(), error.toString());
            }
        });
        metrics.commitsAnnounced.incrementAndGet();
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + t.getMessage() + ")";
    }

    public CaptureMetrics metrics() {
        return metrics;
    }

    public CaptureSettings settings() {
        return settings;
    }

    /** Why the capture stopped, if it stopped on its own. */
    public Throwable failure() {
        return failure.get();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            if (engine != null) {
                engine.close();
            }
        } catch (Exception e) {
            LOG.warn("Closing capture '{}' engine: {}", settings.name(), e.toString());
        }
        executor.shutdown();
        try {
            if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("Capture '{}' engine did not stop within 30 s", settings.name());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(Duration.ofSeconds(10));
        deadLetters.close(Duration.ofSeconds(10));
        if (commits != null) {
            commits.close(Duration.ofSeconds(10));
        }
    }
}

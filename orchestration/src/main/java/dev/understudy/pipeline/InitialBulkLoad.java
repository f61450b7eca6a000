package dev.understudy.pipeline;

import dev.understudy.capture.CaptureSettings;
import dev.understudy.capture.CdcCapture;
import dev.understudy.capture.ExportedSnapshot;
import dev.understudy.capture.TableChunks;
import dev.understudy.load.BulkLoad;
import dev.understudy.load.LoadProgress;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.SqlNames;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.JoinedTableMapping;
import dev.understudy.transform.MigrationSeeds;
import dev.understudy.transform.TableMapping;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.stream.Collectors;

/**
 * A new pipeline's initial load outside the stream ({@code initial.load=bulk}), from its start to its
 * record in {@code understudy.initial_load}, around {@link BulkLoad}:
 * <ol>
 *   <li>a load recorded as complete is not done again: the legacy capture streams from its slot;</li>
 *   <li>a load recorded as running was interrupted (a crash, a kill). The snapshot it read died with
 *       its process, but the slot still stands at its consistent point and every chunk recorded as
 *       loaded is in the target and its state in Kafka, so it resumes: the capture streams from the
 *       slot, and an incremental snapshot reads what the lost snapshot would have given the chunks not
 *       loaded ({@link #resumeFilter}). When that is not possible (no slot, no recorded chunks, a table
 *       rewritten since) it starts over: the slot is dropped, the target tables it filled emptied,
 *       the seeded changelog topics and the applications' local state deleted;</li>
 *   <li>the target tables must be empty; the changelog topics of the seeded stores are created with
 *       the partitions of their input topics; legacy topics that hold records (an interrupted load's
 *       images) are emptied;</li>
 *   <li>the legacy capture's publication and slot are created with an exported snapshot, and
 *       {@link BulkLoad} reads every legacy table at it, logging its progress every
 *       {@link #PROGRESS_EVERY} and recording each chunk it loads;</li>
 *   <li>the migration application's offsets are committed at the legacy topics' ends (which hold
 *       each row's image, then the stream), the load is recorded as complete, and the tables as
 *       covered: a later generation re-reads the images and the stream, as after a snapshot.</li>
 * </ol>
 */
final class InitialBulkLoad {
    private static final Logger LOG = LoggerFactory.getLogger(InitialBulkLoad.class);
    static final Duration PROGRESS_EVERY = Duration.ofSeconds(5);

    private final PipelineConfig config;
    private final String prefix;
    private final List<TableMapping> mappings;
    private final RegistryClient registry;
    private final MigrationGenerations generations;
    private final MigrationGenerations.Generation generation;
    private final Map<String, Long> lineages;
    private final String migrationApplicationId;
    private final java.util.function.Consumer<String> progressListener;
    private volatile BulkLoad load;
    private volatile BulkLoad.Result result;
    /** The incremental snapshot that completes a resumed load: its signal and tables; null otherwise. */
    private volatile String resumeSignal;
    private volatile List<String> resumeTables = List.of();

    InitialBulkLoad(PipelineConfig config, String prefix, List<TableMapping> mappings, RegistryClient registry,
                    MigrationGenerations generations, MigrationGenerations.Generation generation, Map<String, Long> lineages,
                    String migrationApplicationId, java.util.function.Consumer<String> progressListener) {
        this.config = config;
        this.progressListener = progressListener;
        this.prefix = prefix;
        this.mappings = mappings;
        this.registry = registry;
        this.generations = generations;
        this.generation = generation;
        this.lineages = lineages;
        this.migrationApplicationId = migrationApplicationId;
    }

    /**
     * Problems of a spec with {@code initial.load=bulk}, before anything is changed: a target with a
     * foreign-key join cannot be loaded outside the stream (its join state is not seeded).
     */
    static List<String> problems(List<TableMapping> mappings) {
        List<String> out = new ArrayList<>();
        for (TableMapping m : mappings) {
            if (m instanceof JoinedTableMapping joined) {
                out.add("target " + m.targetTable() + " joins " + joined.joinedTable() + " by a foreign key, whose state a bulk load"
                        + " cannot seed: set " + PipelineConfig.INITIAL_LOAD.name() + "=snapshot to load it through the stream");
            }
        }
        return out;
    }

    /** The load, once it runs (null before); its progress is the operator's. */
    BulkLoad load() {
        return load;
    }

    /** The signal of the incremental snapshot that completes a resumed load, or null when this start did not resume one. */
    String resumeSignal() {
        return resumeSignal;
    }

    /** The legacy tables that incremental snapshot reads. */
    List<String> resumeTables() {
        return resumeTables;
    }

    /** What the load did, or null when it was not done by this start (already complete, or not begun). */
    BulkLoad.Result result() {
        return result;
    }

    /**
     * Loads the tables, or finds them loaded; either way {@code legacy} (not started) then streams
     * only, from its slot.
     */
    void run(CdcCapture legacy, CaptureSettings legacySettings) {
        MigrationGenerations.InitialLoad previous = generations.initialLoad(prefix);
        if (previous != null && previous.loaded()) {
            LOG.info("Pipeline '{}': the initial load is complete ({} rows at {}); the legacy capture streams from its slot", prefix,
                    previous.rows(), previous.consistentPoint());
            legacy.streamOnly();
            return;
        }
        java.util.function.Supplier<MigrationSeeds> newSeeds = () -> new MigrationSeeds(prefix, migrationApplicationId,
                Topics.comparisonApplication(prefix), mappings, registry, generation.number(), lineages, this::partitions);
        MigrationSeeds seeds = newSeeds.get();
        String targetUrl = config.get(PipelineConfig.TARGET_JDBC_URL);
        String targetUser = config.get(PipelineConfig.TARGET_USER);
        String targetPassword = config.get(PipelineConfig.TARGET_PASSWORD);
        if (previous != null && resume(legacy, legacySettings, seeds)) {
            return;
        }
        try (Connection target = DriverManager.getConnection(targetUrl, targetUser, targetPassword)) {
            if (previous != null) {
                LOG.warn("Pipeline '{}': the initial load that began earlier did not finish (the process stopped during it) and cannot"
                        + " resume, so it starts over: replication slot {} dropped, target tables {} emptied, the seeded state"
                        + " deleted", prefix, legacySettings.slotName(), targetTables());
                dropSlot(legacySettings);
                try (Statement s = target.createStatement()) {
                    s.execute("TRUNCATE " + targetTables().stream().map(SqlNames::qualified).collect(Collectors.joining(", ")));
                }
            }
            BulkLoad.checkTargetsEmpty(target, mappings, PipelineConfig.INITIAL_LOAD.name());
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot prepare the target tables " + targetTables() + " on " + targetUrl + " for the initial load"
                    + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip(), e);
        }
        generations.forgetInitialLoadChunks(prefix);
        generations.initialLoadStarted(prefix, generation.number());
        recreateChangelogs(seeds.changelogTopics());
        emptyLegacyTopics(seeds.legacyTables());
        deleteLocalState(List.of(migrationApplicationId, Topics.comparisonApplication(prefix)));
        ExportedSnapshot snapshot;
        try {
            snapshot = legacy.exportStartingPoint();
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot create the legacy capture's starting point for the initial load on "
                    + legacySettings.jdbcUrl() + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip(), e);
        }
        BulkLoad bulk = new BulkLoad(snapshot, legacySettings, newSeeds, mappings, targetUrl, targetUser, targetPassword,
                config.get(PipelineConfig.KAFKA_BOOTSTRAP), config.get(PipelineConfig.INITIAL_LOAD_WORKERS),
                config.get(PipelineConfig.INITIAL_LOAD_CHUNK_ROWS), new BulkLoad.Ledger() {
                    public void planned(String table, long relfilenode, long snapshotXmin, List<TableChunks.Chunk> chunks) {
                        generations.initialLoadPlanned(prefix, table, relfilenode, snapshotXmin,
                                chunks.stream().map(TableChunks.Chunk::predicate).toList());
                    }

                    public void loaded(String table, TableChunks.Chunk chunk, long rows) {
                        generations.initialLoadChunkLoaded(prefix, table, chunk.index(), rows);
                    }
                });
        load = bulk;
        report("begins at " + snapshot + ", " + config.get(PipelineConfig.INITIAL_LOAD_WORKERS) + " workers, chunks of about "
                + config.get(PipelineConfig.INITIAL_LOAD_CHUNK_ROWS) + " rows");
        ScheduledExecutorService progress = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "understudy-initial-load-progress");
            t.setDaemon(true);
            return t;
        });
        LoadProgress lines = new LoadProgress(bulk);
        progress.scheduleAtFixedRate(() -> report(lines.next()), PROGRESS_EVERY.toMillis(), PROGRESS_EVERY.toMillis(), TimeUnit.MILLISECONDS);
        BulkLoad.Result done;
        try {
            done = bulk.run();
        } catch (SQLException e) {
            throw new IllegalStateException(e.getMessage() + " (SQLSTATE " + e.getSQLState() + "). Nothing streams yet: fix the cause and"
                    + " start the pipeline again; the load starts over", e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted during the initial load; start the pipeline again to load again", e);
        } finally {
            progress.shutdownNow();
            try {
                snapshot.close();
            } catch (SQLException e) {
                LOG.debug("Closing the exported snapshot: {}", e.toString());
            }
        }
        startMigrationAfterImages(seeds.legacyTables());
        generations.initialLoadFinished(prefix, generation.number(), snapshot.consistentPoint().asString(), done.rows());
        // The legacy topics hold each row's image, then the stream: the whole history, as after a snapshot.
        generations.covered(prefix, seeds.legacyTables(), "bulk load");
        result = done;
        report(String.format("complete: %s (%,d rows in %.1f s, %,.0f rows/s, %,d records to Kafka, %,d dead-lettered, %.1f CPU-s in"
                        + " the load's workers); streaming continues from %s", lines.next(), done.rows(), done.millis() / 1000.0,
                done.rowsPerSecond(), done.stateRecords(), done.deadLettered(), done.workerCpuMillis() / 1000.0,
                snapshot.consistentPoint().asString()));
    }

    /**
     * Resumes an interrupted load when it can, and says whether it did. It can when the slot it
     * created still exists, unused, and every legacy table's chunks were planned and its file is the
     * one planned. The chunks recorded as loaded hold the rows of the slot's exported snapshot, in the
     * target and in Kafka; the capture streams every change from the slot's consistent point on, as
     * after a complete load. What the snapshot held in the other chunks is read by an incremental
     * snapshot instead, requested before the capture starts ({@link #resumeFilter}), Debezium's
     * watermarked reads de-duplicated against the stream (DBLog): rows reach the target at their
     * current state, never back through an older one. The load is then recorded complete, and the
     * tables covered: their history is complete once the capture has taken that snapshot, which it
     * does whatever stops it meanwhile.
     */
    private boolean resume(CdcCapture legacy, CaptureSettings legacySettings, MigrationSeeds seeds) {
        List<MigrationGenerations.InitialLoadChunk> chunks = generations.initialLoadChunks(prefix);
        Map<String, List<MigrationGenerations.InitialLoadChunk>> byTable = chunks.stream()
                .collect(Collectors.groupingBy(MigrationGenerations.InitialLoadChunk::table, java.util.LinkedHashMap::new, Collectors.toList()));
        String why = null;
        String consistentPoint = null;
        String password = legacySettings.password() == null ? "" : legacySettings.password();
        try {
            java.util.Optional<ExportedSnapshot.Slot> slot = ExportedSnapshot.slot(legacySettings.jdbcUrl(), legacySettings.user(), password,
                    legacySettings.slotName());
            if (slot.isEmpty()) {
                why = "its replication slot " + legacySettings.slotName() + " does not exist";
            } else if (slot.get().active()) {
                why = "its replication slot " + legacySettings.slotName() + " is in use";
            } else {
                consistentPoint = slot.get().confirmedFlushLsn();
            }
            try (Connection c = DriverManager.getConnection(legacySettings.jdbcUrl(), legacySettings.user(), password)) {
                for (String table : seeds.legacyTables()) {
                    if (why != null) {
                        break;
                    }
                    List<MigrationGenerations.InitialLoadChunk> planned = byTable.get(table);
                    if (planned == null) {
                        why = "the chunks of " + table + " were never planned";
                    } else if (TableChunks.relfilenode(c, table) != planned.get(0).relfilenode()) {
                        why = table + " was rewritten since its chunks were planned (VACUUM FULL, CLUSTER or a rewriting ALTER"
                                + " TABLE), which moved its rows out of their pages";
                    }
                }
            }
        } catch (SQLException e) {
            why = "the legacy database cannot be read (" + e.getMessage().strip() + ")";
        }
        if (why != null) {
            LOG.info("Pipeline '{}': the interrupted initial load cannot resume: {}", prefix, why);
            return false;
        }
        Map<String, String> filters = new java.util.LinkedHashMap<>();
        long loadedRows = 0;
        int loaded = 0;
        for (Map.Entry<String, List<MigrationGenerations.InitialLoadChunk>> e : byTable.entrySet()) {
            String filter = resumeFilter(e.getValue());
            if (filter != null) {
                filters.put(e.getKey(), filter);
            }
            for (MigrationGenerations.InitialLoadChunk chunk : e.getValue()) {
                if (chunk.loaded()) {
                    loaded++;
                    loadedRows += chunk.rows();
                }
            }
        }
        // Nothing has run since the interrupted load: no application processed a record, the
        // capture streamed nothing. State restored from the seeded changelogs starts afresh.
        deleteLocalState(List.of(migrationApplicationId, Topics.comparisonApplication(prefix)));
        legacy.streamOnly();
        startMigrationAfterImages(seeds.legacyTables());
        if (!filters.isEmpty()) {
            resumeSignal = legacy.requestIncrementalSnapshotBeforeStart(filters);
            resumeTables = List.copyOf(filters.keySet());
            report(String.format("resumes: %,d of %,d chunks were loaded (%,d rows); the rest of %s is read by incremental snapshot %s"
                    + " while streaming continues from %s", loaded, chunks.size(), loadedRows, resumeTables, resumeSignal, consistentPoint));
        } else {
            report(String.format("every chunk was loaded (%,d rows) before the process stopped; streaming continues from %s", loadedRows,
                    consistentPoint));
        }
        // After the signal is committed: from here every start streams from the slot, and the capture
        // reads the signal (or resumes its snapshot from its offsets), so the legacy topics will hold
        // each table's whole history: the images, the stream and the snapshot's reads. A later start
        // must not take the tables for lacking it and read them again.
        List<String> fully = seeds.legacyTables().stream().filter(t -> !filters.containsKey(t)).toList();
        if (!fully.isEmpty()) {
            generations.covered(prefix, fully, "bulk load");
        }
        if (!filters.isEmpty()) {
            generations.covered(prefix, resumeTables, "bulk load resumed by incremental snapshot " + resumeSignal);
        }
        generations.initialLoadFinished(prefix, generation.number(), consistentPoint, loadedRows);
        return true;
    }

    /**
     * The rows an incremental snapshot must read for the lost snapshot's chunks that were not loaded,
     * or null when every chunk was: the pages of those chunks, where a row the snapshot held stays
     * unless it changed since; and every row written by a transaction from the snapshot's oldest
     * running one on, wherever it went. A row of an unloaded chunk that changed since is among the
     * latter: the stream carries its change, but an update can leave a TOASTed value out, which only
     * the row read again supplies. Rows read that a loaded chunk holds too are only read again at their
     * current state. {@code age(xmin)} counts transactions wrap-around safely (a frozen row is oldest).
     */
    static String resumeFilter(List<MigrationGenerations.InitialLoadChunk> chunks) {
        List<String> unloaded = chunks.stream().filter(c -> !c.loaded()).map(c -> "(" + c.predicate() + ")").toList();
        if (unloaded.isEmpty()) {
            return null;
        }
        long xmin32 = chunks.get(0).snapshotXmin() & 0xFFFFFFFFL;
        return String.join(" OR ", unloaded) + " OR age(xmin) <= age('" + xmin32 + "'::xid)";
    }

    private void report(String line) {
        LOG.info("Initial load of pipeline '{}': {}", prefix, line);
        try {
            progressListener.accept(line);
        } catch (RuntimeException e) {
            LOG.debug("The initial load's progress listener failed: {}", e.toString());
        }
    }

    private List<String> targetTables() {
        return mappings.stream().map(TableMapping::targetTable).distinct().toList();
    }

    private final Map<String, Integer> partitionCounts = new java.util.concurrent.ConcurrentHashMap<>();

    /** Partitions of a pipeline topic, as created. */
    private int partitions(String topic) {
        return partitionCounts.computeIfAbsent(topic, t -> {
            try (Admin admin = admin()) {
                TopicDescription d = admin.describeTopics(List.of(t)).allTopicNames().get(30, TimeUnit.SECONDS).get(t);
                return d.partitions().size();
            } catch (Exception e) {
                throw new IllegalStateException("Cannot read the partitions of topic '" + t + "' on "
                        + config.get(PipelineConfig.KAFKA_BOOTSTRAP) + ": " + e, e);
            }
        });
    }

    /**
     * Deletes the seeded stores' changelog topics if they exist (an interrupted load's, or a
     * stream's from before), then creates them empty, compacted, with the partitions of their input
     * topics. A broker finishes a deletion asynchronously, so creation is retried while the old
     * topic is still being deleted.
     */
    private void recreateChangelogs(Map<String, String> changelogs) {
        short rf = config.get(PipelineConfig.TOPIC_REPLICATION).shortValue();
        try (Admin admin = admin()) {
            var existing = admin.listTopics().names().get(30, TimeUnit.SECONDS);
            List<String> stale = changelogs.keySet().stream().filter(existing::contains).toList();
            if (!stale.isEmpty()) {
                admin.deleteTopics(stale).all().get(30, TimeUnit.SECONDS);
                LOG.info("Deleted the state of an earlier run: {}", stale);
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            for (Map.Entry<String, String> e : changelogs.entrySet()) {
                createRetrying(admin, new NewTopic(e.getKey(), partitions(e.getValue()), rf)
                        .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT)), deadline);
            }
            // A broker learns of new topics asynchronously (KRaft); producing before it knows them fails.
            Pipeline.describeWhenKnown(admin, changelogs.keySet());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while creating the changelog topics of the initial load", e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("Cannot prepare the changelog topics of the initial load on "
                    + config.get(PipelineConfig.KAFKA_BOOTSTRAP) + ": " + e, e);
        }
    }

    /**
     * Deletes and creates again, with the same partitions and configuration, the legacy topics that
     * hold records: a capture without offsets never produced to them, so what they hold is an
     * interrupted load's images (or an interrupted snapshot's reads), which a later generation's
     * re-read would take for history. A broker finishes a deletion asynchronously, so creation is
     * retried while the old topic is still being deleted.
     */
    private void emptyLegacyTopics(List<String> legacyTables) {
        List<String> topics = legacyTables.stream().map(t -> Topics.legacy(prefix, t)).toList();
        try (Admin admin = admin()) {
            Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> latest = new java.util.LinkedHashMap<>();
            Map<String, TopicDescription> described = admin.describeTopics(topics).allTopicNames().get(30, TimeUnit.SECONDS);
            described.forEach((topic, d) -> d.partitions().forEach(p -> latest.put(new org.apache.kafka.common.TopicPartition(topic,
                    p.partition()), org.apache.kafka.clients.admin.OffsetSpec.latest())));
            java.util.Set<String> holding = new java.util.LinkedHashSet<>();
            admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS).forEach((tp, info) -> {
                if (info.offset() > 0) {
                    holding.add(tp.topic());
                }
            });
            if (holding.isEmpty()) {
                return;
            }
            var resources = holding.stream().map(t -> new org.apache.kafka.common.config.ConfigResource(
                    org.apache.kafka.common.config.ConfigResource.Type.TOPIC, t)).toList();
            Map<String, Map<String, String>> configs = new java.util.LinkedHashMap<>();
            admin.describeConfigs(resources).all().get(30, TimeUnit.SECONDS).forEach((r, config) -> configs.put(r.name(),
                    config.entries().stream().filter(e -> e.source() == org.apache.kafka.clients.admin.ConfigEntry.ConfigSource.DYNAMIC_TOPIC_CONFIG)
                            .collect(Collectors.toMap(org.apache.kafka.clients.admin.ConfigEntry::name,
                                    org.apache.kafka.clients.admin.ConfigEntry::value))));
            admin.deleteTopics(holding).all().get(30, TimeUnit.SECONDS);
            LOG.info("Emptied the legacy topics {} of an earlier, unfinished load", holding);
            long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
            for (String topic : holding) {
                TopicDescription d = described.get(topic);
                NewTopic fresh = new NewTopic(topic, d.partitions().size(), (short) d.partitions().get(0).replicas().size())
                        .configs(configs.get(topic));
                createRetrying(admin, fresh, deadline);
            }
            Pipeline.describeWhenKnown(admin, holding);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while emptying the legacy topics", e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("Cannot empty the legacy topics " + topics + " on " + config.get(PipelineConfig.KAFKA_BOOTSTRAP)
                    + " before the initial load: " + e, e);
        }
    }

    /**
     * Commits the migration application's offsets at the legacy topics' ends, which the images just
     * reached: the application starts with the state seeded from them and reads only what the stream
     * adds; a later generation's application, without offsets, re-reads the images first. Kafka
     * Streams starts a task from its group's committed offsets (its consumer group is its
     * application id), and the group has no member before it starts.
     */
    private void startMigrationAfterImages(List<String> legacyTables) {
        try (Admin admin = admin()) {
            Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.admin.OffsetSpec> latest = new java.util.LinkedHashMap<>();
            for (String t : legacyTables) {
                String topic = Topics.legacy(prefix, t);
                for (int p = 0; p < partitions(topic); p++) {
                    latest.put(new org.apache.kafka.common.TopicPartition(topic, p), org.apache.kafka.clients.admin.OffsetSpec.latest());
                }
            }
            Map<org.apache.kafka.common.TopicPartition, org.apache.kafka.clients.consumer.OffsetAndMetadata> ends = new java.util.LinkedHashMap<>();
            admin.listOffsets(latest).all().get(30, TimeUnit.SECONDS)
                    .forEach((tp, info) -> ends.put(tp, new org.apache.kafka.clients.consumer.OffsetAndMetadata(info.offset())));
            admin.alterConsumerGroupOffsets(migrationApplicationId, ends).all().get(30, TimeUnit.SECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while committing the migration's starting offsets", e);
        } catch (ExecutionException | java.util.concurrent.TimeoutException e) {
            throw new IllegalStateException("Cannot commit the starting offsets of " + migrationApplicationId + " on "
                    + config.get(PipelineConfig.KAFKA_BOOTSTRAP) + " after the initial load: " + e + ". Start the pipeline again: the"
                    + " load starts over", e);
        }
    }

    private void createRetrying(Admin admin, NewTopic topic, long deadline) throws InterruptedException, java.util.concurrent.TimeoutException {
        while (true) {
            try {
                admin.createTopics(List.of(topic)).all().get(30, TimeUnit.SECONDS);
                return;
            } catch (ExecutionException ex) {
                if (!(ex.getCause() instanceof TopicExistsException) || System.nanoTime() > deadline) {
                    throw new IllegalStateException("Cannot create topic '" + topic.name() + "' on "
                            + config.get(PipelineConfig.KAFKA_BOOTSTRAP) + ": " + ex.getCause(), ex.getCause());
                }
                Thread.sleep(200); // still being deleted
            }
        }
    }

    /**
     * Deletes the Kafka Streams applications' local state: stores restored from changelog topics that
     * were just recreated would otherwise carry offsets of the deleted topics.
     */
    private void deleteLocalState(List<String> applicationIds) {
        Path dir = Path.of(config.get(dev.understudy.transform.TransformConfig.STATE_DIR));
        for (String id : applicationIds) {
            Pipeline.deleteLocalState(dir, id);
        }
    }

    private void dropSlot(CaptureSettings legacy) throws SQLException {
        String password = legacy.password() == null ? "" : legacy.password();
        java.util.Optional<ExportedSnapshot.Slot> slot = ExportedSnapshot.slot(legacy.jdbcUrl(), legacy.user(), password, legacy.slotName());
        if (slot.isEmpty()) {
            return;
        }
        if (slot.get().active()) {
            throw new IllegalStateException("Replication slot " + legacy.slotName() + " on " + legacy.jdbcUrl() + " is in use by"
                    + " another process, so the interrupted initial load cannot start over; stop the other process of pipeline '"
                    + prefix + "' first");
        }
        ExportedSnapshot.dropSlot(legacy.jdbcUrl(), legacy.user(), password, legacy.slotName());
    }

    private Admin admin() {
        return Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP)));
    }
}

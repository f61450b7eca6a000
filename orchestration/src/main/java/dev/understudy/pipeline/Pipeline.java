package dev.understudy.pipeline;

import dev.understudy.capture.CaptureConfig;
import dev.understudy.capture.CaptureSettings;
import dev.understudy.capture.CdcCapture;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.PausePoints;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.SqlNames;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.ComparisonSettings;
import dev.understudy.transform.MigrationTopology;
import dev.understudy.transform.PipelineTopology;
import dev.understudy.transform.StreamsProperties;
import dev.understudy.transform.TableMapping;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.writer.ShadowWriter;
import dev.understudy.writer.ShadowWriterConfig;
import dev.understudy.writer.WriterBookkeeping;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.streams.CloseOptions;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.ProcessorStateException;
import org.apache.kafka.streams.errors.StreamsException;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.flywaydb.core.Flyway;
import org.flywaydb.core.api.FlywayException;
import org.flywaydb.core.api.MigrationVersion;
import org.flywaydb.core.api.configuration.FluentConfiguration;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Collections;
import java.util.Comparator;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Properties;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The four stages wired together for one migration:
 * <pre>
 *   legacy WAL --capture--> &lt;p&gt;.legacy.* --migration topology--> &lt;p&gt;.new.* --shadow writer--> target tables
 *   target WAL --capture--> &lt;p&gt;.target.* --comparison topology (with &lt;p&gt;.new.*)--> &lt;p&gt;.divergence, &lt;p&gt;.drift
 * </pre>
 * The two topologies run as two Kafka Streams applications, {@code <name>-migration-g<N>} and
 * {@code <name>-comparison}, so the comparison's work never delays rows on their way to the writer.
 * <p>
 * Each spec version (its {@code migration:} name) runs as a numbered generation
 * ({@link MigrationGenerations}): starting on a new spec version starts a new migration application,
 * which re-reads the legacy topics from their start and re-emits every row under the new spec with
 * its generation; the writer lets those rows replace the previous generation's, which backfills a
 * new column for every existing row while live changes keep flowing ({@link BackfillProgress}).
 * Tables whose history the legacy topics lack are re-read from the legacy database by a Debezium
 * incremental snapshot.
 * Start order: preflight checks, target schema (Flyway), topics, then the stages. Every stage
 * reads and writes Kafka only, so each can restart on its own.
 */
public final class Pipeline implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(Pipeline.class);
    /** The target schema version the shipped users mapping needs (Flyway V1_2__add_birthdate_to_users). */
    public static final String USERS_FLYWAY_VERSION = "1.2";

    private final PipelineConfig config;
    private final List<TableMapping> mappings;
    private final String requiredFlywayVersion;
    private final String migrationName;
    /** How long each phase of {@link #start()} took ({@link #startupTimes()}), and when the current one began. */
    private final Map<String, Duration> startupTimes = new LinkedHashMap<>();
    private long startupMark;
    private final String fingerprint;
    private final String prefix;
    private final RegistryClient registry;
    private final AtomicReference<Throwable> streamsFailure = new AtomicReference<>();
    private CdcCapture legacyCapture;
    private CdcCapture targetCapture;
    private KafkaStreams migration;
    private KafkaStreams comparison;
    private ShadowWriter writer;
    private DriftMonitor drift;
    private MigrationGenerations.Generation generation;
    /** Each target's lineage in this generation (ChangeHeaders.LINEAGE), decided at start. */
    private Map<String, Long> lineages = Map.of();
    private InitialBulkLoad initialLoad;
    private java.util.function.Consumer<String> initialLoadProgress = line -> { };
    private BackfillProgress backfill;
    private TransactionWatermarks watermarks;
    private DeliveredWriterPositions writerPositions;

    /** The shipped users migration, which needs the target at Flyway version {@value #USERS_FLYWAY_VERSION}. */
    public Pipeline(PipelineConfig config, List<TableMapping> mappings) {
        this(config, mappings, USERS_FLYWAY_VERSION, "users_builtin_v" + USERS_FLYWAY_VERSION, null);
    }

    /** The migration a spec file describes; its {@code migration:} name identifies its generation. */
    public Pipeline(PipelineConfig config, MigrationSpec spec) {
        this(config, List.copyOf(spec.mappings()), spec.flyway(), spec.migration(), readSpec(spec.file()));
    }

    /**
     * @param requiredFlywayVersion the target schema version the mappings are written for; the
     *                              pipeline refuses a target at any other version
     */
    public Pipeline(PipelineConfig config, List<TableMapping> mappings, String requiredFlywayVersion) {
        this(config, mappings, requiredFlywayVersion, "mappings_flyway_" + requiredFlywayVersion, null);
    }

    /**
     * @param migrationName the spec version's name, which identifies its generation
     * @param specText      the spec's text, part of its fingerprint, or null for mappings in code
     */
    public Pipeline(PipelineConfig config, List<TableMapping> mappings, String requiredFlywayVersion, String migrationName,
                    String specText) {
        this.config = config;
        this.mappings = List.copyOf(mappings);
        this.requiredFlywayVersion = requiredFlywayVersion;
        this.migrationName = migrationName;
        this.fingerprint = fingerprint(this.mappings, specText);
        this.prefix = config.get(PipelineConfig.PIPELINE_NAME);
        this.registry = new ConfluentRegistryClient(config.get(PipelineConfig.REGISTRY_URL), config.serdeConfig());
    }

    /**
     * Where a bulk initial load ({@code initial.load=bulk}) reports its progress while {@link #start()}
     * runs it: a line per {@link InitialBulkLoad#PROGRESS_EVERY} with rows, bytes, rate and ETA per
     * table ({@link dev.understudy.load.LoadProgress}), and one when it is complete. Also logged.
     */
    public Pipeline onInitialLoadProgress(java.util.function.Consumer<String> listener) {
        this.initialLoadProgress = listener;
        return this;
    }

    public Pipeline start() {
        startupMark = System.nanoTime();
        Preflight.check(config);
        boolean bulkConfigured = "bulk".equals(config.get(PipelineConfig.INITIAL_LOAD));
        if (bulkConfigured) {
            List<String> problems = InitialBulkLoad.problems(mappings);
            if (!problems.isEmpty()) {
                throw new IllegalStateException("The spec cannot be loaded with " + PipelineConfig.INITIAL_LOAD.name() + "=bulk; nothing was"
                        + " changed:\n  - " + String.join("\n  - ", problems));
            }
        }
        // Before the target is migrated: a start refused for its legacy tables (a missing key, a column
        // type the capture cannot carry) changes nothing.
        SourceTables.check(config, sourceTables());
        startupPhase("checks");
        migrateTarget();
        MigrationGenerations generations = new MigrationGenerations(config.get(PipelineConfig.TARGET_JDBC_URL),
                config.get(PipelineConfig.TARGET_USER), config.get(PipelineConfig.TARGET_PASSWORD));
        generation = generations.resolve(prefix, migrationName, fingerprint, requiredFlywayVersion);
        LOG.info("Migration '{}' runs as generation {} of pipeline '{}'{}", migrationName, generation.number(), prefix,
                generation.fresh() ? " (new: its migration re-reads the legacy history and backfills every row)" : "");
        startupPhase("target schema");
        createTopics();
        ContractRegistration.registerAll(registry, prefix, mappings, config.get(PipelineConfig.COMPATIBILITY));
        String bootstrap = config.get(PipelineConfig.KAFKA_BOOTSTRAP);
        // Before the legacy capture starts: without stored offsets it snapshots every source table,
        // which then has its whole history in Kafka.
        boolean initialSnapshot = !hasRecords(bootstrap, Topics.offsets(prefix, "legacy"));
        // A pipeline whose capture has no offsets yet loads outside the stream when so configured (or
        // finds its earlier load complete, InitialBulkLoad); its tables are then covered by that load.
        boolean bulk = initialSnapshot && bulkConfigured;
        if (initialSnapshot && !bulk) {
            generations.covered(prefix, sourceTables(), "initial snapshot");
        }
        List<String> lacking = initialSnapshot ? List.of() : tablesLackingHistory(generations);
        lineages = generations.lineages(generation, keyDerivations(), targetsReading(lacking));
        startupPhase("topics and contracts");
        boolean boundaries = config.get(ShadowWriterConfig.TRANSACTION_BOUNDARIES);
        CaptureSettings legacySettings = captureSettings("legacy", config.get(PipelineConfig.LEGACY_JDBC_URL),
                config.get(PipelineConfig.LEGACY_USER), config.get(PipelineConfig.LEGACY_PASSWORD), sourceTables())
                .withCommitsTopic(boundaries ? Topics.commits(prefix) : null);
        CdcCapture legacy = new CdcCapture(legacySettings, registry);
        // Held from here, so that close() releases its producers whatever fails before it starts.
        legacyCapture = legacy;
        if (bulk) {
            initialLoad = new InitialBulkLoad(config, prefix, mappings, registry, generations, generation, lineages,
                    migrationApplicationId(), initialLoadProgress);
            try {
                initialLoad.run(legacy, legacySettings);
            } catch (RuntimeException e) {
                close();
                throw e;
            }
            startupPhase("initial load");
        }
        if (generation.number() > 1) {
            lineages.forEach((target, lineage) -> LOG.info("Target {} is in lineage {} in generation {}: {}", target, lineage,
                    generation.number(), lineage < generation.number()
                            ? "its rows keep their versions across generations, so the re-read never takes one back to an older state"
                            : "its key derives from legacy rows differently (or is re-read by a snapshot), so every row is replaced"));
        }
        boolean dualWrite = TransformConfig.dualWrite(config.get(TransformConfig.COMPARISON_MODE));
        try {
            // The target capture never needs incremental snapshots, so it creates no signal table in the target.
            // With a writer it also reads the writer's positions, so that the comparison knows which of the
            // writer's changes have reached the target change topics (DeliveredWriterPositions).
            List<String> targetCaptured = new ArrayList<>(targetTables());
            if (!dualWrite) {
                writerPositions = new DeliveredWriterPositions(writerGroup());
                withTarget(WriterBookkeeping::ensurePositionTables);
                targetCaptured.add(WriterBookkeeping.positionTable());
            }
            CdcCapture target = new CdcCapture(captureSettings("target", config.get(PipelineConfig.TARGET_JDBC_URL),
                    config.get(PipelineConfig.TARGET_USER), config.get(PipelineConfig.TARGET_PASSWORD), targetCaptured)
                    .withSignalTable(null), registry);
            if (writerPositions != null) {
                target.observing(WriterBookkeeping.positionTable(), writerPositions::delivered);
            }
            targetCapture = target.start();
            if (writerPositions != null) {
                // Positions stored before this start (by an earlier run) reach the capture once more.
                withTarget(c -> WriterBookkeeping.republishPositions(c, writerGroup()));
            }
            legacy.start();

            startupPhase("captures");
            String stateDir = config.get(TransformConfig.STATE_DIR);
            int threads = config.get(TransformConfig.STREAMS_THREADS);
            migration = startStreams(() -> PipelineTopology.migration(prefix, mappings, registry, generation.number(), lineages),
                    staticMember(StreamsProperties.of(migrationApplicationId(), bootstrap, stateDir, threads)));
            ComparisonSettings comparisonSettings = new ComparisonSettings(Duration.ofMillis(config.get(TransformConfig.SETTLE_MS)),
                    Duration.ofMillis(500));
            if (writerPositions != null) {
                comparisonSettings = comparisonSettings.withWriterProgress(writerPositions);
            }
            ComparisonSettings comparing = comparisonSettings;
            comparison = startStreams(() -> PipelineTopology.comparison(prefix, mappings, registry, comparing),
                    staticMember(StreamsProperties.of(Topics.comparisonApplication(prefix), bootstrap, stateDir, threads)));

            startupPhase("Kafka Streams");
            Map<String, String> writerTopics = new LinkedHashMap<>();
            for (TableMapping m : mappings) {
                writerTopics.put(Topics.newSchema(prefix, m.targetTable()), m.targetTable());
            }
            drift = new DriftMonitor(bootstrap, Topics.drift(prefix), registry).publishTotals(bootstrap, registry);
            if (dualWrite) {
                // An application writes both databases; the pipeline only compares.
                LOG.info("Pipeline '{}' in dual-write mode: no shadow writer; disagreements are reported after {} ms",
                        prefix, config.get(TransformConfig.SETTLE_MS));
                LOG.info("Pipeline '{}' started: {} table mapping(s)", prefix, mappings.size());
                return this;
            }
            writer = new ShadowWriter(ShadowWriterConfig.of(bootstrap, writerGroup(), writerTopics,
                    config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                    config.get(PipelineConfig.TARGET_PASSWORD), prefix).withMaxBatchRecords(config.get(ShadowWriterConfig.MAX_BATCH_RECORDS))
                    .withKafkaProperties(instanceId().map(id -> Map.of(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG, id)).orElse(Map.of())),
                    registry);
            writer.setMaxRecordsPerSecond(config.get(ShadowWriterConfig.MAX_RECORDS_PER_SECOND));
            if (boundaries) {
                String appId = migrationApplicationId();
                watermarks = new TransactionWatermarks(bootstrap, Topics.commits(prefix), () -> appId,
                        sourceTables().stream().map(t -> Topics.legacy(prefix, t)).toList()).start();
                writer.alignTransactions(watermarks);
            }
            writer.start();
            startupPhase("writer");
            Supplier<BackfillProgress.SnapshotStatus> snapshot = () -> null;
            if (!lacking.isEmpty()) {
                snapshot = incrementalSnapshot(lacking, generations);
            } else if (initialLoad != null && initialLoad.resumeSignal() != null) {
                // A resumed bulk load: the chunks it had not loaded come from this incremental snapshot.
                snapshot = incrementalSnapshotStatus(initialLoad.resumeTables(), initialLoad.resumeSignal(), generations);
            } else if (initialSnapshot && !bulk) {
                long estimate = estimateRows(sourceTables());
                CdcCapture capture = legacyCapture;
                BackfillProgress.SnapshotStatus status = new BackfillProgress.SnapshotStatus() {
                    public List<String> tables() {
                        return sourceTables();
                    }

                    public long rowsScanned() {
                        return capture.metrics().snapshotRows();
                    }

                    public long rowsEstimated() {
                        return estimate;
                    }

                    public boolean completed() {
                        return capture.metrics().snapshotCompleted();
                    }
                };
                snapshot = () -> status;
            }
            backfill = BackfillProgress.start(bootstrap, generation, migrationApplicationId(),
                    sourceTables().stream().map(t -> Topics.legacy(prefix, t)).toList(), writerGroup(),
                    writerTopics.keySet(), generations, snapshot,
                    () -> GenerationSweep.sweep(config, registry, prefix, mappings, generation.number(), lineages));
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        LOG.info("Pipeline '{}' started: {} table mapping(s)", prefix, mappings.size());
        PausePoints.reach(PausePoints.PIPELINE_STARTED);
        return this;
    }

    private interface TargetWork {
        void run(Connection c) throws SQLException;
    }

    /** Runs {@code work} on a connection to the target database; a failure names the database and the step. */
    private void withTarget(TargetWork work) {
        String url = config.get(PipelineConfig.TARGET_JDBC_URL);
        try (Connection c = DriverManager.getConnection(url, config.get(PipelineConfig.TARGET_USER), config.get(PipelineConfig.TARGET_PASSWORD))) {
            work.run(c);
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot create or rewrite the writer's positions (" + WriterBookkeeping.positionTable() + ") on "
                    + url + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip()
                    + "; the target user needs CREATE on the database (or the table made for it) and UPDATE on the table", e);
        }
    }

    /** Each target's {@link TableMapping#keyDerivation()}, by target table. */
    private Map<String, String> keyDerivations() {
        Map<String, String> out = new LinkedHashMap<>();
        for (TableMapping m : mappings) {
            out.put(m.targetTable(), m.keyDerivation());
        }
        return out;
    }

    /** The targets reading any of {@code legacyTables}, as source or joined table. */
    private Set<String> targetsReading(List<String> legacyTables) {
        Set<String> out = new LinkedHashSet<>();
        for (TableMapping m : mappings) {
            if (MigrationTopology.legacyTables(List.of(m)).stream().anyMatch(legacyTables::contains)) {
                out.add(m.targetTable());
            }
        }
        return out;
    }

    /** The shadow writer's consumer group, also the key of its positions in the target. */
    public String writerGroup() {
        return Topics.writerGroup(prefix);
    }

    /** The migration application of this generation; a new generation re-reads the legacy topics from their start. */
    public String migrationApplicationId() {
        return Topics.migrationApplication(prefix, generation.number());
    }

    /**
     * Identifies what the mappings produce: the target contracts and, for a spec, its text. A spec
     * that changes under the same migration name is refused ({@link MigrationGenerations}).
     */
    static String fingerprint(List<TableMapping> mappings, String specText) {
        try {
            MessageDigest sha = MessageDigest.getInstance("SHA-256");
            for (TableMapping m : mappings) {
                sha.update((m.getClass().getName() + "|" + m.sourceTable() + "|" + m.targetTable() + "|"
                        + m.targetKeySchema() + "|" + m.targetValueSchema() + "\n").getBytes(StandardCharsets.UTF_8));
            }
            if (specText != null) {
                sha.update(specText.getBytes(StandardCharsets.UTF_8));
            }
            return HexFormat.of().formatHex(sha.digest());
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException("SHA-256 is missing from this JVM", e);
        }
    }

    /**
     * Legacy tables whose whole history the legacy topics do not hold: tables added to the capture
     * after its initial snapshot (the capture resumes from its offsets and never snapshots them), and,
     * while this generation's backfill is not complete, tables whose topic was truncated by retention.
     */
    private List<String> tablesLackingHistory(MigrationGenerations generations) {
        Set<String> covered = generations.coveredTables(prefix);
        Set<String> lacking = new LinkedHashSet<>();
        for (String t : sourceTables()) {
            if (!covered.contains(t)) {
                lacking.add(t);
            }
        }
        if (!generation.backfillComplete()) {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP)))) {
                Map<TopicPartition, OffsetSpec> request = new LinkedHashMap<>();
                Map<String, String> tableOfTopic = new LinkedHashMap<>();
                for (String t : sourceTables()) {
                    tableOfTopic.put(Topics.legacy(prefix, t), t);
                }
                admin.describeTopics(tableOfTopic.keySet()).allTopicNames().get().forEach((topic, d) -> d.partitions().forEach(p ->
                        request.put(new TopicPartition(topic, p.partition()),
                                OffsetSpec.earliest())));
                admin.listOffsets(request).all().get().forEach((tp, info) -> {
                    if (info.offset() > 0) {
                        lacking.add(tableOfTopic.get(tp.topic()));
                    }
                });
            } catch (ExecutionException e) {
                throw new IllegalStateException("Cannot read the legacy topics' start offsets: " + e.getCause().getMessage(), e.getCause());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("Interrupted while reading the legacy topics' start offsets", e);
            }
        }
        return List.copyOf(lacking);
    }

    /**
     * Asks the legacy capture to re-read {@code tables} by a Debezium incremental snapshot, while
     * streaming goes on; its rows reach the migration like any change. Tables new to the capture
     * count as covered once it completes.
     */
    private Supplier<BackfillProgress.SnapshotStatus> incrementalSnapshot(List<String> tables,
                                                                                           MigrationGenerations generations) {
        String signal = legacyCapture.requestIncrementalSnapshot(tables);
        LOG.info("The legacy topics lack the history of {}: incremental snapshot requested (signal {})", tables, signal);
        return incrementalSnapshotStatus(tables, signal, generations);
    }

    /** The progress of incremental snapshot {@code signal} of {@code tables}; tables new to the capture count as covered once it completes. */
    private Supplier<BackfillProgress.SnapshotStatus> incrementalSnapshotStatus(List<String> tables, String signal,
                                                                                  MigrationGenerations generations) {
        Set<String> covered = generations.coveredTables(prefix);
        List<String> uncovered = tables.stream().filter(t -> !covered.contains(t)).toList();
        AtomicBoolean recorded = new AtomicBoolean();
        CdcCapture capture = legacyCapture;
        BackfillProgress.SnapshotStatus status = new BackfillProgress.SnapshotStatus() {
            public List<String> tables() {
                return tables;
            }

            public long rowsScanned() {
                return capture.incrementalSnapshot().rowsEmitted();
            }

            public long rowsEstimated() {
                return capture.incrementalSnapshot().tables().stream().mapToLong(t -> Math.max(0, t.estimatedTotalRows())).sum();
            }

            public boolean completed() {
                var progress = capture.incrementalSnapshot();
                boolean done = signal.equals(progress.signalId()) && progress.completed();
                if (done && !uncovered.isEmpty() && recorded.compareAndSet(false, true)) {
                    generations.covered(prefix, uncovered, "incremental snapshot " + signal);
                }
                return done;
            }
        };
        return () -> status;
    }

    /** True when {@code topic} exists and holds at least one record. */
    private static boolean hasRecords(String bootstrap, String topic) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap))) {
            var description = admin.describeTopics(List.of(topic)).allTopicNames().get().get(topic);
            Map<TopicPartition, OffsetSpec> request = new LinkedHashMap<>();
            description.partitions().forEach(p -> request.put(new TopicPartition(topic, p.partition()),
                    OffsetSpec.latest()));
            return admin.listOffsets(request).all().get().values().stream().anyMatch(i -> i.offset() > 0);
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                return false;
            }
            throw new IllegalStateException("Cannot read topic " + topic + " on " + bootstrap + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while reading topic " + topic, e);
        }
    }

    /** The legacy tables' row count as the planner estimates it (pg_class.reltuples), 0 when never estimated. */
    private long estimateRows(List<String> tables) {
        try (Connection c = DriverManager.getConnection(config.get(PipelineConfig.LEGACY_JDBC_URL),
                config.get(PipelineConfig.LEGACY_USER), config.get(PipelineConfig.LEGACY_PASSWORD));
             PreparedStatement ps = c.prepareStatement("SELECT coalesce(sum(greatest(c.reltuples, 0)), 0)::bigint "
                     + "FROM pg_class c WHERE c.oid = ANY (SELECT to_regclass(t) FROM unnest(?::text[]) t)")) {
            ps.setArray(1, c.createArrayOf("text", tables.stream().map(SqlNames::qualified).toArray()));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        } catch (SQLException e) {
            LOG.debug("No row estimate for {}: {}", tables, e.toString());
            return 0;
        }
    }

    private static String readSpec(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new IllegalStateException("Cannot read spec " + file + ": " + e.getMessage(), e);
        }
    }

    /** Ends a phase of {@link #start()}: its name and how long it took, for {@link #startupTimes()}. */
    private void startupPhase(String phase) {
        long now = System.nanoTime();
        startupTimes.put(phase, Duration.ofNanos(now - startupMark));
        startupMark = now;
    }

    /**
     * How long each phase of {@link #start()} took, in order: checks (preflight, legacy tables), target
     * schema (Flyway, generation), topics and contracts, captures (both started), Kafka Streams (both
     * applications started; their restore and first assignment go on in the background), writer.
     */
    public Map<String, Duration> startupTimes() {
        return Collections.unmodifiableMap(startupTimes);
    }

    /**
     * This process's static group membership ({@link PipelineConfig#INSTANCE_ID}), if any. Why: after a
     * SIGKILL the dead members stay in their groups until their session timeout (45 s), and a restarted
     * process with new members waits that long for its partitions; a member that comes back with the
     * same {@code group.instance.id} takes the old one's place and assignment at once (KIP-345).
     */
    private Optional<String> instanceId() {
        String id = config.get(PipelineConfig.INSTANCE_ID);
        if (id.equals("off")) {
            return Optional.empty();
        }
        return Optional.of(id.isEmpty() ? prefix : id);
    }

    /** {@code properties} with this process's static membership for the Streams application's main consumers. */
    private Properties staticMember(Properties properties) {
        // Kafka Streams suffixes the id with each stream thread's index (StreamsConfig#getMainConsumerConfigs).
        instanceId().ifPresent(id -> properties.put(StreamsConfig.mainConsumerPrefix(ConsumerConfig.GROUP_INSTANCE_ID_CONFIG), id));
        return properties;
    }

    /**
     * Starts a Kafka Streams application. Its local state is a copy of its changelog topics, which
     * it restores from when the state is missing, so a start that cannot open that copy deletes it
     * ({@link #deleteLocalState}) and starts once more. Why: since KIP-1035, {@code start()}
     * opens the stores found on disk on the calling thread, and a store left by a process that died
     * without closing it can fail to open there ("Error opening store"; TransactionCrashIT met it
     * after a halt), which fails the start instead of the task being restored.
     */
    private KafkaStreams startStreams(Supplier<Topology> topology, Properties properties) {
        String id = properties.getProperty(StreamsConfig.APPLICATION_ID_CONFIG);
        KafkaStreams streams = newStreams(topology.get(), properties, id);
        try {
            streams.start();
        } catch (StreamsException e) {
            if (!(e instanceof ProcessorStateException) && !(e.getCause() instanceof ProcessorStateException)) {
                throw e;
            }
            java.nio.file.Path stateDir = java.nio.file.Path.of(properties.getProperty(StreamsConfig.STATE_DIR_CONFIG));
            LOG.warn("Kafka Streams application {} cannot open its local state in {} ({}); deleting it, to restore it from the"
                    + " changelog topics", id, stateDir.resolve(id), e.getMessage());
            streams.close(Duration.ofSeconds(30));
            deleteLocalState(stateDir, id);
            streams = newStreams(topology.get(), properties, id);
            streams.start();
        }
        return streams;
    }

    /**
     * Deletes the local state of Kafka Streams application {@code applicationId} under {@code stateDir}
     * (what {@link KafkaStreams#cleanUp()} deletes, without an instance): it restores from its
     * changelog topics at its next start.
     */
    static void deleteLocalState(java.nio.file.Path stateDir, String applicationId) {
        java.nio.file.Path app = stateDir.resolve(applicationId);
        if (!java.nio.file.Files.exists(app)) {
            return;
        }
        try (java.util.stream.Stream<java.nio.file.Path> walk = java.nio.file.Files.walk(app)) {
            for (java.nio.file.Path p : walk.sorted(Comparator.reverseOrder()).toList()) {
                java.nio.file.Files.delete(p);
            }
        } catch (java.io.IOException e) {
            throw new java.io.UncheckedIOException("Cannot delete the local state of " + applicationId + " in " + app
                    + "; delete it by hand and start again", e);
        }
    }

    private KafkaStreams newStreams(Topology topology, Properties properties, String id) {
        KafkaStreams streams = new KafkaStreams(topology, properties);
        streams.setUncaughtExceptionHandler(e -> {
            streamsFailure.compareAndSet(null, e);
            LOG.error("Kafka Streams application {} failed", id, e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        return streams;
    }

    private CaptureSettings captureSettings(String family, String url, String user, String password, List<String> tables) {
        return new CaptureSettings(prefix + "-" + family, family, url, user, password, tables, prefix,
                config.get(PipelineConfig.KAFKA_BOOTSTRAP), prefix + "_" + family, prefix + "_" + family,
                Topics.offsets(prefix, family), config.get(PipelineConfig.TOPIC_REPLICATION).shortValue(),
                CaptureConfig.from(config.values()));
    }

    /**
     * Applies the target schema's Flyway migrations up to the version the mappings are written for
     * (Flyway's target, so one folder can hold the migrations of several spec versions), then checks
     * the target is at exactly that version: a target ahead of or behind it would take rows of another shape.
     */
    private void migrateTarget() {
        String locations = config.get(PipelineConfig.FLYWAY_LOCATIONS);
        FluentConfiguration base = Flyway.configure()
                .dataSource(config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                        config.get(PipelineConfig.TARGET_PASSWORD))
                .locations(locations.split("\\s*,\\s*"));
        Flyway flyway;
        try {
            flyway = Flyway.configure().configuration(base).target(MigrationVersion.fromVersion(requiredFlywayVersion)).load();
            flyway.migrate();
        } catch (FlywayException e) {
            // Asked without a target, Flyway lists what the locations hold, for the message.
            String newest = Arrays.stream(base.load().info().all())
                    .filter(m -> m.getVersion() != null)
                    .map(m -> m.getVersion())
                    .max(Comparator.naturalOrder())
                    .map(v -> v.getVersion()).orElse("none");
            throw new IllegalStateException("The target database " + config.get(PipelineConfig.TARGET_JDBC_URL)
                    + " cannot be brought to Flyway schema version " + requiredFlywayVersion + ", which the migration needs: the"
                    + " migrations in " + locations + " (target.flyway.locations) go up to version " + newest
                    + " (Flyway: " + e.getMessage().strip() + "). Add V" + requiredFlywayVersion.replace('.', '_')
                    + "__<description>.sql there, or use a spec written for version " + newest, e);
        }
        var current = flyway.info().current();
        String version = current == null || current.getVersion() == null ? "none" : current.getVersion().getVersion();
        if (!version.equals(requiredFlywayVersion)) {
            throw new IllegalStateException("The target database " + config.get(PipelineConfig.TARGET_JDBC_URL)
                    + " is at Flyway schema version " + version + ", but the migration needs version " + requiredFlywayVersion
                    + "; add or remove versioned migrations in " + locations + " (target.flyway.locations) so that the latest is V"
                    + requiredFlywayVersion.replace('.', '_') + "__..., or use a spec written for version " + version);
        }
    }

    private void createTopics() {
        int partitions = config.get(PipelineConfig.TOPIC_PARTITIONS);
        short rf = config.get(PipelineConfig.TOPIC_REPLICATION).shortValue();
        Set<String> names = new LinkedHashSet<>();
        for (String table : sourceTables()) {
            names.add(Topics.legacy(prefix, table));
        }
        for (TableMapping m : mappings) {
            names.add(Topics.newSchema(prefix, m.targetTable()));
            names.add(Topics.target(prefix, m.targetTable()));
        }
        names.add(Topics.divergence(prefix));
        names.add(Topics.drift(prefix));
        names.add(Topics.deadLetter(prefix));
        // Written by understudy verify and cutover status, which may run where topics cannot be auto-created.
        names.add(Topics.verify(prefix));
        names.add(Topics.cutover(prefix));
        List<NewTopic> topics = new ArrayList<>();
        // One partition keeps announcements in order; only the newest matters, so an hour of them is plenty.
        topics.add(new NewTopic(Topics.commits(prefix), 1, rf).configs(Map.of("retention.ms", "3600000")));
        Set<String> legacyTopics = new LinkedHashSet<>();
        sourceTables().forEach(t -> legacyTopics.add(Topics.legacy(prefix, t)));
        for (String n : names) {
            NewTopic topic = new NewTopic(n, partitions, rf);
            if (legacyTopics.contains(n)) {
                // The legacy history is what a new spec generation re-reads (its backfill), so it is
                // kept unless the operator chose a retention (legacy.topic.retention.ms).
                topic.configs(Map.of("retention.ms", String.valueOf(config.get(PipelineConfig.LEGACY_RETENTION_MS))));
            }
            topics.add(topic);
        }
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP)))) {
            admin.createTopics(topics).values().forEach((name, f) -> {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw new IllegalStateException("Cannot create topic '" + name + "' on " + config.get(PipelineConfig.KAFKA_BOOTSTRAP)
                                + ": " + e.getCause().getMessage(), e.getCause());
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException("Interrupted while creating topic " + name, e);
                }
            });
            // Co-partitioning check: the comparison joins new-schema and target topics per partition.
            Map<String, TopicDescription> described = describeWhenKnown(admin, names);
            for (TableMapping m : mappings) {
                int a = described.get(Topics.newSchema(prefix, m.targetTable())).partitions().size();
                int b = described.get(Topics.target(prefix, m.targetTable())).partitions().size();
                if (a != b) {
                    throw new IllegalStateException("Topics " + Topics.newSchema(prefix, m.targetTable()) + " (" + a + " partitions) and "
                            + Topics.target(prefix, m.targetTable()) + " (" + b + " partitions) must have the same partition count"
                            + " for the comparison; recreate one of them with " + Math.max(a, b) + " partitions");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while creating topics", e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot describe topics: " + e.getCause().getMessage(), e.getCause());
        }
    }

    /**
     * Describes topics just created. A broker learns of new topics from the controller's metadata
     * log asynchronously (KRaft), so a describe right after the create may still answer
     * UNKNOWN_TOPIC_OR_PARTITION; it is asked again for up to 10 s.
     */
    static Map<String, TopicDescription> describeWhenKnown(Admin admin, Set<String> names)
            throws InterruptedException, ExecutionException {
        long deadline = System.nanoTime() + Duration.ofSeconds(10).toNanos();
        while (true) {
            try {
                return admin.describeTopics(names).allTopicNames().get();
            } catch (ExecutionException e) {
                if (!(e.getCause() instanceof UnknownTopicOrPartitionException)
                        || System.nanoTime() > deadline) {
                    throw e;
                }
                Thread.sleep(100);
            }
        }
    }

    /** Every legacy table the mappings read, joined tables included. */
    public List<String> sourceTables() {
        return MigrationTopology.legacyTables(mappings);
    }

    public List<String> targetTables() {
        return mappings.stream().map(TableMapping::targetTable).distinct().toList();
    }

    public String prefix() {
        return prefix;
    }

    public RegistryClient registry() {
        return registry;
    }

    public CdcCapture legacyCapture() {
        return legacyCapture;
    }

    public CdcCapture targetCapture() {
        return targetCapture;
    }

    /** The shadow writer; null in dual-write mode ({@code comparison.mode=dual-write}). */
    public ShadowWriter writer() {
        return writer;
    }

    /** How far legacy transactions are complete in the new-schema topics; null with transaction boundaries off. */
    public TransactionWatermarks transactionWatermarks() {
        return watermarks;
    }

    public DriftMonitor drift() {
        return drift;
    }

    /** Each target's lineage in this generation, by target table ({@code ChangeHeaders.LINEAGE}). */
    public Map<String, Long> lineages() {
        return lineages;
    }

    /** This start's spec generation. */
    public MigrationGenerations.Generation generation() {
        return generation;
    }

    /**
     * The initial load this start did outside the stream ({@code initial.load=bulk}), or null when it
     * did none (loaded through the stream, found complete, or not a new pipeline).
     */
    public dev.understudy.load.BulkLoad.Result initialLoad() {
        return initialLoad == null ? null : initialLoad.result();
    }

    /** Progress of this generation's backfill (complete at once when it completed in an earlier run); null in dual-write mode. */
    public BackfillProgress backfill() {
        return backfill;
    }

    /** The migration application (legacy changes to new-schema rows). */
    public KafkaStreams migration() {
        return migration;
    }

    /** The comparison application (expected against actual rows). */
    public KafkaStreams comparison() {
        return comparison;
    }

    /** The first failure of any stage, or null while all run. */
    public Throwable failure() {
        if (legacyCapture != null && legacyCapture.failure() != null) {
            return legacyCapture.failure();
        }
        if (targetCapture != null && targetCapture.failure() != null) {
            return targetCapture.failure();
        }
        if (streamsFailure.get() != null) {
            return streamsFailure.get();
        }
        if (writer != null && writer.failure().isPresent()) {
            return writer.failure().get();
        }
        return null;
    }

    @Override
    public void close() {
        closeQuietly("backfill progress", backfill);
        closeQuietly("drift monitor", drift);
        closeQuietly("legacy capture", legacyCapture);
        for (KafkaStreams streams : new KafkaStreams[]{migration, comparison}) {
            if (streams != null) {
                try {
                    // Kafka Streams keeps its members in the group on close by default, so a restarted
                    // pipeline would wait out the session timeout (45 s) before getting its partitions.
                    streams.close(CloseOptions.timeout(Duration.ofSeconds(30))
                            .withGroupMembershipOperation(CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
                } catch (RuntimeException e) {
                    LOG.warn("Closing Kafka Streams: {}", e.toString());
                }
            }
        }
        closeQuietly("shadow writer", writer);
        closeQuietly("transaction watermarks", watermarks);
        closeQuietly("target capture", targetCapture);
    }

    private static void closeQuietly(String what, AutoCloseable c) {
        if (c == null) {
            return;
        }
        try {
            c.close();
        } catch (Exception e) {
            LOG.warn("Closing {}: {}", what, e.toString());
        }
    }
}

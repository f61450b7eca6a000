package dev.understudy.pipeline;

import dev.understudy.capture.CaptureSettings;
import dev.understudy.capture.CdcCapture;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.ComparisonSettings;
import dev.understudy.transform.PipelineTopology;
import dev.understudy.transform.StreamsProperties;
import dev.understudy.transform.TableMapping;
import dev.understudy.writer.ShadowWriter;
import dev.understudy.writer.ShadowWriterConfig;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.streams.KafkaStreams;
import org.apache.kafka.streams.errors.StreamsUncaughtExceptionHandler;
import org.flywaydb.core.Flyway;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The four stages wired together for one migration:
 * <pre>
 *   legacy WAL --capture--> &lt;p&gt;.legacy.* --migration topology--> &lt;p&gt;.new.* --shadow writer--> target tables
 *   target WAL --capture--> &lt;p&gt;.target.* --comparison topology (with &lt;p&gt;.new.*)--> &lt;p&gt;.divergence, &lt;p&gt;.drift
 * </pre>
 * The two topologies run as two Kafka Streams applications, {@code <name>-migration} and
 * {@code <name>-comparison}, so the comparison's work never delays rows on their way to the writer.
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
    private final String prefix;
    private final RegistryClient registry;
    private final AtomicReference<Throwable> streamsFailure = new AtomicReference<>();
    private CdcCapture legacyCapture;
    private CdcCapture targetCapture;
    private KafkaStreams migration;
    private KafkaStreams comparison;
    private ShadowWriter writer;
    private DriftMonitor drift;

    /** The shipped users migration, which needs the target at Flyway version {@value #USERS_FLYWAY_VERSION}. */
    public Pipeline(PipelineConfig config, List<TableMapping> mappings) {
        this(config, mappings, USERS_FLYWAY_VERSION);
    }

    /**
     * @param requiredFlywayVersion the target schema version the mappings are written for; the
     *                              pipeline refuses a target at any other version
     */
    public Pipeline(PipelineConfig config, List<TableMapping> mappings, String requiredFlywayVersion) {
        this.config = config;
        this.mappings = List.copyOf(mappings);
        this.requiredFlywayVersion = requiredFlywayVersion;
        this.prefix = config.get(PipelineConfig.PIPELINE_NAME);
        this.registry = new ConfluentRegistryClient(config.get(PipelineConfig.REGISTRY_URL), config.serdeConfig());
    }

    public Pipeline start() {
        Preflight.check(config);
        migrateTarget();
        SourceTables.check(config, sourceTables());
        createTopics();
        ContractRegistration.registerAll(registry, prefix, mappings, config.get(PipelineConfig.COMPATIBILITY));
        String bootstrap = config.get(PipelineConfig.KAFKA_BOOTSTRAP);
        try {
            targetCapture = new CdcCapture(captureSettings("target", config.get(PipelineConfig.TARGET_JDBC_URL),
                    config.get(PipelineConfig.TARGET_USER), config.get(PipelineConfig.TARGET_PASSWORD), targetTables()), registry).start();
            legacyCapture = new CdcCapture(captureSettings("legacy", config.get(PipelineConfig.LEGACY_JDBC_URL),
                    config.get(PipelineConfig.LEGACY_USER), config.get(PipelineConfig.LEGACY_PASSWORD), sourceTables()), registry).start();

            String stateDir = config.get(PipelineConfig.STATE_DIR);
            int threads = config.get(PipelineConfig.STREAMS_THREADS);
            migration = startStreams(PipelineTopology.migration(prefix, mappings, registry),
                    StreamsProperties.of(prefix + "-migration", bootstrap, stateDir, threads));
            comparison = startStreams(PipelineTopology.comparison(prefix, mappings, registry,
                            new ComparisonSettings(Duration.ofMillis(config.get(PipelineConfig.SETTLE_MS)), Duration.ofMillis(500))),
                    StreamsProperties.of(prefix + "-comparison", bootstrap, stateDir, threads));

            Map<String, String> writerTopics = new LinkedHashMap<>();
            for (TableMapping m : mappings) {
                writerTopics.put(Topics.newSchema(prefix, m.targetTable()), m.targetTable());
            }
            writer = new ShadowWriter(ShadowWriterConfig.of(bootstrap, prefix + "-shadow-writer", writerTopics,
                    config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                    config.get(PipelineConfig.TARGET_PASSWORD), prefix).withMaxBatchRecords(config.get(PipelineConfig.WRITER_BATCH)),
                    registry);
            writer.start();
            drift = new DriftMonitor(bootstrap, Topics.drift(prefix), registry);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        LOG.info("Pipeline '{}' started: {} table mapping(s)", prefix, mappings.size());
        return this;
    }

    private KafkaStreams startStreams(org.apache.kafka.streams.Topology topology, java.util.Properties properties) {
        String id = properties.getProperty(org.apache.kafka.streams.StreamsConfig.APPLICATION_ID_CONFIG);
        KafkaStreams streams = new KafkaStreams(topology, properties);
        streams.setUncaughtExceptionHandler(e -> {
            streamsFailure.compareAndSet(null, e);
            LOG.error("Kafka Streams application {} failed", id, e);
            return StreamsUncaughtExceptionHandler.StreamThreadExceptionResponse.SHUTDOWN_CLIENT;
        });
        streams.start();
        return streams;
    }

    private CaptureSettings captureSettings(String family, String url, String user, String password, List<String> tables) {
        return new CaptureSettings(prefix + "-" + family, family, url, user, password, tables, prefix,
                config.get(PipelineConfig.KAFKA_BOOTSTRAP), prefix + "_" + family, prefix + "_" + family,
                prefix + ".offsets." + family, config.get(PipelineConfig.TOPIC_REPLICATION).shortValue(),
                config.get(PipelineConfig.CAPTURE_POLL_MS), config.get(PipelineConfig.CAPTURE_BATCH));
    }

    /**
     * Applies the target schema's Flyway migrations up to the version the mappings are written for
     * (Flyway's target, so one folder can hold the migrations of several spec versions), then checks
     * the target is at exactly that version: a target ahead of or behind it would take rows of another shape.
     */
    private void migrateTarget() {
        String locations = config.get(PipelineConfig.FLYWAY_LOCATIONS);
        org.flywaydb.core.api.configuration.FluentConfiguration base = Flyway.configure()
                .dataSource(config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                        config.get(PipelineConfig.TARGET_PASSWORD))
                .locations(locations.split("\\s*,\\s*"));
        Flyway flyway;
        try {
            flyway = Flyway.configure().configuration(base).target(org.flywaydb.core.api.MigrationVersion.fromVersion(requiredFlywayVersion)).load();
            flyway.migrate();
        } catch (org.flywaydb.core.api.FlywayException e) {
            // Asked without a target, Flyway lists what the locations hold, for the message.
            String newest = java.util.Arrays.stream(base.load().info().all())
                    .filter(m -> m.getVersion() != null)
                    .map(m -> m.getVersion())
                    .max(java.util.Comparator.naturalOrder())
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
        List<NewTopic> topics = new ArrayList<>();
        for (String n : names) {
            topics.add(new NewTopic(n, partitions, rf));
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
            Map<String, org.apache.kafka.clients.admin.TopicDescription> described =
                    admin.describeTopics(names).allTopicNames().get();
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

    /** Every legacy table the mappings read, joined tables included. */
    public List<String> sourceTables() {
        return dev.understudy.transform.MigrationTopology.legacyTables(mappings);
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

    public ShadowWriter writer() {
        return writer;
    }

    public DriftMonitor drift() {
        return drift;
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
        closeQuietly("drift monitor", drift);
        closeQuietly("legacy capture", legacyCapture);
        for (KafkaStreams streams : new KafkaStreams[]{migration, comparison}) {
            if (streams != null) {
                try {
                    // Kafka Streams keeps its members in the group on close by default, so a restarted
                    // pipeline would wait out the session timeout (45 s) before getting its partitions.
                    streams.close(org.apache.kafka.streams.CloseOptions.timeout(Duration.ofSeconds(30))
                            .withGroupMembershipOperation(org.apache.kafka.streams.CloseOptions.GroupMembershipOperation.LEAVE_GROUP));
                } catch (RuntimeException e) {
                    LOG.warn("Closing Kafka Streams: {}", e.toString());
                }
            }
        }
        closeQuietly("shadow writer", writer);
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

package dev.understudy.pipeline;

import dev.understudy.capture.CaptureConfig;
import dev.understudy.capture.CaptureSettings;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.SerdeConfig;
import dev.understudy.schemas.SubjectNameStrategy;
import dev.understudy.schemas.config.ConfigKey;
import dev.understudy.schemas.config.ConfigValues;
import dev.understudy.transform.TransformConfig;
import dev.understudy.writer.ShadowWriterConfig;

import java.io.IOException;
import java.io.Reader;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * The pipeline's settings, composed like Debezium's connector configurations: each module declares the
 * keys it reads ({@link ConfigKey}, orchestration's own below, the stages' in {@link CaptureConfig},
 * {@link TransformConfig} and {@link ShadowWriterConfig}), and {@link #KEYS} is their union. Every key
 * is validated at start, all problems reported together. The keys written by {@code understudy dev} are
 * a subset of these, so its settings file works with {@code understudy run --config} as is.
 */
public final class PipelineConfig {
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,40}");

    public static final ConfigKey<String> LEGACY_JDBC_URL = ConfigKey.requiredString("legacy.jdbc.url",
            "JDBC URL of the legacy PostgreSQL database (jdbc:postgresql://host:port/database); needs wal_level=logical.")
            .withValidator(PipelineConfig::jdbcUrlProblem);
    public static final ConfigKey<String> LEGACY_USER = ConfigKey.requiredString("legacy.user",
            "Legacy database user; needs the REPLICATION attribute and SELECT on the captured tables.");
    public static final ConfigKey<String> LEGACY_PASSWORD = ConfigKey.secret("legacy.password", "", "Legacy database password.");
    public static final ConfigKey<String> TARGET_JDBC_URL = ConfigKey.requiredString("target.jdbc.url",
            "JDBC URL of the target (new) PostgreSQL database; needs wal_level=logical, since the comparison reads what it holds from its WAL.")
            .withValidator(PipelineConfig::jdbcUrlProblem);
    public static final ConfigKey<String> TARGET_USER = ConfigKey.requiredString("target.user",
            "Target database user; needs REPLICATION, and rights to create tables (Flyway migrations and the writer's bookkeeping schema 'understudy').");
    public static final ConfigKey<String> TARGET_PASSWORD = ConfigKey.secret("target.password", "", "Target database password.");
    public static final ConfigKey<String> KAFKA_BOOTSTRAP = ConfigKey.requiredString("kafka.bootstrap.servers",
            "Kafka bootstrap servers, host:port[,host:port...].");
    public static final ConfigKey<String> REGISTRY_URL = ConfigKey.requiredString("registry.url",
            "Confluent-compatible schema registry base URL, e.g. http://localhost:8081.")
            .withValidator(v -> v.startsWith("http://") || v.startsWith("https://") ? null : "must start with http:// or https://");
    public static final ConfigKey<String> SUBJECT_STRATEGY = ConfigKey.choice("registry.subject.name.strategy", "topic",
            List.of("topic", "record", "topic_record"),
            "How subjects are named, as Confluent's serializers do: topic (<topic>-key/-value, TopicNameStrategy), record (the record's full name) or topic_record (<topic>-<record full name>).");
    public static final ConfigKey<Boolean> AUTO_REGISTER = ConfigKey.bool("registry.auto.register", true,
            "Register a schema a subject lacks (auto.register.schemas). When false, every schema written must already be registered.");
    public static final ConfigKey<Boolean> USE_LATEST = ConfigKey.bool("registry.use.latest.version", false,
            "Write with each subject's latest registered schema instead of the record's own (use.latest.version); fields are matched by name.");
    public static final ConfigKey<String> COMPATIBILITY = ConfigKey.choice("registry.compatibility", "BACKWARD",
            RegistryClient.LEVELS,
            "Compatibility level set on the subjects of the new-schema contracts before they are registered; an incompatible contract stops the start.");
    public static final ConfigKey<String> FLYWAY_LOCATIONS = ConfigKey.string("target.flyway.locations", "classpath:flyway/users",
            "Flyway locations of the target schema's versioned migrations (comma-separated; classpath:... or filesystem:...), applied at start.");
    public static final ConfigKey<String> PIPELINE_NAME = ConfigKey.string("pipeline.name", "understudy",
            "Name of this pipeline: prefix of its topics, consumer groups and Streams application id, and part of its replication slot and publication names. Lower-case letters, digits and _.")
            .withValidator(v -> NAME.matcher(v).matches() ? null : "must match [a-z][a-z0-9_]{0,40}");
    public static final ConfigKey<String> INSTANCE_ID = ConfigKey.string("pipeline.instance.id", "",
            "Static group membership (group.instance.id, KIP-345) of this process's Kafka consumers: the shadow writer's and both Kafka"
                    + " Streams applications' (each stream thread adds -<n>). A process restarted after a crash with the same id gets its"
                    + " partitions back at once, instead of after the dead member's session timeout (45 s). Empty: the pipeline name, right"
                    + " for the usual single `run` process of a pipeline; give each process its own id when several run one pipeline (two"
                    + " live processes with one id fence each other); 'off': dynamic membership.")
            .withValidator(v -> v.length() <= 200 && v.chars().allMatch(ch -> ch > ' ' && ch < 127) ? null
                    : "must be at most 200 printable ASCII characters without spaces");
    public static final ConfigKey<Integer> TOPIC_PARTITIONS = ConfigKey.positiveInt("topic.partitions", 3,
            "Partitions of each change, new-schema and comparison topic; the parallelism of Streams tasks and writers.");
    public static final ConfigKey<Integer> TOPIC_REPLICATION = ConfigKey.positiveInt("topic.replication.factor", 1,
            "Replication factor of the topics the pipeline creates (use 3 on a production cluster).");
    public static final ConfigKey<Long> LEGACY_RETENTION_MS = new ConfigKey<>("legacy.topic.retention.ms", Long.class, -1L, false, false,
            "retention.ms of the legacy change topics when the pipeline creates them; -1 keeps every change. A new spec version re-reads"
                    + " the legacy history from these topics; tables whose history was truncated are re-read from the legacy database"
                    + " by a Debezium incremental snapshot instead.",
            v -> v == -1 || v > 0 ? null : "must be -1 (keep forever) or greater than 0");
    public static final ConfigKey<Long> CUTOVER_DRIFT_WINDOW_MS = ConfigKey.positiveLong("cutover.drift.window.ms", 300000,
            "Milliseconds drift must have been zero on every comparison task before understudy cutover status says READY.");
    public static final ConfigKey<Long> CUTOVER_MAX_LAG_MS = ConfigKey.positiveLong("cutover.max.lag.ms", 5000,
            "Most end-to-end lag (from a legacy position until the target applied everything before it), in milliseconds, that"
                    + " understudy cutover status accepts for READY.");

    public static final ConfigKey<String> INITIAL_LOAD = ConfigKey.choice("initial.load", "snapshot", List.of("snapshot", "bulk"),
            "How a new pipeline loads the rows the legacy tables hold when it first starts. snapshot: Debezium's initial snapshot,"
                    + " every row through capture, migration and writer. bulk: the rows are read in parallel chunks at the replication"
                    + " slot's exported snapshot, mapped by the migration's own code, written into the target by COPY, and the"
                    + " migration's and the comparison's state is seeded from them, so streaming goes on from the slot's consistent"
                    + " point; single-table targets only, into empty target tables (docs/architecture.md, \"Bulk initial load\").");
    public static final ConfigKey<Integer> INITIAL_LOAD_WORKERS = ConfigKey.positiveInt("initial.load.workers", 2,
            "Chunks a bulk initial load (initial.load=bulk) works on at once, each on its own connections to both databases.");
    public static final ConfigKey<Long> INITIAL_LOAD_CHUNK_ROWS = ConfigKey.positiveLong("initial.load.chunk.rows", 50000,
            "Rows per chunk of a bulk initial load, about (planned from the table's statistics); each chunk is one target"
                    + " transaction per target table.");

    /** The keys orchestration reads itself: connections, registry, target schema, topics, pipeline name, cutover. */
    public static final List<ConfigKey<?>> OWN_KEYS = List.of(LEGACY_JDBC_URL, LEGACY_USER, LEGACY_PASSWORD, TARGET_JDBC_URL,
            TARGET_USER, TARGET_PASSWORD, KAFKA_BOOTSTRAP, REGISTRY_URL, SUBJECT_STRATEGY, AUTO_REGISTER, USE_LATEST, COMPATIBILITY,
            FLYWAY_LOCATIONS, PIPELINE_NAME, INSTANCE_ID, TOPIC_PARTITIONS, TOPIC_REPLICATION, LEGACY_RETENTION_MS, CUTOVER_DRIFT_WINDOW_MS,
            CUTOVER_MAX_LAG_MS, INITIAL_LOAD, INITIAL_LOAD_WORKERS, INITIAL_LOAD_CHUNK_ROWS);

    /**
     * Every key of the pipeline: its own, then each stage's, declared where they are read
     * ({@link CaptureConfig#KEYS}, {@link TransformConfig#KEYS}, {@link ShadowWriterConfig#KEYS}).
     */
    public static final List<ConfigKey<?>> KEYS = Stream.of(OWN_KEYS, CaptureConfig.KEYS, TransformConfig.KEYS, ShadowWriterConfig.KEYS)
            .flatMap(List::stream).toList();

    private final ConfigValues values;

    private PipelineConfig(ConfigValues values) {
        this.values = values;
    }

    /** The value of any key of {@link #KEYS}, whichever module declares it. */
    public <T> T get(ConfigKey<T> key) {
        return values.get(key);
    }

    /** The parsed values, for a stage to build its settings from (e.g. {@link CaptureConfig#from}). */
    public ConfigValues values() {
        return values;
    }

    /**
     * Validates every key at once, and the stages' checks between keys; throws {@link ConfigException}
     * listing all problems.
     */
    public static PipelineConfig parse(Map<String, String> raw, String source) {
        List<String> problems = new ArrayList<>();
        ConfigValues values = ConfigValues.parse(KEYS, raw, problems);
        problems.addAll(CaptureConfig.problems(values));
        if (!problems.isEmpty()) {
            throw new ConfigException(source, problems);
        }
        return new PipelineConfig(values);
    }

    public static PipelineConfig load(Path file) {
        Properties p = new Properties();
        try (Reader r = Files.newBufferedReader(file)) {
            p.load(r);
        } catch (NoSuchFileException e) {
            throw new ConfigException(file.toString(), List.of("config file not found: " + file.toAbsolutePath()
                    + "; pass an existing file, e.g. the one 'understudy dev' writes"));
        } catch (IOException | IllegalArgumentException e) {
            throw new ConfigException(file.toString(), List.of("config file is not a valid properties file: " + e.getMessage()));
        }
        Map<String, String> raw = new LinkedHashMap<>();
        for (String name : p.stringPropertyNames()) {
            raw.put(name, p.getProperty(name));
        }
        return parse(raw, file.toString());
    }

    /** Config text with secrets hidden, for logs. */
    public String describe() {
        StringBuilder sb = new StringBuilder();
        for (ConfigKey<?> key : KEYS) {
            Object v = values.get(key);
            sb.append("  ").append(key.name()).append(" = ").append(key.secret() && v != null && !v.toString().isEmpty() ? "******" : v).append('\n');
        }
        return sb.toString();
    }

    /** The serializer settings of this pipeline. */
    public SerdeConfig serdeConfig() {
        return new SerdeConfig(SubjectNameStrategy.parse(get(SUBJECT_STRATEGY)),
                get(AUTO_REGISTER), get(USE_LATEST));
    }

    private static String jdbcUrlProblem(String url) {
        try {
            CaptureSettings.JdbcTarget.parse(url);
            return null;
        } catch (IllegalArgumentException e) {
            return e.getMessage();
        }
    }
}

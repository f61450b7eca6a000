package dev.understudy.capture;

import dev.understudy.schemas.config.ConfigKey;
import dev.understudy.schemas.config.ConfigValues;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The capture's tunables: every {@code capture.*} key, declared here with its default and the reason
 * for it, and one value object of them that {@link CaptureSettings} carries into the Debezium and
 * producer properties ({@link CaptureSettings#debeziumProperties()}, {@link CdcCapture}). Like
 * Debezium's {@code PostgresConnectorConfig}: the keys are the declarations, an instance reads them
 * from a {@link ConfigValues}. The pipeline composes {@link #KEYS} into its configuration; both of its
 * captures (legacy and target) use the same values.
 */
public final class CaptureConfig {
    public static final ConfigKey<Long> POLL_INTERVAL_MS = ConfigKey.positiveLong("capture.poll.interval.ms", 10,
            "Milliseconds Debezium waits for new changes before handing over a batch (poll.interval.ms; Debezium's default of 500 adds that much lag).");
    public static final ConfigKey<Integer> MAX_BATCH_SIZE = ConfigKey.positiveInt("capture.max.batch.size", 4096,
            "Most changes Debezium hands over in one batch (max.batch.size; Debezium's default is 2048). The capture produces a"
                    + " batch to Kafka and waits for every acknowledgement before taking the next, so larger batches mean fewer waits.");
    /**
     * 0 derives the queue from the batch size, as the capture always did: Debezium refuses a
     * {@code max.queue.size} not larger than {@code max.batch.size} (its {@code CommonConnectorConfig}
     * validator), and four batches let the connector read on while one is being produced.
     */
    public static final ConfigKey<Integer> MAX_QUEUE_SIZE = new ConfigKey<>("capture.max.queue.size", Integer.class, 0, false, false,
            "Most changes held in Debezium's queue between the connector and the capture (max.queue.size; must be larger than"
                    + " capture.max.batch.size); bounds the memory of changes read but not yet produced. 0 means 4 x capture.max.batch.size"
                    + " (16384 with the default batch size).",
            v -> v >= 0 ? null : "must be 0 (4 x capture.max.batch.size) or greater");
    /**
     * Debezium's default is 0 (no heartbeats). Heartbeats let the slot's confirmed position advance while
     * the captured tables are idle but the database writes elsewhere: each runs
     * {@code heartbeat.action.query} against the capture's heartbeat table
     * ({@link CaptureSettings#heartbeatTable()}), a captured change; otherwise the slot pins WAL.
     */
    public static final ConfigKey<Long> HEARTBEAT_INTERVAL_MS = ConfigKey.positiveLong("capture.heartbeat.interval.ms", 5000,
            "Milliseconds between Debezium heartbeats (heartbeat.interval.ms). Each writes the capture's heartbeat table, so the"
                    + " replication slot's confirmed position keeps up with the WAL while the captured tables are idle; longer"
                    + " intervals let an idle capture's slot hold that much more WAL.");
    public static final ConfigKey<Integer> SNAPSHOT_FETCH_SIZE = ConfigKey.positiveInt("capture.snapshot.fetch.size", 10240,
            "Rows fetched per round trip while the initial snapshot reads a table (snapshot.fetch.size, the JDBC fetch size of"
                    + " its cursor; Debezium's default for PostgreSQL is 10240). Bounds the snapshot's rows in memory.");
    /**
     * Debezium's default is 1024. Every chunk costs a window: two watermark rows inserted into the signal
     * table and read back from the WAL before the chunk's rows are emitted, so small chunks make
     * re-reading a large table slow. The chunk is buffered in memory while its window is open (Debezium
     * drops buffered rows that the stream changes inside the window), so the size also bounds that
     * buffer: 4096 rows of a few hundred bytes is a few MB, the same order as one {@code max.queue.size}
     * of change events.
     */
    public static final ConfigKey<Integer> INCREMENTAL_SNAPSHOT_CHUNK_SIZE = ConfigKey.positiveInt("capture.incremental.snapshot.chunk.size",
            4096,
            "Rows per incremental-snapshot chunk (incremental.snapshot.chunk.size; Debezium's default is 1024). Each chunk costs two"
                    + " watermark rows in the signal table and is buffered in memory while its window is open: larger chunks re-read"
                    + " tables faster with more memory.");
    /**
     * Kafka Connect's default is 60000. A batch's offsets only become eligible once Kafka acknowledged
     * its records ({@link CdcCapture}), so a crash replays at most the changes since the last flush and
     * never skips one; flushing every second keeps that replay short.
     */
    public static final ConfigKey<Long> OFFSET_FLUSH_INTERVAL_MS = ConfigKey.positiveLong("capture.offset.flush.interval.ms", 1000,
            "Milliseconds between commits of the capture's source offsets (the LSN to resume from) to its offsets topic"
                    + " (offset.flush.interval.ms; Kafka Connect's default is 60000). After a crash the capture replays the changes"
                    + " since the last commit.");
    public static final ConfigKey<Long> OFFSET_FLUSH_TIMEOUT_MS = ConfigKey.positiveLong("capture.offset.flush.timeout.ms", 10000,
            "Most milliseconds an offset commit may take before it is abandoned and retried at the next interval"
                    + " (offset.flush.timeout.ms; Kafka Connect's default is 5000).");
    /** Kafka's default since 4.0 (KIP-1030): batches fill under load, and a lone change waits at most this long. */
    public static final ConfigKey<Integer> PRODUCER_LINGER_MS = new ConfigKey<>("capture.producer.linger.ms", Integer.class, 5, false, false,
            "Milliseconds the capture's producer waits to fill a batch of change events (linger.ms); adds at most that much lag.",
            v -> v >= 0 ? null : "must be 0 or greater");
    /** Kafka's default is 16384 bytes; a snapshot produces rows far faster than that fills, so larger batches keep up. */
    public static final ConfigKey<Integer> PRODUCER_BATCH_SIZE = ConfigKey.positiveInt("capture.producer.batch.size", 262_144,
            "Bytes per batch of change events the capture's producer sends to one partition (batch.size; Kafka's default is 16384).");
    public static final ConfigKey<String> PRODUCER_COMPRESSION_TYPE = ConfigKey.choice("capture.producer.compression.type", "lz4",
            List.of("none", "gzip", "snappy", "lz4", "zstd"),
            "Compression of the change event batches the capture produces, and of the records a bulk initial load produces in its"
                    + " place (compression.type; Kafka's default is none).");

    /** Every key the capture reads, for the pipeline to compose into its configuration. */
    public static final List<ConfigKey<?>> KEYS = List.of(POLL_INTERVAL_MS, MAX_BATCH_SIZE, MAX_QUEUE_SIZE, HEARTBEAT_INTERVAL_MS,
            SNAPSHOT_FETCH_SIZE, INCREMENTAL_SNAPSHOT_CHUNK_SIZE, OFFSET_FLUSH_INTERVAL_MS, OFFSET_FLUSH_TIMEOUT_MS, PRODUCER_LINGER_MS,
            PRODUCER_BATCH_SIZE, PRODUCER_COMPRESSION_TYPE);

    /** Every key at its default. */
    public static final CaptureConfig DEFAULTS = of(Map.of());

    private final ConfigValues values;

    private CaptureConfig(ConfigValues values) {
        this.values = values;
    }

    /**
     * The capture's keys of {@code values} (a configuration {@link #KEYS} were composed into).
     *
     * @throws IllegalArgumentException listing the {@link #problems(ConfigValues) problems between keys}
     */
    public static CaptureConfig from(ConfigValues values) {
        List<String> problems = problems(values);
        if (!problems.isEmpty()) {
            throw new IllegalArgumentException("Invalid capture configuration:\n  - " + String.join("\n  - ", problems));
        }
        return new CaptureConfig(values.select(KEYS));
    }

    /**
     * Parses {@code capture.*} keys (name to text); the others keep their defaults.
     *
     * @throws IllegalArgumentException listing every problem, each naming its key
     */
    public static CaptureConfig of(Map<String, String> raw) {
        return from(ConfigValues.parse(KEYS, raw));
    }

    /**
     * Problems between keys, which no single key's validator sees; empty when there are none. A key whose
     * own value was refused (no value in {@code values}) is not checked again.
     */
    public static List<String> problems(ConfigValues values) {
        List<String> problems = new ArrayList<>();
        Integer batch = values.get(MAX_BATCH_SIZE);
        Integer queue = values.get(MAX_QUEUE_SIZE);
        if (batch == null || queue == null) {
            return problems;
        }
        if (queue == 0 && batch > Integer.MAX_VALUE / 4) {
            problems.add("key '" + MAX_BATCH_SIZE.name() + "' has value '" + batch + "': must be at most " + Integer.MAX_VALUE / 4
                    + " while " + MAX_QUEUE_SIZE.name() + " is 0 (4 x the batch size); lower it or set " + MAX_QUEUE_SIZE.name());
        } else if (queue != 0 && queue <= batch) {
            problems.add("key '" + MAX_QUEUE_SIZE.name() + "' has value '" + queue + "': must be greater than " + MAX_BATCH_SIZE.name()
                    + " (" + batch + "), as Debezium requires of max.queue.size; raise it, or set it to 0 for 4 x "
                    + MAX_BATCH_SIZE.name());
        }
        return problems;
    }

    public long pollIntervalMs() {
        return values.get(POLL_INTERVAL_MS);
    }

    public int maxBatchSize() {
        return values.get(MAX_BATCH_SIZE);
    }

    /** Debezium's {@code max.queue.size}: the configured one, or 4 x {@link #maxBatchSize()} when it is 0. */
    public int maxQueueSize() {
        int queue = values.get(MAX_QUEUE_SIZE);
        return queue == 0 ? maxBatchSize() * 4 : queue;
    }

    public long heartbeatIntervalMs() {
        return values.get(HEARTBEAT_INTERVAL_MS);
    }

    public int snapshotFetchSize() {
        return values.get(SNAPSHOT_FETCH_SIZE);
    }

    public int incrementalSnapshotChunkSize() {
        return values.get(INCREMENTAL_SNAPSHOT_CHUNK_SIZE);
    }

    public long offsetFlushIntervalMs() {
        return values.get(OFFSET_FLUSH_INTERVAL_MS);
    }

    public long offsetFlushTimeoutMs() {
        return values.get(OFFSET_FLUSH_TIMEOUT_MS);
    }

    public int producerLingerMs() {
        return values.get(PRODUCER_LINGER_MS);
    }

    public int producerBatchSize() {
        return values.get(PRODUCER_BATCH_SIZE);
    }

    public String producerCompressionType() {
        return values.get(PRODUCER_COMPRESSION_TYPE).toLowerCase(Locale.ROOT);
    }

    @Override
    public boolean equals(Object o) {
        return o instanceof CaptureConfig other && values.equals(other.values);
    }

    @Override
    public int hashCode() {
        return values.hashCode();
    }

    @Override
    public String toString() {
        return "CaptureConfig" + values;
    }
}

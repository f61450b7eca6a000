package dev.understudy.writer;

import dev.understudy.schemas.Topics;
import dev.understudy.schemas.config.ConfigKey;

import java.time.Duration;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;

/**
 * Configuration of a {@link ShadowWriter}, and the {@code writer.*} keys it is built from (declared here,
 * composed into the pipeline's configuration through {@link #KEYS}).
 *
 * @param bootstrapServers    Kafka bootstrap servers
 * @param groupId             consumer group; offsets are committed under it after each database commit
 * @param topicTables         new-schema topic to schema-qualified target table; tables are applied in
 *                            this order within a transaction (list parents before children)
 * @param jdbcUrl             target database, e.g. {@code jdbc:postgresql://host:5432/db}
 * @param user                database user
 * @param password            database password
 * @param prefix              topic prefix; the dead-letter topic is {@code <prefix>.dlq}
 * @param maxBatchRecords     most records per poll, hence per database transaction
 * @param pollTimeout         how long a poll waits for records
 * @param retryBackoffInitial first wait after a retriable failure; doubles on each further failure
 * @param retryBackoffMax     cap on the wait
 * @param kafkaProperties     extra consumer and producer properties (security, client ids, ...), applied last
 */
public record ShadowWriterConfig(String bootstrapServers, String groupId, Map<String, String> topicTables,
                                 String jdbcUrl, String user, String password, String prefix, int maxBatchRecords,
                                 Duration pollTimeout, Duration retryBackoffInitial, Duration retryBackoffMax,
                                 Map<String, String> kafkaProperties) {

    /** A compile-time constant, so that command-line options can show it as their default. */
    public static final int DEFAULT_MAX_BATCH_RECORDS = 5000;
    public static final ConfigKey<Integer> MAX_BATCH_RECORDS = ConfigKey.positiveInt("writer.max.batch.records", DEFAULT_MAX_BATCH_RECORDS,
            "Most records the shadow writer applies in one target transaction.");
    /** Read by {@link ShadowWriter#setMaxRecordsPerSecond(double)}; {@code understudy throttle} overrides it at run time. */
    public static final ConfigKey<Long> MAX_RECORDS_PER_SECOND = new ConfigKey<>("writer.max.records.per.second", Long.class, 0L, false, false,
            "Most new-schema records the shadow writer applies per second, to spare a target that serves other work; 0 means no limit."
                    + " Held-back time shows as the writer's throttled time and lag.",
            v -> v >= 0 ? null : "must be 0 (no limit) or more");
    /** On: the writer is given the transaction watermarks ({@link ShadowWriter#alignTransactions}). */
    public static final ConfigKey<Boolean> TRANSACTION_BOUNDARIES = ConfigKey.bool("writer.transaction.boundaries", true,
            "Apply each legacy transaction's rows to the target in one target transaction, so readers of the target never see half"
                    + " of one (Debezium transaction metadata; the writer holds a transaction's rows until all of them reached the"
                    + " new-schema topics). false applies rows as they arrive, with less lag.");
    /** Every key the writer reads, for the pipeline to compose into its configuration. */
    public static final List<ConfigKey<?>> KEYS = List.of(MAX_BATCH_RECORDS, MAX_RECORDS_PER_SECOND, TRANSACTION_BOUNDARIES);
    public static final Duration DEFAULT_POLL_TIMEOUT = Duration.ofMillis(100);
    public static final Duration DEFAULT_RETRY_BACKOFF_INITIAL = Duration.ofMillis(100);
    public static final Duration DEFAULT_RETRY_BACKOFF_MAX = Duration.ofSeconds(30);

    public ShadowWriterConfig {
        Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        Objects.requireNonNull(groupId, "groupId");
        Objects.requireNonNull(jdbcUrl, "jdbcUrl");
        Objects.requireNonNull(prefix, "prefix");
        Objects.requireNonNull(pollTimeout, "pollTimeout");
        Objects.requireNonNull(retryBackoffInitial, "retryBackoffInitial");
        Objects.requireNonNull(retryBackoffMax, "retryBackoffMax");
        if (topicTables == null || topicTables.isEmpty()) {
            throw new IllegalArgumentException("topicTables is empty: map at least one new-schema topic to its target table");
        }
        if (maxBatchRecords < 1) {
            throw new IllegalArgumentException("maxBatchRecords must be at least 1, was " + maxBatchRecords);
        }
        if (retryBackoffInitial.isNegative() || retryBackoffInitial.isZero() || retryBackoffMax.compareTo(retryBackoffInitial) < 0) {
            throw new IllegalArgumentException("retry backoff must satisfy 0 < initial <= max, was " + retryBackoffInitial
                    + " / " + retryBackoffMax);
        }
        topicTables = Collections.unmodifiableMap(new LinkedHashMap<>(topicTables));
        kafkaProperties = kafkaProperties == null ? Map.of() : Collections.unmodifiableMap(new LinkedHashMap<>(kafkaProperties));
    }

    /** A configuration with the default batch size, poll timeout and backoff. */
    public static ShadowWriterConfig of(String bootstrapServers, String groupId, Map<String, String> topicTables,
                                        String jdbcUrl, String user, String password, String prefix) {
        return new ShadowWriterConfig(bootstrapServers, groupId, topicTables, jdbcUrl, user, password, prefix,
                DEFAULT_MAX_BATCH_RECORDS, DEFAULT_POLL_TIMEOUT, DEFAULT_RETRY_BACKOFF_INITIAL, DEFAULT_RETRY_BACKOFF_MAX,
                Map.of());
    }

    /** Maps each table to its new-schema topic, {@code <prefix>.new.<schema>.<table>}, keeping the order given. */
    public static Map<String, String> topicsFor(String prefix, List<String> qualifiedTables) {
        Map<String, String> map = new LinkedHashMap<>();
        for (String table : qualifiedTables) {
            map.put(Topics.newSchema(prefix, table), table);
        }
        return map;
    }

    public ShadowWriterConfig withMaxBatchRecords(int max) {
        return new ShadowWriterConfig(bootstrapServers, groupId, topicTables, jdbcUrl, user, password, prefix, max,
                pollTimeout, retryBackoffInitial, retryBackoffMax, kafkaProperties);
    }

    public ShadowWriterConfig withPollTimeout(Duration timeout) {
        return new ShadowWriterConfig(bootstrapServers, groupId, topicTables, jdbcUrl, user, password, prefix,
                maxBatchRecords, timeout, retryBackoffInitial, retryBackoffMax, kafkaProperties);
    }

    public ShadowWriterConfig withRetryBackoff(Duration initial, Duration max) {
        return new ShadowWriterConfig(bootstrapServers, groupId, topicTables, jdbcUrl, user, password, prefix,
                maxBatchRecords, pollTimeout, initial, max, kafkaProperties);
    }

    public ShadowWriterConfig withKafkaProperties(Map<String, String> properties) {
        return new ShadowWriterConfig(bootstrapServers, groupId, topicTables, jdbcUrl, user, password, prefix,
                maxBatchRecords, pollTimeout, retryBackoffInitial, retryBackoffMax, properties);
    }

    /** The dead-letter topic, {@code <prefix>.dlq}. */
    public String deadLetterTopic() {
        return Topics.deadLetter(prefix);
    }

    @Override
    public String toString() {
        return "ShadowWriterConfig[bootstrapServers=" + bootstrapServers + ", groupId=" + groupId + ", topicTables="
                + topicTables + ", jdbcUrl=" + jdbcUrl + ", user=" + user + ", password=" + (password == null ? "null" : "****")
                + ", prefix=" + prefix + ", maxBatchRecords=" + maxBatchRecords + ", pollTimeout=" + pollTimeout
                + ", retryBackoff=" + retryBackoffInitial + ".." + retryBackoffMax + ", kafkaProperties=" + kafkaProperties.keySet() + "]";
    }
}

package dev.understudy.verify;

import dev.understudy.capture.CaptureSettings;
import dev.understudy.capture.Signals;
import dev.understudy.pipeline.KafkaOffsets;
import dev.understudy.pipeline.MigrationGenerations;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.Topics;
import dev.understudy.writer.WriterBookkeeping;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;

/**
 * Waits until the target holds every legacy change committed before a WAL position, so that a
 * legacy snapshot taken at that position can be compared with the target. Three hops, each proven
 * from durable state rather than guessed from time:
 * <ol>
 *   <li>the legacy capture: its replication slot's {@code confirmed_flush_lsn} reached the position
 *   (Debezium confirms an LSN only after the changes before it were acknowledged by Kafka);</li>
 *   <li>the migration: its Kafka Streams group committed the legacy topics' end offsets measured
 *   after that, then, one round per internal topic, those topics' ends (a Streams task commits its
 *   input offsets only after flushing what it produced from them);</li>
 *   <li>the writer: its positions stored in the target reached the new-schema topics' end offsets
 *   measured after that, or its applied source commit order (transaction boundaries) passed the
 *   position, which covers every transaction committed before it.</li>
 * </ol>
 */
public final class CatchUp implements AutoCloseable {
    private static final long POLL_MS = 100;

    private final PipelineConfig config;
    private final String prefix;
    private final List<String> legacyTopics;
    private final List<String> newSchemaTopics;
    private final Admin admin;
    private final KafkaOffsets offsets;

    public CatchUp(PipelineConfig config, List<String> legacyTables, List<String> targetTables) {
        this.config = config;
        this.prefix = config.get(PipelineConfig.PIPELINE_NAME);
        this.legacyTopics = legacyTables.stream().map(t -> Topics.legacy(prefix, t)).toList();
        this.newSchemaTopics = targetTables.stream().map(t -> Topics.newSchema(prefix, t)).toList();
        this.admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP)));
        this.offsets = new KafkaOffsets(admin);
    }

    /** Blocks until the target holds every change committed before {@code lsn}; says what it waits for when it times out. */
    public void await(long lsn, Duration timeout) throws Exception {
        long deadline = System.nanoTime() + timeout.toNanos();
        String slot = prefix + "_legacy";
        try (Connection legacy = DriverManager.getConnection(config.get(PipelineConfig.LEGACY_JDBC_URL), config.get(PipelineConfig.LEGACY_USER),
                config.get(PipelineConfig.LEGACY_PASSWORD))) {
            nudge(legacy);
            while (true) {
                long confirmed = confirmedFlush(legacy, slot);
                if (confirmed >= lsn) {
                    break;
                }
                check(deadline, "the legacy capture (slot " + slot + ") to confirm LSN " + lsn + "; it confirmed " + confirmed
                        + ". Is the pipeline running?");
            }
        }
        String group = Topics.migrationApplication(prefix, new MigrationGenerations(config.get(PipelineConfig.TARGET_JDBC_URL),
                config.get(PipelineConfig.TARGET_USER), config.get(PipelineConfig.TARGET_PASSWORD)).newest(prefix));
        awaitCommitted(group, offsets.ends(offsets.partitions(legacyTopics)), deadline, "the migration (" + group + ") to read the legacy topics");
        List<TopicPartition> internal = offsets.internalPartitions(group);
        long rounds = internal.stream().map(TopicPartition::topic).distinct().count();
        for (int r = 0; r < rounds; r++) {
            awaitCommitted(group, offsets.ends(internal), deadline, "the migration (" + group + ") to drain its internal topics");
        }
        Map<TopicPartition, Long> newEnds = offsets.ends(offsets.partitions(newSchemaTopics));
        String writerGroup = Topics.writerGroup(prefix);
        try (Connection target = DriverManager.getConnection(config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                config.get(PipelineConfig.TARGET_PASSWORD))) {
            while (true) {
                if (writerPast(target, writerGroup, newEnds)
                        || WriterBookkeeping.appliedCommitOrder(target, writerGroup).orElse(Long.MIN_VALUE) >= lsn) {
                    return;
                }
                check(deadline, "the shadow writer (" + writerGroup + ") to apply the new-schema topics up to " + newEnds
                        + ". Is it running, paused (understudy throttle) or failing?");
            }
        }
    }

    /**
     * Writes the legacy capture's heartbeat table: a captured change after the position waited for, so
     * the slot confirms past it within an offset flush even when the legacy tables are idle (without it,
     * the next Debezium heartbeat does the same, seconds later).
     */
    private void nudge(Connection legacy) {
        String table = CaptureSettings.defaultHeartbeatTable(prefix + "-legacy");
        try {
            Signals.nudge(legacy, table);
        } catch (SQLException e) {
            LoggerFactory.getLogger(CatchUp.class).debug("Could not write {}: {}", table, e.getMessage());
        }
    }

    private static long confirmedFlush(Connection legacy, String slot) throws SQLException {
        try (PreparedStatement ps = legacy.prepareStatement("SELECT (confirmed_flush_lsn - '0/0')::bigint FROM pg_replication_slots WHERE slot_name = ?")) {
            ps.setString(1, slot);
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new IllegalStateException("The legacy database has no replication slot '" + slot + "': the pipeline '"
                            + config(slot) + "' never ran there; start it (understudy run) before verifying, or verify with --no-wait");
                }
                return rs.getLong(1);
            }
        }
    }

    private static String config(String slot) {
        return slot.substring(0, slot.length() - "_legacy".length());
    }

    private void awaitCommitted(String group, Map<TopicPartition, Long> goal, long deadline, String what) throws Exception {
        while (true) {
            Map<TopicPartition, Long> committed = offsets.committed(group);
            if (KafkaOffsets.reached(committed, goal)) {
                return;
            }
            check(deadline, what + " up to " + goal + "; committed " + committed);
        }
    }

    private static boolean writerPast(Connection target, String group, Map<TopicPartition, Long> ends) throws SQLException {
        Optional<Map<TopicPartition, Long>> applied = WriterBookkeeping.appliedPositions(target, group);
        if (applied.isEmpty()) {
            return ends.values().stream().allMatch(v -> v == 0);
        }
        Map<TopicPartition, Long> positions = applied.get();
        return ends.entrySet().stream().allMatch(e -> e.getValue() == 0 || positions.getOrDefault(e.getKey(), 0L) >= e.getValue());
    }

    private static void check(long deadline, String waitingFor) throws InterruptedException {
        if (System.nanoTime() > deadline) {
            throw new IllegalStateException("Timed out waiting for " + waitingFor);
        }
        Thread.sleep(POLL_MS);
    }

    @Override
    public void close() {
        admin.close(Duration.ofSeconds(2));
    }
}

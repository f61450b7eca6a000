package dev.understudy.capture;

import dev.understudy.schemas.ChangeEnvelope;

import java.net.URI;
import java.util.List;
import java.util.Properties;

/**
 * Everything one capture needs: which database and tables to read, where to write.
 *
 * @param name           capture name, also the Debezium engine name and the suffix of slot and publication names
 * @param topicFamily    "legacy" or "target": topics are {@code <prefix>.<family>.<schema>.<table>}
 * @param jdbcUrl        {@code jdbc:postgresql://host:port/database}
 * @param tables         schema-qualified tables to capture, e.g. public.users
 * @param slotName       logical replication slot; it survives restarts so capture resumes where it stopped
 * @param publication    pgoutput publication; created for exactly {@code tables} when missing
 * @param offsetsTopic   compacted topic holding Debezium's source offsets (the LSN to resume from)
 * @param pollIntervalMs how long Debezium waits for new changes before returning an empty batch
 *                       (its default of 500 ms adds up to half a second of lag)
 * @param maxBatchSize   most changes handed over in one batch
 */
public record CaptureSettings(
        String name,
        String topicFamily,
        String jdbcUrl,
        String user,
        String password,
        List<String> tables,
        String topicPrefix,
        String bootstrapServers,
        String slotName,
        String publication,
        String offsetsTopic,
        int offsetsReplicationFactor,
        long pollIntervalMs,
        int maxBatchSize) {

    public String debeziumTopicPrefix() {
        return topicPrefix + "." + topicFamily;
    }

    /** The Debezium PostgreSQL connector and embedded-engine properties for these settings. */
    public Properties debeziumProperties() {
        JdbcTarget db = JdbcTarget.parse(jdbcUrl);
        Properties p = new Properties();
        p.setProperty("name", name);
        p.setProperty("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        p.setProperty("plugin.name", "pgoutput");
        p.setProperty("database.hostname", db.host());
        p.setProperty("database.port", Integer.toString(db.port()));
        p.setProperty("database.dbname", db.database());
        p.setProperty("database.user", user);
        p.setProperty("database.password", password == null ? "" : password);
        p.setProperty("topic.prefix", debeziumTopicPrefix());
        p.setProperty("table.include.list", String.join(",", tables));
        p.setProperty("slot.name", slotName);
        p.setProperty("publication.name", publication);
        // "filtered" creates the publication for the captured tables only, so writes to other
        // tables (the writer's bookkeeping on the target, say) are never decoded or sent.
        p.setProperty("publication.autocreate.mode", "filtered");
        p.setProperty("snapshot.mode", "initial");
        p.setProperty("snapshot.fetch.size", "10240");
        p.setProperty("decimal.handling.mode", "string");
        p.setProperty("time.precision.mode", "adaptive_time_microseconds");
        p.setProperty("tombstones.on.delete", "false");
        // Unchanged TOASTed columns arrive as this placeholder; the migration fills them from the row's
        // prior image (ChangeEnvelope.UNAVAILABLE_VALUE_PLACEHOLDER), so the value is pinned here.
        p.setProperty("unavailable.value.placeholder", ChangeEnvelope.UNAVAILABLE_VALUE_PLACEHOLDER);
        p.setProperty("poll.interval.ms", Long.toString(pollIntervalMs));
        p.setProperty("max.batch.size", Integer.toString(maxBatchSize));
        p.setProperty("max.queue.size", Integer.toString(maxBatchSize * 4));
        // Heartbeats let the slot's confirmed position advance while captured tables are idle but the
        // database writes elsewhere; otherwise the slot pins WAL.
        p.setProperty("heartbeat.interval.ms", "5000");
        p.setProperty("offset.storage", "org.apache.kafka.connect.storage.KafkaOffsetBackingStore");
        p.setProperty("offset.storage.topic", offsetsTopic);
        p.setProperty("offset.storage.partitions", "1");
        p.setProperty("offset.storage.replication.factor", Integer.toString(offsetsReplicationFactor));
        p.setProperty("bootstrap.servers", bootstrapServers);
        // Offsets are flushed once a second; a batch's offsets are only eligible after Kafka
        // acknowledged its records (see CdcCapture), so a crash replays, never skips.
        p.setProperty("offset.flush.interval.ms", "1000");
        p.setProperty("offset.flush.timeout.ms", "10000");
        return p;
    }

    /** Host, port and database of a {@code jdbc:postgresql://} URL. */
    public record JdbcTarget(String host, int port, String database) {
        public static JdbcTarget parse(String jdbcUrl) {
            if (jdbcUrl == null || !jdbcUrl.startsWith("jdbc:postgresql://")) {
                throw new IllegalArgumentException("Expected a JDBC URL of the form jdbc:postgresql://host:port/database, got '"
                        + jdbcUrl + "'");
            }
            URI uri = URI.create(jdbcUrl.substring("jdbc:".length()));
            String path = uri.getPath();
            if (uri.getHost() == null || path == null || path.length() <= 1) {
                throw new IllegalArgumentException("JDBC URL '" + jdbcUrl + "' must name a host and a database: jdbc:postgresql://host:port/database");
            }
            return new JdbcTarget(uri.getHost(), uri.getPort() < 0 ? 5432 : uri.getPort(), path.substring(1));
        }
    }
}

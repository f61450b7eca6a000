package dev.understudy.capture;

import dev.understudy.schemas.ChangeEnvelope;

import java.net.URI;
import java.util.List;
import java.util.Locale;
import java.util.Objects;
import java.util.Properties;
import java.util.regex.Pattern;

/**
 * Everything one capture needs: which database and tables to read, where to write.
 *
 * @param name           capture name, also the Debezium engine name and the suffix of slot and publication names
 * @param topicFamily    "legacy" or "target": topics are {@code <prefix>.<family>.<schema>.<table>}
 * @param jdbcUrl        {@code jdbc:postgresql://host:port/database}
 * @param tables         schema-qualified tables to capture, e.g. public.users
 * @param slotName       logical replication slot; it survives restarts so capture resumes where it stopped
 * @param publication    pgoutput publication; created for exactly {@code tables} and the signal table when
 *                       missing, and tables added to {@code tables} are added to it at start
 * @param offsetsTopic   compacted topic holding Debezium's source offsets (the LSN to resume from)
 * @param config         the capture's tunables (batch and queue sizes, poll, heartbeat and offset-flush intervals,
 *                       snapshot fetch and chunk sizes, producer batching), each a {@code capture.*} key
 * @param signalTable    schema-qualified Debezium signal table ({@code signal.data.collection}), through which
 *                       incremental snapshots are requested and their watermarks written; null disables
 *                       incremental snapshots. Lower-case identifiers only, so that the unquoted name in SQL
 *                       and the name Debezium reads from the catalog are the same.
 * @param commitsTopic   topic on which the capture announces each source transaction once Kafka acknowledged all
 *                       its changes ({@code dev.understudy.schemas.Topics#commits}); turns on Debezium's transaction
 *                       metadata. Null: no announcements.
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
        CaptureConfig config,
        String signalTable,
        String commitsTopic) {

    private static final Pattern QUALIFIED_LOWER_CASE_NAME =
            Pattern.compile("[a-z_][a-z0-9_$]*\\.[a-z_][a-z0-9_$]*");
    /** PostgreSQL truncates identifiers to NAMEDATALEN - 1 bytes. */
    private static final int MAX_IDENTIFIER_LENGTH = 63;

    public CaptureSettings {
        Objects.requireNonNull(config, "config: pass CaptureConfig.DEFAULTS for the default tunables");
        if (signalTable != null && !QUALIFIED_LOWER_CASE_NAME.matcher(signalTable).matches()) {
            throw new IllegalArgumentException("Signal table '" + signalTable + "' must be schema-qualified with lower-case"
                    + " identifiers, e.g. public." + defaultSignalTableName(name));
        }
    }

    /** Settings with the default signal table, {@link #defaultSignalTable(String) derived from the capture name}. */
    public CaptureSettings(String name, String topicFamily, String jdbcUrl, String user, String password, List<String> tables,
                           String topicPrefix, String bootstrapServers, String slotName, String publication, String offsetsTopic,
                           int offsetsReplicationFactor, CaptureConfig config) {
        this(name, topicFamily, jdbcUrl, user, password, tables, topicPrefix, bootstrapServers, slotName, publication, offsetsTopic,
                offsetsReplicationFactor, config, defaultSignalTable(name), null);
    }

    /** These settings with another signal table; null disables incremental snapshots. */
    public CaptureSettings withSignalTable(String signalTable) {
        return new CaptureSettings(name, topicFamily, jdbcUrl, user, password, tables, topicPrefix, bootstrapServers, slotName,
                publication, offsetsTopic, offsetsReplicationFactor, config, signalTable, commitsTopic);
    }

    /** These settings announcing transaction commits on {@code commitsTopic}; null turns announcements off. */
    public CaptureSettings withCommitsTopic(String commitsTopic) {
        return new CaptureSettings(name, topicFamily, jdbcUrl, user, password, tables, topicPrefix, bootstrapServers, slotName,
                publication, offsetsTopic, offsetsReplicationFactor, config, signalTable, commitsTopic);
    }

    /** Debezium's transaction metadata topic ({@code topic.transaction}, default "transaction", under the topic prefix). */
    public String transactionTopic() {
        return debeziumTopicPrefix() + ".transaction";
    }

    /**
     * The capture's heartbeat table, next to its signal table ({@code <signal table minus _signal>_heartbeat}),
     * or null without a signal table. Debezium writes it every heartbeat ({@code heartbeat.action.query}) and
     * anyone may write it to move the capture on: it is captured like a table, so the replication slot's
     * confirmed position passes every write, which an idle source otherwise never gives (the slot only
     * confirms positions of changes the connector received). Its changes are never produced to Kafka.
     */
    public String heartbeatTable() {
        return signalTable == null ? null : signalTable.substring(0, signalTable.length() - (signalTable.endsWith("_signal") ? "_signal".length() : 0))
                + "_heartbeat";
    }

    /** The heartbeat table of a capture with the default signal table. */
    public static String defaultHeartbeatTable(String captureName) {
        String signal = defaultSignalTable(captureName);
        return signal.substring(0, signal.length() - "_signal".length()) + "_heartbeat";
    }

    /** {@code public.<capture name>_signal}, the name made a valid lower-case identifier of at most 63 characters. */
    public static String defaultSignalTable(String captureName) {
        return "public." + defaultSignalTableName(captureName);
    }

    private static String defaultSignalTableName(String captureName) {
        String base = (captureName == null ? "" : captureName).toLowerCase(Locale.ROOT).replaceAll("[^a-z0-9_]", "_");
        if (base.isEmpty() || !Character.isLetter(base.charAt(0)) && base.charAt(0) != '_') {
            base = "c_" + base;
        }
        // Room for "_heartbeat", the longer suffix of the two tables named after the capture.
        String suffix = "_signal";
        int room = MAX_IDENTIFIER_LENGTH - "_heartbeat".length();
        if (base.length() > room) {
            base = base.substring(0, room);
        }
        return base + suffix;
    }

    /**
     * Topic name Debezium gives the records of its {@code sink} notification channel. Nothing is
     * produced to it: {@link CdcCapture} takes those records out of the change stream (see there).
     */
    public String notificationTopic() {
        return debeziumTopicPrefix() + ".__notifications";
    }

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
        String heartbeat = heartbeatTable();
        p.setProperty("table.include.list", String.join(",", tables) + (heartbeat == null ? "" : "," + heartbeat));
        if (heartbeat != null) {
            // Debezium runs this at every heartbeat (heartbeat.interval.ms): a change in a captured table,
            // so the slot's confirmed position keeps up with the WAL while the captured tables are idle.
            p.setProperty("heartbeat.action.query", Signals.heartbeatStatement(heartbeat));
        }
        p.setProperty("slot.name", slotName);
        p.setProperty("publication.name", publication);
        // "filtered" creates the publication for the captured tables only, so writes to other
        // tables (the writer's bookkeeping on the target, say) are never decoded or sent.
        p.setProperty("publication.autocreate.mode", "filtered");
        p.setProperty("snapshot.mode", "initial");
        p.setProperty("snapshot.fetch.size", Integer.toString(config.snapshotFetchSize()));
        p.setProperty("decimal.handling.mode", "string");
        p.setProperty("time.precision.mode", "adaptive_time_microseconds");
        // Dates, times, timestamps, intervals, arrays, bit strings, money, xml...: the connector's own
        // conversions change or refuse some of their values (docs/types.md); this custom converter
        // carries each exactly, as a logical-type value or as PostgreSQL's text form.
        p.setProperty("converters", "exact");
        p.setProperty("exact.type", ExactValueConverter.class.getName());
        p.setProperty("tombstones.on.delete", "false");
        // Unchanged TOASTed columns arrive as this placeholder; the migration fills them from the row's
        // prior image (ChangeEnvelope.UNAVAILABLE_VALUE_PLACEHOLDER), so the value is pinned here.
        p.setProperty("unavailable.value.placeholder", ChangeEnvelope.UNAVAILABLE_VALUE_PLACEHOLDER);
        p.setProperty("poll.interval.ms", Long.toString(config.pollIntervalMs()));
        p.setProperty("max.batch.size", Integer.toString(config.maxBatchSize()));
        p.setProperty("max.queue.size", Integer.toString(config.maxQueueSize()));
        // Heartbeats let the slot's confirmed position advance while captured tables are idle but the
        // database writes elsewhere; otherwise the slot pins WAL (CaptureConfig.HEARTBEAT_INTERVAL_MS).
        p.setProperty("heartbeat.interval.ms", Long.toString(config.heartbeatIntervalMs()));
        p.setProperty("offset.storage", "org.apache.kafka.connect.storage.KafkaOffsetBackingStore");
        p.setProperty("offset.storage.topic", offsetsTopic);
        p.setProperty("offset.storage.partitions", "1");
        p.setProperty("offset.storage.replication.factor", Integer.toString(offsetsReplicationFactor));
        p.setProperty("bootstrap.servers", bootstrapServers);
        // Offsets are flushed every capture.offset.flush.interval.ms (a second by default); a batch's
        // offsets are only eligible after Kafka acknowledged its records (see CdcCapture), so a crash
        // replays, never skips.
        p.setProperty("offset.flush.interval.ms", Long.toString(config.offsetFlushIntervalMs()));
        p.setProperty("offset.flush.timeout.ms", Long.toString(config.offsetFlushTimeoutMs()));
        if (signalTable != null) {
            // Incremental snapshots (Debezium's DBLog-style watermarking): an execute-snapshot row inserted
            // into the signal table is read from the WAL ("source" channel) and starts the snapshot; the
            // connector then writes window-open/close rows into the same table around every chunk. The
            // connector adds the signal table to its table filter, so the filtered publication includes it.
            p.setProperty("signal.data.collection", signalTable);
            p.setProperty("signal.enabled.channels", "source");
            // Chunk size: see CaptureConfig.INCREMENTAL_SNAPSHOT_CHUNK_SIZE for what it costs and bounds.
            p.setProperty("incremental.snapshot.chunk.size", Integer.toString(config.incrementalSnapshotChunkSize()));
        }
        // The "sink" notification channel enqueues each notification as a record into the same queue as
        // the change events, after the rows it reports on; CdcCapture reads and drops those records, so
        // incremental-snapshot progress is only reported once the rows before it are acknowledged by Kafka.
        p.setProperty("notification.enabled.channels", "sink");
        if (commitsTopic != null) {
            // BEGIN/END records for every transaction, in the same queue as its changes (END after the
            // last one); CdcCapture turns each END into a commit announcement and produces none of them.
            p.setProperty("provide.transaction.metadata", "true");
        }
        p.setProperty("notification.sink.topic.name", notificationTopic());
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

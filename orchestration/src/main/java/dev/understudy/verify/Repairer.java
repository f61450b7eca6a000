package dev.understudy.verify;

import dev.understudy.capture.CaptureSettings;
import dev.understudy.capture.Signals;
import dev.understudy.pipeline.GenerationSweep;
import dev.understudy.pipeline.MigrationGenerations;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.RowValues;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.spec.SpecSql;
import dev.understudy.transform.spec.SpecTableMapping;
import dev.understudy.writer.WriterBookkeeping;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.Future;

/**
 * {@code understudy repair}: puts diverged keys right through the pipeline's normal path, without a
 * full re-snapshot.
 * <ul>
 *   <li>Keys the legacy database has (mismatched or missing in the target) are re-captured: an
 *   {@code execute-snapshot} signal for an incremental snapshot of the driving legacy table with
 *   Debezium's {@code additional-conditions} filter on their key columns, so the legacy capture re-reads
 *   exactly those rows and they flow through the migration and the writer like any change.</li>
 *   <li>Keys only the target has (extra) get a tombstone on the new-schema topic, which the writer
 *   applies as a delete.</li>
 * </ul>
 * First, the writer's version bookkeeping of those keys is removed: a row changed behind the writer's
 * back still carries the version of the last change the writer applied, which would make the re-read
 * (incremental-snapshot rows have version 0) or the tombstone look stale.
 */
public final class Repairer {
    /** What a repair did to one table. */
    public record Outcome(String table, int recaptured, int deleted, String signalId) {
    }

    /**
     * Keys to repair, as key JSON (the form verify reports): those to re-capture, those to delete.
     * {@code wholeTable}: re-capture every row of the table instead (keys ignored).
     */
    public record Keys(List<String> recapture, List<String> delete, boolean wholeTable) {
        public Keys(List<String> recapture, List<String> delete) {
            this(recapture, delete, false);
        }

        public static Keys everyRow() {
            return new Keys(List.of(), List.of(), true);
        }
    }

    private final PipelineConfig config;
    private final List<SpecTableMapping> mappings;

    public Repairer(PipelineConfig config, List<SpecTableMapping> mappings) {
        this.config = config;
        this.mappings = List.copyOf(mappings);
    }

    /** The differences a verify run recorded, by target table: mismatched and missing to re-capture, extra to delete. */
    public static Map<String, Keys> fromVerify(PipelineConfig config, String runId) throws SQLException {
        Map<String, Keys> out = new LinkedHashMap<>();
        try (Connection c = connectTarget(config)) {
            for (VerifyHistory.Difference d : VerifyHistory.differences(c, runId)) {
                Keys k = out.computeIfAbsent(d.table(), t -> new Keys(new ArrayList<>(), new ArrayList<>()));
                (d.extra() ? k.delete() : k.recapture()).add(d.keyJson());
            }
        }
        return out;
    }

    /** The newest finished verify run of the pipeline, or null. */
    public static String newestVerifyRun(PipelineConfig config) throws SQLException {
        try (Connection c = connectTarget(config)) {
            return VerifyHistory.newestRunId(c, config.get(PipelineConfig.PIPELINE_NAME));
        }
    }

    private static Connection connectTarget(PipelineConfig config) throws SQLException {
        return DriverManager.getConnection(config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                config.get(PipelineConfig.TARGET_PASSWORD));
    }

    public List<Outcome> repair(Map<String, Keys> byTable) throws Exception {
        String prefix = config.get(PipelineConfig.PIPELINE_NAME);
        MigrationGenerations generations = new MigrationGenerations(config.get(PipelineConfig.TARGET_JDBC_URL),
                config.get(PipelineConfig.TARGET_USER), config.get(PipelineConfig.TARGET_PASSWORD));
        long generation = generations.newest(prefix);
        ConfluentRegistryClient registry = new ConfluentRegistryClient(config.get(PipelineConfig.REGISTRY_URL), config.serdeConfig());
        Serializer<GenericRecord> keySerializer = AvroSerde.keys(registry).serializer();
        List<Outcome> outcomes = new ArrayList<>();
        try (Connection target = connectTarget(config);
             Connection legacy = DriverManager.getConnection(config.get(PipelineConfig.LEGACY_JDBC_URL), config.get(PipelineConfig.LEGACY_USER),
                     config.get(PipelineConfig.LEGACY_PASSWORD));
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(
                     ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP),
                     ProducerConfig.ACKS_CONFIG, "all", ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true),
                     new ByteArraySerializer(), new ByteArraySerializer())) {
            for (Map.Entry<String, Keys> e : byTable.entrySet()) {
                SpecTableMapping mapping = mappings.stream().filter(m -> m.targetTable().equals(e.getKey())).findFirst()
                        .orElseThrow(() -> new IllegalArgumentException("Table " + e.getKey() + " is not a target of the spec; its targets are "
                                + mappings.stream().map(SpecTableMapping::targetTable).toList()));
                ChangeHeaders.Stamp stamp = new ChangeHeaders.Stamp(generation, generations.lineage(prefix, generation, mapping.targetTable()));
                outcomes.add(repairTable(target, legacy, producer, keySerializer, prefix, stamp, mapping, e.getValue()));
            }
        }
        return outcomes;
    }

    private Outcome repairTable(Connection target, Connection legacy, KafkaProducer<byte[], byte[]> producer, Serializer<GenericRecord> keys,
                                String prefix, ChangeHeaders.Stamp stamp, SpecTableMapping mapping, Keys repair) throws Exception {
        String table = mapping.targetTable();
        if (repair.wholeTable()) {
            return repairWholeTable(target, legacy, prefix, mapping);
        }
        List<String> all = new ArrayList<>(repair.recapture());
        all.addAll(repair.delete());
        // The writer's form of each key (RowValues.keyJson of the Avro key), as its bookkeeping holds it.
        List<String> bookkeeping = new ArrayList<>();
        for (String json : all) {
            bookkeeping.add(KeyJson.encode(KeyJson.decode(json, mapping.targetKeySchema(), table)));
        }
        WriterBookkeeping.forgetVersions(target, table, bookkeeping);

        String topic = Topics.newSchema(prefix, table);
        List<Future<?>> sent = new ArrayList<>();
        for (String json : repair.delete()) {
            sent.add(producer.send(new ProducerRecord<>(topic, null,
                    keys.serialize(topic, KeyJson.decode(json, mapping.targetKeySchema(), table)), null,
                    ChangeHeaders.forSyntheticDelete(0, 0, stamp))));
        }
        for (Future<?> f : sent) {
            f.get();
        }

        String signalId = null;
        if (!repair.recapture().isEmpty()) {
            String id = "repair-" + UUID.randomUUID();
            String filter = filter(target, mapping, repair.recapture());
            signal(prefix, signalTable -> Signals.requestIncrementalSnapshotOfRows(legacy, signalTable, id, mapping.sourceTable(), filter));
            signalId = id;
        }
        return new Outcome(table, repair.recapture().size(), repair.delete().size(), signalId);
    }

    /**
     * Every row of the table re-captured: its bookkeeping cleared and an incremental snapshot of its
     * driving legacy table (of a join's driving table: each re-read row re-runs the join). Rows only the
     * target has are not found this way; verify and repair by keys removes those.
     */
    private Outcome repairWholeTable(Connection target, Connection legacy, String prefix, SpecTableMapping mapping) throws SQLException {
        WriterBookkeeping.forgetVersions(target, mapping.targetTable());
        String source = mapping.sourceTable();
        String signalId = "repair-" + UUID.randomUUID();
        signal(prefix, signalTable -> Signals.requestIncrementalSnapshot(legacy, signalTable, signalId, List.of(source)));
        long rows;
        try (PreparedStatement ps = legacy.prepareStatement("SELECT count(*) FROM " + SpecSql.qualified(source))) {
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                rows = rs.getLong(1);
            }
        }
        return new Outcome(mapping.targetTable(), (int) Math.min(Integer.MAX_VALUE, rows), 0, signalId);
    }

    private interface SignalInsert {
        void into(String signalTable) throws SQLException;
    }

    /** Signals the legacy capture through its signal table (the capture creates it when the pipeline starts). */
    private void signal(String prefix, SignalInsert insert) {
        String signalTable = CaptureSettings.defaultSignalTable(prefix + "-legacy");
        try {
            insert.into(signalTable);
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot signal the legacy capture through " + signalTable + " on "
                    + config.get(PipelineConfig.LEGACY_JDBC_URL) + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip()
                    + "; the pipeline creates that table when it starts, so start it (understudy run) before repairing", e);
        }
    }

    /**
     * {@code (<key columns>) IN ((...), ...)} over the driving legacy table's own key columns, values as
     * quoted literals (PostgreSQL reads an untyped literal as the column's type).
     */
    private static String filter(Connection target, SpecTableMapping mapping, List<String> keyJsons) throws SQLException {
        Map<String, String> types = SpecSql.targetTypes(target, mapping.targetTable());
        SpecSql.Projection legacy = SpecSql.legacy(mapping, types);
        List<String> columns = legacy.rawKeys().stream().map(k -> k.substring(2)).toList();
        StringBuilder b = new StringBuilder("(").append(String.join(", ", columns)).append(") IN (");
        for (int i = 0; i < keyJsons.size(); i++) {
            GenericRecord key = KeyJson.decode(keyJsons.get(i), mapping.targetKeySchema(), mapping.targetTable());
            b.append(i > 0 ? ", " : "").append('(');
            for (int f = 0; f < legacy.keyFields().size(); f++) {
                Object v = key.get(legacy.keyFields().get(f));
                b.append(f > 0 ? ", " : "").append('\'').append(RowValues.text(v, key.getSchema().getField(legacy.keyFields().get(f)).schema())
                        .replace("'", "''")).append('\'');
            }
            b.append(')');
        }
        return b.append(')').toString();
    }
}

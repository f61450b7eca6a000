package dev.understudy.verify;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.AvroSerializer;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.RowValues;
import dev.understudy.schemas.Topics;
import dev.understudy.schemas.config.ConfigKey;
import dev.understudy.transform.MigrationTopology;
import dev.understudy.transform.spec.SpecSql;
import dev.understudy.transform.spec.SpecTableMapping;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.StringSerializer;

import java.io.PrintStream;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Savepoint;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Set;

/**
 * {@code understudy verify}: the whole target against the legacy database, through the migration
 * spec, table by table ({@link TableVerifier} does one table's chunks).
 * <p>
 * Consistency: the expected rows are read in one REPEATABLE READ transaction on the legacy database,
 * whose snapshot is taken by its first statement together with the WAL insert position L. Before the
 * target is read, {@link CatchUp} waits until the target holds every change committed before L. The
 * target keeps moving meanwhile (changes after L), so a key found different is checked again, up to
 * {@link #RECHECKS} times, each at a newer position with the same wait; a key that agrees once is
 * counted as settled, not as a difference.
 * <p>
 * Resumable: progress (the last key of each finished chunk, counts, keys found different) is stored in
 * the target ({@link VerifyRuns}); {@code --resume} continues the newest unfinished run of the
 * pipeline after its last finished chunk, at a new legacy snapshot.
 */
public final class Verifier {
    static final int RECHECKS = 2;

    /**
     * @param chunkRows      target rows per chunk
     * @param samples        sample keys kept per kind of difference
     * @param waitForPipeline wait for the target to catch up with each legacy snapshot (off: compare as is, for
     *                       a stopped pipeline or two databases filled otherwise)
     * @param catchUpTimeout the longest wait for the pipeline to catch up
     * @param maxChunks      stop after this many chunks, leaving the run to {@code resume} (0: no limit)
     */
    public record Options(int chunkRows, int samples, boolean waitForPipeline, Duration catchUpTimeout, boolean resume, long maxChunks) {
        public Options(int chunkRows, int samples, boolean waitForPipeline, Duration catchUpTimeout, boolean resume) {
            this(chunkRows, samples, waitForPipeline, catchUpTimeout, resume, 0);
        }

        public static Options defaults() {
            return new Options(10_000, 5, true, Duration.ofMinutes(5), false);
        }
    }

    /** The verify of every table; {@code complete} false when it stopped at the chunk limit (the tables list what it did so far). */
    public record Report(String runId, List<TableReport> tables, long millis, boolean complete) {
        public boolean clean() {
            return tables.stream().allMatch(TableReport::clean);
        }
    }

    private final PipelineConfig config;
    private final String migration;
    private final List<SpecTableMapping> mappings;
    private final Options options;
    private final PrintStream progress;
    /** Chunks left under {@link Options#maxChunks()}; 0 with no limit. */
    private long chunkBudget;

    public Verifier(PipelineConfig config, String migration, List<SpecTableMapping> mappings, Options options, PrintStream progress) {
        this.config = config;
        this.migration = migration;
        this.mappings = List.copyOf(mappings);
        this.options = options;
        this.progress = progress;
    }

    public Report run() throws Exception {
        long start = System.nanoTime();
        String prefix = config.get(PipelineConfig.PIPELINE_NAME);
        List<TableReport> reports = new ArrayList<>();
        try (Connection legacy = connect(PipelineConfig.LEGACY_JDBC_URL, PipelineConfig.LEGACY_USER, PipelineConfig.LEGACY_PASSWORD);
             Connection target = connect(PipelineConfig.TARGET_JDBC_URL, PipelineConfig.TARGET_USER, PipelineConfig.TARGET_PASSWORD);
             CatchUp catchUp = options.waitForPipeline() ? new CatchUp(config, legacyTables(), targetTables()) : null) {
            VerifyRuns runs = new VerifyRuns(target, prefix);
            VerifyRuns.Run run = options.resume() ? runs.resumable() : null;
            if (options.resume() && run == null) {
                throw new IllegalStateException("Pipeline '" + prefix + "' has no unfinished verify run in " + VerifyRuns.TABLE
                        + " to resume; run understudy verify without --resume");
            }
            if (run == null) {
                run = runs.start(migration);
            }
            chunkBudget = options.maxChunks();
            boolean complete = true;
            for (SpecTableMapping mapping : mappings) {
                TableReport r = verifyTable(legacy, target, catchUp, runs, run, mapping);
                if (r == null) {
                    complete = false;
                    break;
                }
                reports.add(r);
            }
            if (complete) {
                runs.finish(run);
                publish(prefix, run, reports);
            }
            return new Report(run.id(), reports, (System.nanoTime() - start) / 1_000_000, complete);
        }
    }

    private TableReport verifyTable(Connection legacy, Connection target, CatchUp catchUp, VerifyRuns runs, VerifyRuns.Run run,
                                    SpecTableMapping mapping) throws Exception {
        long start = System.nanoTime();
        String table = mapping.targetTable();
        Map<String, String> types = SpecSql.targetTypes(target, table);
        Set<String> unhashable = unhashableTypes(target, new HashSet<>(types.values()));
        SpecSql.Projection expected = hashable(SpecSql.legacy(mapping, types), types, unhashable);
        SpecSql.Projection actual = hashable(SpecSql.target(mapping), types, unhashable);
        boolean[] numericKeys = new boolean[expected.keyFields().size()];
        for (int i = 0; i < numericKeys.length; i++) {
            Schema f = RowValues.nonNull(mapping.targetKeySchema().getField(expected.keyFields().get(i)).schema());
            numericKeys[i] = f.getLogicalType() == null && switch (f.getType()) {
                case INT, LONG, FLOAT, DOUBLE -> true;
                default -> false;
            };
        }
        TableVerifier verifier = new TableVerifier(table, expected, actual, options.chunkRows(), options.samples(), numericKeys);
        VerifyRuns.TableState state = runs.table(run, table);
        if (state.done()) {
            return state.report();
        }
        state.restoreInto(verifier);

        long lsn = beginSnapshot(legacy);
        if (catchUp != null) {
            progress.printf("verify %s: legacy snapshot at LSN %s; waiting for the target to catch up with it ...%n", table, lsnText(lsn));
            catchUp.await(lsn, options.catchUpTimeout());
        }
        long total = estimate(legacy, mapping.sourceTable()) + estimate(target, table);
        ProgressBar bar = new ProgressBar(progress, "verify " + table, total, verifier.processed + verifier.targetRows);
        long firstLsn = state.snapshotLsn() >= 0 ? state.snapshotLsn() : lsn;
        long chunksBefore = verifier.chunks;
        boolean done;
        try {
            done = verifier.run(legacy, target, state.lastKey(), (upper, v) -> {
                state.chunkDone(upper, v, firstLsn);
                bar.update(v.processed + v.targetRows, false);
            }, rows -> { }, options.maxChunks() > 0 ? Math.max(1, chunkBudget) : 0);
        } finally {
            legacy.commit();
        }
        if (options.maxChunks() > 0) {
            chunkBudget -= verifier.chunks - chunksBefore;
        }
        if (!done) {
            bar.update(verifier.processed + verifier.targetRows, true);
            progress.printf("verify %s: stopped after the chunk limit at key %s; continue with --resume%n", table, state.lastKey());
            return null;
        }
        bar.update(verifier.processed + verifier.targetRows, true);

        long settled = 0;
        if (catchUp != null && verifier.mismatchedKeys.size() + verifier.missingKeys.size() + verifier.extraKeys.size() > 0) {
            settled = recheck(legacy, target, catchUp, verifier, expected, actual);
        }
        TableReport report = verifier.report(settled, firstLsn, (System.nanoTime() - start) / 1_000_000);
        state.finish(report, verifier);
        return report;
    }

    /**
     * Checks the keys found different again at a newer legacy snapshot, after the target caught up
     * with it; drops those that agree. Returns how many were dropped.
     */
    private long recheck(Connection legacy, Connection target, CatchUp catchUp, TableVerifier v, SpecSql.Projection expected,
                         SpecSql.Projection actual) throws Exception {
        long settled = 0;
        for (int round = 0; round < RECHECKS; round++) {
            long lsn = beginSnapshot(legacy);
            catchUp.await(lsn, options.catchUpTimeout());
            try {
                for (Map<String, List<String>> keys : List.of(v.mismatchedKeys, v.missingKeys, v.extraKeys)) {
                    List<String> agreed = new ArrayList<>();
                    for (Map.Entry<String, List<String>> e : keys.entrySet()) {
                        String l = TableVerifier.rowHash(legacy, expected, e.getValue());
                        String t = TableVerifier.rowHash(target, actual, e.getValue());
                        if (Objects.equals(l, t)) {
                            agreed.add(e.getKey());
                        }
                    }
                    agreed.forEach(keys::remove);
                    settled += agreed.size();
                }
            } finally {
                legacy.commit();
            }
            if (v.mismatchedKeys.isEmpty() && v.missingKeys.isEmpty() && v.extraKeys.isEmpty()) {
                break;
            }
        }
        return settled;
    }

    /** Starts a REPEATABLE READ transaction whose snapshot is taken with the WAL insert position it returns. */
    private static long beginSnapshot(Connection legacy) throws SQLException {
        try (Statement s = legacy.createStatement()) {
            s.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY");
            try (ResultSet rs = s.executeQuery("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint")) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    private Connection connect(ConfigKey<String> url, ConfigKey<String> user,
                               ConfigKey<String> password) throws SQLException {
        Connection c = DriverManager.getConnection(config.get(url), config.get(user), config.get(password));
        try (Statement s = c.createStatement()) {
            // Time values render as text in the session's zone: the same zone on both sides.
            s.execute("SET TimeZone = 'UTC'");
        }
        c.setAutoCommit(false);
        return c;
    }

    /**
     * The types among {@code types} that have no extended hash function, which the chunk checksums
     * ({@code hash_record_extended}) need for every field: json, xml, geometric types, money, bit
     * strings. PostgreSQL looks the function up for every column of the row, NULL or not, so one typed
     * NULL per type tells; each probe runs in a savepoint, as its failure aborts the statement.
     */
    static Set<String> unhashableTypes(Connection target, Set<String> types) throws SQLException {
        Set<String> out = new HashSet<>();
        boolean autoCommit = target.getAutoCommit();
        target.setAutoCommit(false);
        try (Statement s = target.createStatement()) {
            for (String type : types) {
                Savepoint sp = target.setSavepoint();
                try {
                    s.executeQuery("SELECT hash_record_extended(ROW(NULL::" + type + "), 0)").close();
                    target.releaseSavepoint(sp);
                } catch (SQLException e) {
                    target.rollback(sp);
                    out.add(type);
                }
            }
            target.commit();
        } finally {
            target.setAutoCommit(autoCommit);
        }
        return out;
    }

    /** The projection with each field of a type in {@code unhashable} hashed as its text, exact for those types. */
    static SpecSql.Projection hashable(SpecSql.Projection p, Map<String, String> types, Set<String> unhashable) {
        if (unhashable.isEmpty()) {
            return p;
        }
        List<String> values = new ArrayList<>(p.values());
        for (int i = 0; i < values.size(); i++) {
            if (unhashable.contains(types.get(p.fields().get(i)))) {
                values.set(i, "(" + values.get(i) + ")::text");
            }
        }
        return new SpecSql.Projection(p.from(), p.keyFields(), p.keys(), p.rawKeys(), p.fields(), List.copyOf(values));
    }

    private static long estimate(Connection c, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT greatest(reltuples, 0)::bigint FROM pg_class WHERE oid = to_regclass(?)")) {
            ps.setString(1, SpecSql.qualified(table));
            try (ResultSet rs = ps.executeQuery()) {
                return rs.next() ? rs.getLong(1) : 0;
            }
        }
    }

    private List<String> legacyTables() {
        return MigrationTopology.legacyTables(List.copyOf(mappings));
    }

    private List<String> targetTables() {
        return mappings.stream().map(SpecTableMapping::targetTable).distinct().toList();
    }

    private void publish(String prefix, VerifyRuns.Run run, List<TableReport> reports) {
        ConfluentRegistryClient registry = new ConfluentRegistryClient(config.get(PipelineConfig.REGISTRY_URL), config.serdeConfig());
        try (KafkaProducer<String, GenericRecord> producer = new KafkaProducer<>(Map.of(
                     ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP),
                     ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new AvroSerializer(registry, false))) {
            long now = System.currentTimeMillis();
            for (TableReport r : reports) {
                GenericData.Record v = new GenericData.Record(Contracts.VERIFY_RESULT);
                v.put("runId", run.id());
                v.put("pipeline", prefix);
                v.put("migration", migration);
                v.put("table", r.table());
                v.put("clean", r.clean());
                v.put("processed", r.processed());
                v.put("targetRows", r.targetRows());
                v.put("matching", r.matching());
                v.put("mismatched", r.mismatched());
                v.put("missing", r.missing());
                v.put("extra", r.extra());
                v.put("settled", r.settled());
                v.put("snapshotLsn", r.snapshotLsn());
                v.put("startedAtMs", run.startedAtMs());
                v.put("finishedAtMs", now);
                v.put("sampleMismatched", r.samples().mismatched());
                v.put("sampleMissing", r.samples().missing());
                v.put("sampleExtra", r.samples().extra());
                producer.send(new ProducerRecord<>(Topics.verify(prefix), r.table(), v)).get();
            }
        } catch (Exception e) {
            throw new IllegalStateException("Could not publish the verify result to " + Topics.verify(prefix) + " on "
                    + config.get(PipelineConfig.KAFKA_BOOTSTRAP) + ": " + e.getMessage()
                    + "; the result is printed and stored in " + VerifyRuns.TABLE, e);
        }
    }

    static String lsnText(long lsn) {
        return Long.toHexString(lsn >>> 32).toUpperCase() + "/" + Long.toHexString(lsn & 0xFFFFFFFFL).toUpperCase();
    }

    /** A one-line progress bar with rate and ETA, redrawn at most twice a second. */
    static final class ProgressBar {
        private final PrintStream out;
        private final String label;
        private final long total;
        private final long startNanos = System.nanoTime();
        private final long startRows;
        private long lastDrawNanos;

        ProgressBar(PrintStream out, String label, long total, long startRows) {
            this.out = out;
            this.label = label;
            this.total = total;
            this.startRows = startRows;
        }

        void update(long rows, boolean last) {
            long now = System.nanoTime();
            if (!last && now - lastDrawNanos < 500_000_000L) {
                return;
            }
            lastDrawNanos = now;
            double seconds = Math.max(1e-9, (now - startNanos) / 1e9);
            double rate = (rows - startRows) / seconds;
            double fraction = total <= 0 ? 0 : Math.min(1, (double) rows / total);
            int width = 30;
            int filled = (int) Math.round(fraction * width);
            String eta = last ? "done" : rate <= 0 || total <= rows ? "ETA unknown"
                    : String.format("ETA %.0f s", (total - rows) / rate);
            out.printf("\r%s [%s%s] %3.0f%% %,d/%,d rows  %,.0f rows/s  %s%s", label, "#".repeat(filled), ".".repeat(width - filled),
                    fraction * 100, rows, Math.max(total, rows), rate, eta, last ? "\n" : "");
            out.flush();
        }
    }
}

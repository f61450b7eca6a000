package dev.understudy.generative;

import dev.understudy.generative.SchemaGenerator.LegacySchema;
import dev.understudy.generative.SchemaGenerator.Role;
import dev.understudy.generative.SpecGenerator.Evolution;
import dev.understudy.generative.SpecGenerator.Spec;
import dev.understudy.generative.SpecGenerator.Target;
import dev.understudy.capture.ExportedSnapshot;
import dev.understudy.load.BulkCopy;
import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.transform.spec.SpecSql;
import dev.understudy.transform.spec.SpecTableMapping;
import dev.understudy.verify.TableReport;
import dev.understudy.verify.Verifier;
import dev.understudy.writer.WriterBookkeeping;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.SplittableRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * One trial, all drawn from its seed: a legacy schema in a database of its own, a spec (v1) and its
 * next generation (v2), the initial rows and a concurrent workload; then the faults, in order:
 * <ol>
 *   <li>a graceful restart of the pipeline (closed and started again on the same config);</li>
 *   <li>the pipeline as a separate {@code understudy run} process, killed with SIGKILL while the
 *   workload goes on, and restarted; the ledger reader checks the transaction invariant on the
 *   target all through the catch-up;</li>
 *   <li>the next spec generation applied mid-workload (a new migration name, a column added by
 *   Flyway V2), its backfill awaited; when the ledger's target keeps its lineage, the ledger reader
 *   goes on through the backfill, which must never show it a row older than before.</li>
 * </ol>
 * Then the workload stops; once drift is zero every target must equal its projection computed by
 * SQL on the legacy database ({@link ExpectedProjection}), column by column in text form;
 * {@code verify} must be clean on every target it can translate; the dead-letter topic must hold only
 * the records that the spec's dead-letter casts call for; and no read of the ledger may have seen
 * part of a legacy transaction. What a trial creates (databases, replication slots, topics, state)
 * is removed at its end, so hundreds run on one stack.
 */
final class Trial {
    /** {@code -Dgenerative.keepFailed=true} keeps a failed trial's databases (replication slots are dropped all the same). */
    private static final boolean KEEP_FAILED = Boolean.getBoolean("generative.keepFailed");
    private static final Duration CONVERGENCE = Duration.ofSeconds(Long.getLong("generative.convergence.seconds", 180));

    /** The faults a trial can inject, in the order it injects them. */
    enum Fault { RESTART, KILL9, GENERATION }

    private final EmbeddedStack stack;
    private final long seed;
    private final Path work;
    private final String name;
    private final LegacySchema schema;
    private final Spec v1;
    private final Evolution v2;
    private final SplittableRandom random;
    private final java.util.EnumSet<Fault> faults;
    private final long workloadSeed;
    /**
     * The trial's initial.load: bulk for half the trials whose v1 has no join (a join is loaded through
     * the stream), drawn from a stream of its own of the seed, so that every other draw of a seed
     * stays what it was before the bulk load existed.
     */
    private final String initialLoad;
    /**
     * A bulk trial whose first load stops after a committed chunk (an exception at the pause point,
     * as a crash there), so that the next start resumes it; drawn from the seed on its own.
     */
    private final boolean interruptLoad;
    private final List<String> log = new ArrayList<>();
    private final long started = System.nanoTime();

    Trial(EmbeddedStack stack, long seed, int index, Path work) {
        this.stack = stack;
        this.seed = seed;
        this.work = work;
        this.name = "gen" + index + "x" + Long.toHexString(seed & 0xffffL);
        SplittableRandom r = new SplittableRandom(seed);
        this.schema = SchemaGenerator.generate(r.split());
        this.v1 = SpecGenerator.generate(schema, r.split(), name + "_v1");
        this.v2 = SpecGenerator.evolve(v1, r.split(), name + "_v2");
        this.workloadSeed = r.nextLong();
        this.random = r.split();
        this.faults = faults(r.split());
        // -Dgenerative.initialLoad=bulk loads every trial without a join in bulk.
        this.initialLoad = v1.targets().stream().anyMatch(t -> t.joinAlias() != null) ? "snapshot"
                : "bulk".equals(System.getProperty("generative.initialLoad")) || new SplittableRandom(seed ^ 0x62756c6bL).nextBoolean()
                ? "bulk" : "snapshot";
        this.interruptLoad = "bulk".equals(initialLoad) && new SplittableRandom(seed ^ 0x726573756dL).nextBoolean();
    }

    /**
     * Each fault with even odds, at least one; {@code -Dgenerative.faults=all} injects all three in
     * every trial (slower: each costs pipeline starts).
     */
    static java.util.EnumSet<Fault> faults(SplittableRandom r) {
        java.util.EnumSet<Fault> out = java.util.EnumSet.noneOf(Fault.class);
        for (Fault f : Fault.values()) {
            if (r.nextBoolean()) {
                out.add(f);
            }
        }
        if (out.isEmpty()) {
            out.add(Fault.values()[r.nextInt(Fault.values().length)]);
        }
        if ("all".equals(System.getProperty("generative.faults"))) {
            out = java.util.EnumSet.allOf(Fault.class);
        }
        return out;
    }

    /** The faults of the trial of {@code seed}, without building it. */
    static java.util.EnumSet<Fault> faultsOf(long seed) {
        SplittableRandom r = new SplittableRandom(seed);
        r.split();
        r.split();
        r.split();
        r.nextLong();
        r.split();
        return faults(r.split());
    }

    java.util.EnumSet<Fault> faults() {
        return faults;
    }

    /** The generated schema, both spec versions and the Flyway migrations: printed with a failure. */
    String describe() {
        return "-- faults " + faults + ", initial.load=" + initialLoad + (interruptLoad ? " (stopped after a chunk, then resumed)" : "") + "\n-- legacy schema\n" + schema.describe() + "-- spec v1\n" + v1.yaml() + "-- spec v2 (" + v2.targetId() + " gains a column)\n"
                + v2.spec().yaml() + "-- Flyway V1\n" + v1.flywayV1() + "-- Flyway V2\n" + v2.flyway();
    }

    private void note(String line) {
        String stamped = String.format("[%s %5.1fs] %s", name, (System.nanoTime() - started) / 1e9, line);
        log.add(stamped);
        System.out.println(stamped);
    }

    List<String> log() {
        return log;
    }

    void run() throws Exception {
        Files.createDirectories(work);
        String legacyDb = name + "_legacy";
        String targetDb = name + "_target";
        createDatabase(stack.legacy().connect(), legacyDb);
        createDatabase(stack.target().connect(), targetDb);
        Map<String, String> settings = new HashMap<>(stack.connectionSettings());
        settings.put(PipelineConfig.LEGACY_JDBC_URL.name(), withDatabase(stack.legacy().jdbcUrl(), legacyDb));
        settings.put(PipelineConfig.TARGET_JDBC_URL.name(), withDatabase(stack.target().jdbcUrl(), targetDb));
        settings.put(PipelineConfig.PIPELINE_NAME.name(), name);
        settings.put(TransformConfig.STATE_DIR.name(), work.resolve("streams").toString());
        settings.put(PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + work.resolve("flyway"));
        settings.put(TransformConfig.SETTLE_MS.name(), "3000");
        settings.put(PipelineConfig.INITIAL_LOAD.name(), initialLoad);
        if (interruptLoad) {
            // Small chunks, so that a stopped load has chunks on both sides.
            settings.put(PipelineConfig.INITIAL_LOAD_CHUNK_ROWS.name(), "16");
        }
        PipelineConfig config = PipelineConfig.parse(settings, "generative trial " + name);
        String legacyUrl = settings.get(PipelineConfig.LEGACY_JDBC_URL.name());
        String targetUrl = settings.get(PipelineConfig.TARGET_JDBC_URL.name());
        Path configFile = work.resolve("pipeline.properties");
        Properties props = new Properties();
        props.putAll(settings);
        try (var out = Files.newBufferedWriter(configFile)) {
            props.store(out, "generative trial " + name);
        }
        Path v1File = writeSpec(v1, work.resolve("v1"));
        Path v2File = writeSpec(v2.spec(), work.resolve("v2"));
        Files.createDirectories(work.resolve("flyway"));
        Files.writeString(work.resolve("flyway").resolve("V1__generated_targets.sql"), v1.flywayV1());
        Files.writeString(work.resolve("flyway").resolve("V2__generated_column.sql"), v2.flyway());

        AtomicLong next = new AtomicLong(1);
        long total;
        int rows = 60 + random.nextInt(240);
        try (Connection c = DriverManager.getConnection(legacyUrl, stack.legacy().user(), stack.legacy().password());
             Statement s = c.createStatement()) {
            for (String ddl : schema.ddl()) {
                s.execute(ddl);
            }
            total = WorkloadGenerator.fill(c, schema, new SplittableRandom(workloadSeed ^ 0x5eedL), 10 + random.nextInt(40), rows,
                    30 + random.nextInt(100), next);
        }
        note("faults " + faults + ", initial.load=" + initialLoad + (interruptLoad ? " (stopped after a chunk, then resumed)" : "") + "; legacy: " + schema.tables().size() + " table(s), " + rows + " driving rows, ledger total " + total);

        Target ledger = v1.ledger();
        boolean passed = false;
        Faults.LedgerReader reader = null;
        WorkloadGenerator workload = null;
        Pipeline pipeline = null;
        try {
            MigrationSpec spec1 = MigrationSpec.load(v1File);
            if (interruptLoad) {
                note("fault: the bulk initial load stops after its first committed chunk; the next start resumes it");
                try (AutoCloseable stop = dev.understudy.schemas.PausePoints.install(point -> {
                    if (dev.understudy.schemas.PausePoints.LOAD_CHUNK_COMMITTED.equals(point)) {
                        throw new IllegalStateException("the load stopped after a committed chunk");
                    }
                })) {
                    awaitSlotsFree();
                    try (Pipeline stopped = new Pipeline(config, spec1).start()) {
                        throw new AssertionError("the initial load was not stopped: " + stopped.initialLoad());
                    } catch (RuntimeException expected) {
                        note("the load stopped: " + expected.getMessage());
                    }
                }
            }
            pipeline = startPipeline(config, spec1);
            awaitLedger(pipeline, targetUrl, ledger, rows, total);
            reader = new Faults.LedgerReader(targetUrl, stack.target().user(), stack.target().password(), ledger.qualified(),
                    ledger.balanceColumn(), total).start("v1");
            workload = new WorkloadGenerator(schema, legacyUrl, stack.legacy().user(), stack.legacy().password(), workloadSeed,
                    next.get() + 1_000_000).start();
            pause(2_000 + random.nextInt(2_000), pipeline, workload);

            if (faults.contains(Fault.RESTART)) {
                note("fault: graceful restart");
                reader.phase("graceful restart");
                pipeline.close();
                pipeline = startPipeline(config, spec1);
                reader.phase("after the graceful restart");
                pause(1_000 + random.nextInt(2_000), pipeline, workload);
            }
            if (faults.contains(Fault.KILL9)) {
                note("fault: the pipeline as a separate run process, killed with SIGKILL");
                reader.phase("closing before the run process");
                pipeline.close();
                pipeline = null;
                awaitSlotsFree();
                reader.phase("run process starting");
                Faults.RunProcess child = Faults.RunProcess.start(configFile, v1File, Path.of("target", "generative", name, "run.log"));
                try {
                    child.awaitStarted(name, Duration.ofSeconds(90));
                    reader.phase("run process running");
                    pause(500 + random.nextInt(3_000), null, workload);
                } finally {
                    child.kill9();
                }
                note("killed; restarting in this JVM, the ledger reader going on through the catch-up");
                reader.phase("killed, restarting");
                Faults.removeMembers(stack.kafka().bootstrapServers(), name);
                pipeline = startPipeline(config, spec1);
                reader.phase("catch-up after the kill");
                pause(2_000 + random.nextInt(2_000), pipeline, workload);
            }
            Spec current = v1;
            Path currentFile = v1File;
            if (faults.contains(Fault.GENERATION)) {
                note("fault: new spec generation " + v2.spec().migration() + " applied mid-workload");
                reader.phase("switch to v2");
                pipeline.close();
                pipeline = startPipeline(config, MigrationSpec.load(v2File));
                long generation = pipeline.generation().number();
                long ledgerLineage = pipeline.lineages().getOrDefault(ledger.schema() + "." + ledger.table(), generation);
                if (ledgerLineage < generation) {
                    // The ledger stays in its lineage: the re-read never shows a row older than the
                    // target held (docs/spec-format.md), so the reader goes on through the backfill.
                    note("the ledger " + ledger.qualified() + " stays in lineage " + ledgerLineage + "; the reader goes on through the backfill");
                    reader.phase("v2 backfill in the same lineage");
                    awaitBackfill(pipeline);
                } else {
                    // In a new lineage the re-read shows older states of rows while it catches up, so the
                    // invariant is checked before the switch and after the backfill.
                    reader.close();
                    checkReader(reader);
                    awaitBackfill(pipeline);
                    reader = new Faults.LedgerReader(targetUrl, stack.target().user(), stack.target().password(), ledger.qualified(),
                            ledger.balanceColumn(), total).start("v2");
                }
                current = v2.spec();
                currentFile = v2File;
            }
            reader.phase("end of the workload");
            pause(1_000 + random.nextInt(1_500), pipeline, workload);
            workload.close();
            reader.phase("convergence");
            if (workload.failure() != null) {
                throw new AssertionError("the workload failed", workload.failure());
            }
            note("workload stopped: " + workload.describe());
            try (Connection l = DriverManager.getConnection(legacyUrl, stack.legacy().user(), stack.legacy().password())) {
                long[] legacyLedger = Faults.LedgerReader.read(l, "SELECT count(*), COALESCE(sum(" + schema.driving().role(Role.BALANCE).quoted()
                        + "), 0)::text FROM " + schema.driving().qualified());
                // The workload's own invariant: without it a torn read of the target would mean nothing.
                if (legacyLedger[1] != total) {
                    throw new AssertionError("test defect: the workload did not conserve the legacy balances (sum " + legacyLedger[1]
                            + ", expected " + total + ")");
                }
            }

            converge(pipeline, legacyUrl, targetUrl, current);
            reader.close();
            checkReader(reader);
            verify(config, MigrationSpec.load(currentFile));
            bulkCopyCheck(legacyUrl, targetUrl, MigrationSpec.load(currentFile));
            checkDeadLetters(legacyUrl);
            passed = true;
            note("passed: " + ledgerLine(targetUrl, ledger) + "; " + pipeline.writer().metrics());
        } finally {
            if (workload != null) {
                workload.close();
            }
            if (reader != null) {
                reader.close();
            }
            if (pipeline != null) {
                pipeline.close();
            }
            cleanUp(legacyDb, targetDb, !passed && KEEP_FAILED);
        }
    }

    private Pipeline startPipeline(PipelineConfig config, MigrationSpec spec) throws Exception {
        awaitSlotsFree();
        Pipeline p = new Pipeline(config, spec).start();
        note("pipeline started on " + spec.migration() + " as generation " + p.generation().number());
        return p;
    }

    /** Sleeps while the workload goes on, failing early when a stage or the workload failed. */
    private static void pause(long millis, Pipeline pipeline, WorkloadGenerator workload) throws Exception {
        long deadline = System.currentTimeMillis() + millis;
        while (System.currentTimeMillis() < deadline) {
            if (pipeline != null && pipeline.failure() != null) {
                throw new AssertionError("a pipeline stage failed", pipeline.failure());
            }
            if (workload != null && workload.failure() != null) {
                throw new AssertionError("the workload failed", workload.failure());
            }
            Thread.sleep(Math.min(200, Math.max(1, deadline - System.currentTimeMillis())));
        }
    }

    /** Waits until the ledger target holds the initial snapshot whole: before that its sum is partial whatever the writer does. */
    private void awaitLedger(Pipeline pipeline, String targetUrl, Target ledger, int rows, long total) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        String sql = "SELECT count(*), COALESCE(sum(" + SchemaGenerator.quote(ledger.balanceColumn()) + "), 0)::text FROM " + ledger.qualified();
        long[] last = null;
        while (System.nanoTime() < deadline) {
            if (pipeline.failure() != null) {
                throw new AssertionError("a pipeline stage failed", pipeline.failure());
            }
            try (Connection t = DriverManager.getConnection(targetUrl, stack.target().user(), stack.target().password())) {
                last = Faults.LedgerReader.read(t, sql);
                if (last[0] == rows && last[1] == total) {
                    note("initial snapshot landed in the ledger");
                    return;
                }
            } catch (SQLException e) {
                // The target table appears when Flyway ran.
            }
            Thread.sleep(250);
        }
        throw new AssertionError("the ledger never held the " + rows + " snapshotted rows summing to " + total + "; last read "
                + (last == null ? "none" : last[0] + " rows summing to " + last[1]));
    }

    private void awaitBackfill(Pipeline pipeline) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(150).toNanos();
        while (!pipeline.backfill().complete() && System.nanoTime() < deadline) {
            if (pipeline.failure() != null) {
                throw new AssertionError("a pipeline stage failed", pipeline.failure());
            }
            Thread.sleep(250);
        }
        if (!pipeline.backfill().complete()) {
            throw new AssertionError("the backfill of " + v2.spec().migration() + " did not complete: " + pipeline.backfill().describe());
        }
        note("backfill: " + pipeline.backfill().describe());
    }

    private void checkReader(Faults.LedgerReader reader) {
        note("ledger reader: " + reader.describe());
        if (reader.failure() != null) {
            throw new AssertionError("the ledger reader failed", reader.failure());
        }
        if (reader.violations() > 0) {
            throw new AssertionError("reads of the target ledger saw part of a legacy transaction: " + reader.describe());
        }
        if (reader.reads() < 20) {
            throw new AssertionError("too few reads of the ledger to tell: " + reader.describe());
        }
    }

    /** Waits for every target to equal its projection with drift zero; fails with the differences otherwise. */
    private void converge(Pipeline pipeline, String legacyUrl, String targetUrl, Spec current) throws Exception {
        long deadline = System.nanoTime() + CONVERGENCE.toNanos();
        List<ExpectedProjection.Diff> diffs = List.of();
        boolean rowsSame = false;
        boolean driftZero = false;
        while (System.nanoTime() < deadline) {
            if (pipeline.failure() != null) {
                throw new AssertionError("a pipeline stage failed", pipeline.failure());
            }
            diffs = compare(legacyUrl, targetUrl, current);
            rowsSame = diffs.stream().allMatch(ExpectedProjection.Diff::same);
            driftZero = pipeline.drift().oldestReportMs() > 0 && pipeline.drift().totalOpen() == 0 && pipeline.drift().totalPending() == 0;
            if (rowsSame && driftZero) {
                break;
            }
            Thread.sleep(500);
        }
        StringBuilder sb = new StringBuilder();
        for (ExpectedProjection.Diff d : diffs) {
            sb.append("\n  ").append(d.describe());
        }
        note("targets against the SQL projection:" + sb + "\n  drift open " + pipeline.drift().totalOpen() + ", pending "
                + pipeline.drift().totalPending());
        if (!rowsSame) {
            note("bookkeeping of differing keys:\n  " + String.join("\n  ", bookkeeping(legacyUrl, targetUrl, diffs)));
            note("records of differing keys:\n  " + String.join("\n  ", records(diffs, current)));
            throw new AssertionError("targets differ from the projection computed by SQL on the legacy database after "
                    + CONVERGENCE.toSeconds() + " s:" + sb);
        }
        if (!driftZero) {
            throw new AssertionError("the targets equal the SQL projection but drift did not return to zero within "
                    + CONVERGENCE.toSeconds() + " s: open " + pipeline.drift().totalOpen() + ", pending " + pipeline.drift().totalPending());
        }
        int rows = diffs.stream().mapToInt(ExpectedProjection.Diff::expectedRows).sum();
        if (rows == 0) {
            throw new AssertionError("every projection is empty: nothing was compared");
        }
    }

    /**
     * For a few differing keys of each target, the writer's version bookkeeping (lineage, version,
     * joined version, generation, deleted): whether the writer applied a delete, an older version, or never saw the key.
     */
    private List<String> bookkeeping(String legacyUrl, String targetUrl, List<ExpectedProjection.Diff> diffs) {
        List<String> out = new ArrayList<>();
        try (Connection t = DriverManager.getConnection(targetUrl, stack.target().user(), stack.target().password())) {
            for (ExpectedProjection.Diff d : diffs) {
                List<String> keys = new ArrayList<>(d.missing().subList(0, Math.min(3, d.missing().size())));
                keys.addAll(d.extra().subList(0, Math.min(3, d.extra().size())));
                for (String key : keys) {
                    StringBuilder sb = new StringBuilder(d.target() + " key " + key + ":");
                    for (WriterBookkeeping.StoredVersion v : WriterBookkeeping.versionsOfKeysContaining(t, key.split("\\|")[0])) {
                        sb.append(" [").append(v.table()).append(' ').append(v.key()).append(" v").append(v.version())
                                .append(v.deleted() ? " deleted" : "").append(" g").append(v.generation()).append(" l")
                                .append(v.lineage()).append(" jv")
                                .append(v.joinedVersion()).append(']');
                    }
                    out.add(sb.toString());
                }
            }
        } catch (SQLException e) {
            out.add("cannot read the bookkeeping: " + e.getMessage());
        }
        return out;
    }

    /** The Kafka records of a few differing keys: the new-schema topic's, and for legacy-keyed targets the legacy topic's. */
    private List<String> records(List<ExpectedProjection.Diff> diffs, Spec current) {
        List<String> out = new ArrayList<>();
        String bootstrap = stack.kafka().bootstrapServers();
        String registry = stack.connectionSettings().get(PipelineConfig.REGISTRY_URL.name());
        for (int i = 0; i < diffs.size(); i++) {
            ExpectedProjection.Diff d = diffs.get(i);
            Target t = current.targets().get(i);
            java.util.Set<String> keys = new java.util.LinkedHashSet<>();
            d.missing().stream().limit(2).forEach(keys::add);
            d.extra().stream().limit(2).forEach(keys::add);
            if (keys.isEmpty()) {
                continue;
            }
            out.addAll(Diagnostics.records(bootstrap, registry, name + ".new." + t.schema() + "." + t.table(), keys, 30));
            if (!t.keyedByNonKey()) {
                out.addAll(Diagnostics.records(bootstrap, registry, name + ".legacy." + t.from().specName(), keys, 30));
            }
        }
        return out;
    }

    private List<ExpectedProjection.Diff> compare(String legacyUrl, String targetUrl, Spec current) throws SQLException {
        List<ExpectedProjection.Diff> out = new ArrayList<>();
        try (Connection l = DriverManager.getConnection(legacyUrl, stack.legacy().user(), stack.legacy().password());
             Connection t = DriverManager.getConnection(targetUrl, stack.target().user(), stack.target().password())) {
            // Both sessions render time-zoned values in one zone (the JVM's, sent by the driver), made explicit here.
            String zone = java.util.TimeZone.getDefault().getID();
            try (Statement s = l.createStatement(); Statement u = t.createStatement()) {
                s.execute("SET TimeZone = '" + zone + "'");
                u.execute("SET TimeZone = '" + zone + "'");
            }
            for (Target target : current.targets()) {
                out.add(ExpectedProjection.compare(target,
                        ExpectedProjection.read(l, ExpectedProjection.legacySql(schema, target), target.keyCount()),
                        ExpectedProjection.read(t, ExpectedProjection.targetSql(target), target.keyCount())));
            }
        }
        return out;
    }

    /**
     * {@code verify} on every target: clean where it translates the spec to SQL. The ledger is
     * generated to be translatable (copies, renames, constants, casts that fail the stream, plain
     * column references), so verify must run on it.
     */
    /**
     * The bulk path against the streaming path: each target SQL can compute ({@link SpecSql}) is copied
     * again by {@link BulkCopy}, at an exported snapshot of the now quiet legacy database, into a table
     * of the same definition, and must hold the same rows as the target the pipeline built, compared
     * by the text of every spec column.
     */
    private void bulkCopyCheck(String legacyUrl, String targetUrl, MigrationSpec spec) throws Exception {
        List<String> lines = new ArrayList<>();
        String slot = name.toLowerCase(java.util.Locale.ROOT) + "_bulk_check";
        String user = stack.target().user();
        String password = stack.target().password();
        try (Connection t = DriverManager.getConnection(targetUrl, user, password); Statement s = t.createStatement()) {
            s.execute("CREATE SCHEMA IF NOT EXISTS bulk_check");
        }
        try (ExportedSnapshot snapshot = ExportedSnapshot.create(legacyUrl, stack.legacy().user(), stack.legacy().password(), slot, "pgoutput")) {
            for (SpecTableMapping m : spec.mappings()) {
                String copy = "bulk_check." + m.targetTable().replace('.', '_');
                try (Connection t = DriverManager.getConnection(targetUrl, user, password); Statement s = t.createStatement()) {
                    s.execute("CREATE TABLE " + SpecSql.qualified(copy) + " (LIKE " + SpecSql.qualified(m.targetTable()) + " INCLUDING ALL)");
                }
                BulkCopy.Result result;
                try {
                    result = new BulkCopy(snapshot, targetUrl, user, password, 2, 100).copy(m, copy, n -> { });
                } catch (SpecSql.NotTranslatable e) {
                    lines.add(m.targetTable() + ": not translatable (" + e.getMessage() + ")");
                    continue;
                }
                List<String> fields = result.columns().stream().map(SpecSql::quote).toList();
                String row = "ROW(" + String.join(", ", fields) + ")::text";
                try (Connection t = DriverManager.getConnection(targetUrl, user, password); Statement s = t.createStatement()) {
                    String a = "SELECT " + row + " FROM " + SpecSql.qualified(m.targetTable());
                    String b = "SELECT " + row + " FROM " + SpecSql.qualified(copy);
                    List<String> onlyPipeline = texts(s, "(" + a + ") EXCEPT ALL (" + b + ") LIMIT 5");
                    List<String> onlyBulk = texts(s, "(" + b + ") EXCEPT ALL (" + a + ") LIMIT 5");
                    if (!onlyPipeline.isEmpty() || !onlyBulk.isEmpty()) {
                        throw new AssertionError("the bulk copy of " + m.targetTable() + " (" + result.rows() + " rows) differs from the target"
                                + " the pipeline built: only in the pipeline's " + onlyPipeline + ", only in the bulk copy's " + onlyBulk);
                    }
                }
                lines.add(m.targetTable() + ": " + result.rows() + " rows in " + result.chunks() + " chunks, equal");
            }
        } finally {
            ExportedSnapshot.dropSlot(legacyUrl, stack.legacy().user(), stack.legacy().password(), slot);
        }
        note("bulk copy against the pipeline's target:\n  " + String.join("\n  ", lines));
    }

    private static List<String> texts(Statement s, String sql) throws SQLException {
        List<String> out = new ArrayList<>();
        try (ResultSet rs = s.executeQuery(sql)) {
            while (rs.next()) {
                out.add(rs.getString(1));
            }
        }
        return out;
    }

    private void verify(PipelineConfig config, MigrationSpec spec) throws Exception {
        List<String> lines = new ArrayList<>();
        for (SpecTableMapping m : spec.mappings()) {
            ByteArrayOutputStream progress = new ByteArrayOutputStream();
            try {
                Verifier.Report report = new Verifier(config, spec.migration(), List.of(m),
                        new Verifier.Options(1_000, 5, true, Duration.ofMinutes(2), false), new PrintStream(progress, true, StandardCharsets.UTF_8))
                        .run();
                TableReport r = report.tables().get(0);
                lines.add(r.summary());
                if (!r.clean()) {
                    throw new AssertionError("verify found differences in " + m.targetTable() + ": " + r.summary());
                }
            } catch (SpecSql.NotTranslatable e) {
                boolean ledger = m.targetTable().equals(v1.ledger().schema() + "." + v1.ledger().table());
                if (ledger) {
                    throw new AssertionError("verify cannot translate the ledger target, which uses only what it documents as"
                            + " translated: " + e.getMessage());
                }
                lines.add(m.targetTable() + ": not translatable (" + e.getMessage() + ")");
            }
        }
        note("verify:\n  " + String.join("\n  ", lines));
    }

    /**
     * The dead-letter topic holds only records the spec's dead-letter casts call for: cast failures
     * from the stream stage, none from the writer; and at least one when a legacy row that passes the
     * filter (and has its joined row) has a code that does not convert.
     */
    private void checkDeadLetters(String legacyUrl) throws Exception {
        List<String> unexpected = new ArrayList<>();
        int castFailures = 0;
        String topic = name + ".dlq";
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG,
                stack.kafka().bootstrapServers(), ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new ByteArrayDeserializer(),
                new ByteArrayDeserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> ends = consumer.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(p -> consumer.position(p) < ends.get(p)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> rec : consumer.poll(Duration.ofMillis(500))) {
                    String stage = header(rec, DeadLetterFields.STAGE);
                    String exception = header(rec, DeadLetterFields.EXCEPTION);
                    String message = header(rec, DeadLetterFields.ERROR);
                    boolean cast = DeadLetterFields.TRANSFORM.equals(stage) && (exception != null && exception.contains("CastFailed")
                            || message != null && message.contains("cannot convert"));
                    if (cast && v1.targets().stream().anyMatch(Target::deadLetters)) {
                        castFailures++;
                    } else if (unexpected.size() < 5) {
                        unexpected.add(stage + " stage: exception " + exception + ": " + message + "; table " + header(rec, DeadLetterFields.TABLE)
                                + " SQLSTATE " + header(rec, DeadLetterFields.SQLSTATE));
                        unexpected.addAll(legacyHistory(rec));
                    } else {
                        unexpected.add("...");
                    }
                }
            }
        }
        long failingRows = 0;
        Target view = v1.targets().get(1);
        if (view.deadLetters()) {
            String sql = "SELECT count(*) FROM " + view.from().qualified() + " s"
                    + (view.joinAlias() == null ? "" : " JOIN " + schema.parent().qualified() + " j ON j." + schema.parent().key().get(0).quoted()
                    + " = s." + schema.driving().role(Role.REF).quoted())
                    + " WHERE NOT (" + String.join(" AND ", view.passSql()) + ")" + (view.filterSql() == null ? "" : " AND " + view.filterSql());
            try (Connection l = DriverManager.getConnection(legacyUrl, stack.legacy().user(), stack.legacy().password());
                 Statement s = l.createStatement(); ResultSet rs = s.executeQuery(sql)) {
                rs.next();
                failingRows = rs.getLong(1);
            }
        }
        note("dead letters: " + castFailures + " cast failures (" + failingRows + " legacy rows call for them), " + unexpected.size() + " others");
        if (!unexpected.isEmpty()) {
            throw new AssertionError("dead letters the spec does not call for: " + unexpected);
        }
        if (failingRows > 0 && castFailures == 0) {
            throw new AssertionError(failingRows + " legacy rows have a code the dead-letter cast cannot convert, yet nothing was dead-lettered");
        }
    }

    /** Every record of a dead-lettered legacy change's key on its legacy topic, to show what came before it. */
    private List<String> legacyHistory(ConsumerRecord<byte[], byte[]> deadLetter) {
        String topic = header(deadLetter, DeadLetterFields.TOPIC);
        if (topic == null || !topic.startsWith(name + ".legacy.") || deadLetter.key() == null) {
            return List.of();
        }
        String registry = stack.connectionSettings().get(PipelineConfig.REGISTRY_URL.name());
        try {
            org.apache.avro.generic.GenericRecord key = new dev.understudy.schemas.AvroDeserializer(
                    new dev.understudy.schemas.ConfluentRegistryClient(registry, dev.understudy.schemas.SerdeConfig.defaults()))
                    .deserialize(topic, deadLetter.key());
            List<String> parts = new ArrayList<>();
            key.getSchema().getFields().forEach(f -> parts.add(String.valueOf(key.get(f.pos()))));
            return Diagnostics.records(stack.kafka().bootstrapServers(), registry, topic, java.util.Set.of(String.join("|", parts)), 40);
        } catch (RuntimeException e) {
            return List.of("cannot read the history of the dead-lettered key: " + e);
        }
    }

    private static String header(ConsumerRecord<byte[], byte[]> rec, String key) {
        Header h = rec.headers().lastHeader(key);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    private String ledgerLine(String targetUrl, Target ledger) throws SQLException {
        try (Connection t = DriverManager.getConnection(targetUrl, stack.target().user(), stack.target().password())) {
            long[] v = Faults.LedgerReader.read(t, "SELECT count(*), COALESCE(sum(" + SchemaGenerator.quote(ledger.balanceColumn())
                    + "), 0)::text FROM " + ledger.qualified());
            return "ledger " + v[0] + " rows summing to " + v[1];
        }
    }

    private Path writeSpec(Spec spec, Path dir) throws Exception {
        Files.createDirectories(dir);
        for (Target t : spec.targets()) {
            Files.writeString(dir.resolve(t.id() + ".avsc"), spec.contract(t));
        }
        Path file = dir.resolve("spec.yaml");
        Files.writeString(file, spec.yaml());
        return file;
    }

    /** A replication slot serves one client: a restart waits until the previous one has let go of the pipeline's slots. */
    private void awaitSlotsFree() throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(60).toNanos();
        while (System.nanoTime() < deadline) {
            if (!slotActive(stack.legacy().connect()) && !slotActive(stack.target().connect())) {
                return;
            }
            Thread.sleep(100);
        }
        throw new AssertionError("replication slots of " + name + " still in use after 60 s");
    }

    private boolean slotActive(Connection c) throws SQLException {
        try (c; Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT count(*) FROM pg_replication_slots WHERE active AND slot_name LIKE '" + name + "\\_%'")) {
            rs.next();
            return rs.getLong(1) > 0;
        }
    }

    private static void createDatabase(Connection c, String db) throws SQLException {
        try (c; Statement s = c.createStatement()) {
            s.execute("CREATE DATABASE " + db);
        }
    }

    private static String withDatabase(String url, String db) {
        return url.substring(0, url.lastIndexOf('/') + 1) + db;
    }

    /** Drops what the trial made, so that slots hold no WAL and the broker no partitions for later trials. */
    private void cleanUp(String legacyDb, String targetDb, boolean keepDatabases) {
        try {
            awaitSlotsFree();
        } catch (Exception | AssertionError e) {
            note("cleanup: " + e.getMessage());
        }
        for (var server : List.of(stack.legacy(), stack.target())) {
            try (Connection c = server.connect(); Statement s = c.createStatement()) {
                s.execute("SELECT pg_drop_replication_slot(slot_name) FROM pg_replication_slots WHERE slot_name LIKE '" + name + "\\_%'");
                String db = server == stack.legacy() ? legacyDb : targetDb;
                if (keepDatabases) {
                    note("kept database " + db + " on " + server.jdbcUrl());
                } else {
                    s.execute("DROP DATABASE IF EXISTS " + db + " WITH (FORCE)");
                }
            } catch (SQLException e) {
                note("cleanup of " + server.name() + ": " + e.getMessage());
            }
        }
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
            List<String> topics = admin.listTopics().names().get().stream()
                    .filter(t -> t.startsWith(name + ".") || t.startsWith(name + "-")).toList();
            admin.deleteTopics(topics).all().get();
        } catch (Exception e) {
            note("cleanup of topics: " + e.getMessage());
        }
        try {
            dev.understudy.stack.FileTrees.deleteRecursively(work);
        } catch (Exception e) {
            note("cleanup of " + work + ": " + e.getMessage());
        }
    }
}

package dev.understudy.load;

import dev.understudy.capture.CaptureSettings;
import dev.understudy.capture.ExportedSnapshot;
import dev.understudy.capture.SnapshotImages;
import dev.understudy.capture.TableChunks;
import dev.understudy.schemas.PausePoints;
import dev.understudy.schemas.SqlNames;
import dev.understudy.transform.MigrationSeeds;
import dev.understudy.transform.TableMapping;
import dev.understudy.writer.TableApplier;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.replication.LogSequenceNumber;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;
import java.util.function.Supplier;

/**
 * The initial load of a new pipeline's targets from the legacy database, outside the stream and in
 * parallel, so that streaming continues from the same point with the migration's state in place:
 * <pre>
 *   legacy table (chunks of pages, at the slot's exported snapshot, several workers)
 *     ── SnapshotImages ──▶ the capture's row image ──┬─▶ the legacy topic, and the migration's TOAST-fill
 *                                                      │   store changelog                          (MigrationSeeds.images)
 *                                                      └─▶ MigrationProcessor's target rows ──┬─▶ COPY into the target (TableApplier.CopyPlan)
 *                                                                                              └─▶ comparison's expected-row changelogs
 * </pre>
 * Every step is the stream's own code, so the target holds what the stream would have written for
 * the same rows ({@code BulkLoadIT} compares both), and the state stores hold what the stream
 * would have left in them: when the migration and the comparison first start, they restore that
 * state and go on with the changes the capture streams from the slot's consistent point.
 * <p>
 * A row a mapping cannot map goes to the dead-letter topic as the stream would send it (its legacy
 * key and envelope, with the error), is counted, and the load goes on. The writer's per-row
 * bookkeeping ({@code WriterBookkeeping}'s row versions) is not written: a loaded row has the snapshot's
 * version, 0, and every change streamed afterwards has a higher one (its LSN, past the consistent
 * point), so the writer's guard, which applies a change when it is newer than the stored version or
 * when none is stored, applies every later change of a loaded row, as it would have over a stored 0.
 * <p>
 * The target tables must be empty: a loaded row would otherwise meet one written before. One target
 * transaction per chunk and target table. Each table's chunks are given to the {@link Ledger} as
 * planned, and each chunk once its rows are committed and Kafka acknowledged every record it sent,
 * so that an interrupted load resumes with the chunks not recorded (InitialBulkLoad).
 */
public final class BulkLoad {
    private static final Logger LOG = LoggerFactory.getLogger(BulkLoad.class);
    /** Bytes of COPY text a worker gathers for one target before it sends them. */
    private static final int COPY_BUFFER = 256 * 1024;
    private static final java.lang.management.ThreadMXBean THREADS = java.lang.management.ManagementFactory.getThreadMXBean();

    /** Progress of one legacy table. */
    public record TableProgress(String table, long estimatedRows, long estimatedBytes, long rows, long bytes, int chunks,
                                int chunksDone, long deadLettered) {
    }

    /**
     * Where a load records its chunks, so that an interrupted load can resume: the plan of each table
     * before its first chunk loads, then each chunk once its rows are committed in the target and
     * every record it sent is acknowledged by Kafka.
     */
    public interface Ledger {
        /**
         * @param relfilenode  the table's file at the snapshot (pg_relation_filenode)
         * @param snapshotXmin the snapshot's oldest running transaction (xid8): rows written from it on
         *                     may be newer than the snapshot
         */
        void planned(String table, long relfilenode, long snapshotXmin, List<TableChunks.Chunk> chunks);

        void loaded(String table, TableChunks.Chunk chunk, long rows);
    }

    /**
     * What a load did; {@code workerCpuMillis} is the CPU time of its worker threads (reading, mapping,
     * encoding, sending, COPY text), steadier than the elapsed time on a shared machine.
     */
    public record Result(long rows, long bytes, long stateRecords, long deadLettered, long millis, long workerCpuMillis) {
        public double rowsPerSecond() {
            return millis == 0 ? rows : rows * 1000.0 / millis;
        }
    }

    private final ExportedSnapshot snapshot;
    private final CaptureSettings legacy;
    /** Seeds of each worker: a migration processor keeps per-call state, so no two threads share one. */
    private final Supplier<MigrationSeeds> seeds;
    private final List<TableMapping> mappings;
    private final String targetUrl;
    private final String targetUser;
    private final String targetPassword;
    private final String bootstrap;
    private final int workers;
    private final long rowsPerChunk;
    private final Ledger ledger;
    private final Map<String, Table> tables = new LinkedHashMap<>();
    private final AtomicLong stateRecords = new AtomicLong();
    private final AtomicReference<Exception> sendFailure = new AtomicReference<>();
    private final AtomicLong workerCpuNanos = new AtomicLong();

    /** Running counts of one legacy table. */
    private static final class Table {
        final String name;
        final long estimatedRows;
        final long estimatedBytes;
        final AtomicLong rows = new AtomicLong();
        final AtomicLong bytes = new AtomicLong();
        final AtomicLong deadLettered = new AtomicLong();
        volatile int chunks;
        final AtomicLong chunksDone = new AtomicLong();

        Table(String name, long estimatedRows, long estimatedBytes) {
            this.name = name;
            this.estimatedRows = estimatedRows;
            this.estimatedBytes = estimatedBytes;
        }
    }

    /**
     * @param workers      chunks loaded at once, each on its own connections to both databases
     * @param rowsPerChunk rows per chunk, about (planned from the table's statistics)
     */
    public BulkLoad(ExportedSnapshot snapshot, CaptureSettings legacy, Supplier<MigrationSeeds> seeds, List<TableMapping> mappings, String targetUrl,
                    String targetUser, String targetPassword, String bootstrap, int workers, long rowsPerChunk, Ledger ledger) {
        if (workers < 1 || rowsPerChunk < 1) {
            throw new IllegalArgumentException("workers and rowsPerChunk must be positive, were " + workers + " and " + rowsPerChunk);
        }
        this.snapshot = snapshot;
        this.legacy = legacy;
        this.seeds = seeds;
        this.mappings = List.copyOf(mappings);
        this.targetUrl = targetUrl;
        this.targetUser = targetUser;
        this.targetPassword = targetPassword;
        this.bootstrap = bootstrap;
        this.workers = workers;
        this.rowsPerChunk = rowsPerChunk;
        this.ledger = ledger;
    }

    /**
     * Refuses a load into target tables that hold rows, naming each; changes nothing.
     */
    public static void checkTargetsEmpty(Connection target, List<TableMapping> mappings, String key) throws SQLException {
        List<String> holding = new ArrayList<>();
        for (TableMapping m : mappings) {
            try (PreparedStatement ps = target.prepareStatement("SELECT EXISTS (SELECT 1 FROM " + SqlNames.qualified(m.targetTable()) + ")");
                 ResultSet rs = ps.executeQuery()) {
                rs.next();
                if (rs.getBoolean(1)) {
                    holding.add(m.targetTable());
                }
            }
        }
        if (!holding.isEmpty()) {
            throw new IllegalStateException("The initial load (" + key + "=bulk) writes into empty target tables, and " + holding
                    + (holding.size() == 1 ? " holds" : " hold") + " rows already: empty them (TRUNCATE " + String.join(", ", holding)
                    + ") or load through the stream (" + key + "=snapshot), which upserts over existing rows");
        }
    }

    /** Progress per legacy table, in load order; empty before {@link #run()} planned the tables. */
    public List<TableProgress> progress() {
        List<TableProgress> out = new ArrayList<>();
        for (Table t : tables.values()) {
            out.add(new TableProgress(t.name, t.estimatedRows, t.estimatedBytes, t.rows.get(), t.bytes.get(), t.chunks,
                    (int) t.chunksDone.get(), t.deadLettered.get()));
        }
        return out;
    }

    /** Loads every legacy table the seeds read, then waits until Kafka acknowledged every state record. */
    public Result run() throws SQLException, InterruptedException {
        long start = System.nanoTime();
        List<Work> work = new ArrayList<>();
        try (Connection c = snapshot.open()) {
            for (String table : seeds.get().legacyTables()) {
                long[] estimate = estimate(c, table);
                Table t = new Table(table, estimate[0], estimate[1]);
                List<TableChunks.Chunk> chunks = TableChunks.plan(c, table, rowsPerChunk);
                ledger.planned(table, TableChunks.relfilenode(c, table), snapshotXmin(c), chunks);
                t.chunks = chunks.size();
                tables.put(table, t);
                for (TableChunks.Chunk chunk : chunks) {
                    work.add(new Work(t, chunk));
                }
            }
            c.commit();
        }
        LOG.info("Initial load from {}: {} chunks of {} table(s), {} workers", snapshot, work.size(), tables.size(), workers);
        Map<String, Object> producerConfig = new HashMap<>();
        producerConfig.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        producerConfig.put(ProducerConfig.ACKS_CONFIG, "all");
        // The capture's compression (capture.producer.compression.type): the load produces the capture's
        // records and the state of the same rows. Against a broker on the same machine, none costs less
        // CPU on both ends (docs/performance.md).
        producerConfig.put(ProducerConfig.COMPRESSION_TYPE_CONFIG, legacy.config().producerCompressionType());
        producerConfig.put(ProducerConfig.LINGER_MS_CONFIG, 20);
        producerConfig.put(ProducerConfig.BATCH_SIZE_CONFIG, 512 * 1024);
        producerConfig.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        ExecutorService pool = Executors.newFixedThreadPool(Math.max(1, Math.min(workers, work.size())), r -> {
            Thread t = new Thread(r, "understudy-initial-load");
            t.setDaemon(true);
            return t;
        });
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig, new ByteArraySerializer(), new ByteArraySerializer())) {
            ThreadLocal<Worker> perThread = ThreadLocal.withInitial(() -> new Worker(producer));
            List<Worker> all = java.util.Collections.synchronizedList(new ArrayList<>());
            List<Future<?>> done = new ArrayList<>();
            for (Work w : work) {
                done.add(pool.submit(() -> {
                    Worker worker = perThread.get();
                    if (worker.fresh) {
                        worker.fresh = false;
                        all.add(worker);
                    }
                    long cpu = THREADS.getCurrentThreadCpuTime();
                    try {
                        worker.load(w);
                    } finally {
                        workerCpuNanos.addAndGet(THREADS.getCurrentThreadCpuTime() - cpu);
                    }
                    return null;
                }));
            }
            try {
                for (Future<?> f : done) {
                    try {
                        f.get();
                    } catch (ExecutionException e) {
                        for (Future<?> other : done) {
                            other.cancel(true);
                        }
                        Throwable cause = e.getCause();
                        if (cause instanceof SQLException sql) {
                            throw sql;
                        }
                        if (cause instanceof RuntimeException re) {
                            throw re;
                        }
                        throw new IllegalStateException("The initial load failed: " + cause, cause);
                    }
                }
            } finally {
                pool.shutdownNow();
                pool.awaitTermination(30, java.util.concurrent.TimeUnit.SECONDS);
                synchronized (all) {
                    all.forEach(Worker::close);
                }
            }
            producer.flush();
        }
        if (sendFailure.get() != null) {
            throw new IllegalStateException("Kafka at " + bootstrap + " did not acknowledge the migration's state for the loaded rows: "
                    + sendFailure.get() + ". Nothing streams yet; start the pipeline again to load again from a new snapshot",
                    sendFailure.get());
        }
        PausePoints.reach(PausePoints.LOAD_DONE);
        long rows = 0;
        long bytes = 0;
        long dead = 0;
        for (Table t : tables.values()) {
            rows += t.rows.get();
            bytes += t.bytes.get();
            dead += t.deadLettered.get();
        }
        return new Result(rows, bytes, stateRecords.get(), dead, (System.nanoTime() - start) / 1_000_000, workerCpuNanos.get() / 1_000_000);
    }

    /** The oldest transaction the snapshot of {@code c}'s transaction still saw running (PostgreSQL 13+, xid8). */
    private static long snapshotXmin(Connection c) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_snapshot_xmin(pg_current_snapshot())::text::bigint");
             ResultSet rs = ps.executeQuery()) {
            rs.next();
            return rs.getLong(1);
        }
    }

    /** Rows and bytes of a table, as the catalog estimates them (-1 when never analysed). */
    private static long[] estimate(Connection c, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT reltuples::bigint, pg_table_size(oid) FROM pg_class WHERE oid = ?::regclass")) {
            ps.setString(1, SqlNames.qualified(table));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return new long[]{rs.getLong(1), rs.getLong(2)};
            }
        }
    }

    private record Work(Table table, TableChunks.Chunk chunk) {
    }

    /** One worker thread's converters and target connections, reused chunk after chunk. */
    private final class Worker {
        final KafkaProducer<byte[], byte[]> producer;
        final SnapshotImages images;
        final MigrationSeeds seeds;
        final Map<String, SnapshotImages.TableImages> readers = new HashMap<>();
        final Map<String, Connection> targets = new HashMap<>();
        final Map<String, TableApplier.CopyPlan> plans = new HashMap<>();
        boolean fresh = true;

        Worker(KafkaProducer<byte[], byte[]> producer) {
            this.producer = producer;
            this.images = SnapshotImages.open(legacy);
            this.seeds = BulkLoad.this.seeds.get();
        }

        void load(Work work) throws SQLException {
            Table table = work.table;
            SnapshotImages.TableImages reader = readers.get(table.name);
            if (reader == null) {
                reader = images.table(table.name);
                readers.put(table.name, reader);
            }
            Map<String, Copy> copies = new LinkedHashMap<>();
            long[] dead = {0};
            LogSequenceNumber point = snapshot.consistentPoint();
            long now = System.currentTimeMillis();
            long rows;
            // Progress as the rows are read, not only per committed chunk: the counts move every 1,024 rows.
            long[] counted = {0};
            try (Connection reading = snapshot.open()) {
                rows = reader.read(reading, work.chunk.predicate(), point, now, image -> {
                    if (++counted[0] % 1024 == 0) {
                        table.rows.addAndGet(1024);
                    }
                    MigrationSeeds.Images images = seeds.images(table.name, image.key(), image.envelope());
                    send(images.legacy());
                    send(images.stored());
                    MigrationSeeds.Seeded seeded = seeds.seed(table.name, image.key(), image.envelope(), now);
                    for (MigrationSeeds.Failure failure : seeded.failures()) {
                        deadLetter(table.name, image.key(), image.envelope(), now, failure);
                        dead[0]++;
                    }
                    for (MigrationSeeds.StoreRecord r : seeded.state()) {
                        send(r);
                    }
                    for (MigrationSeeds.TargetRow row : seeded.rows()) {
                        if (row.row() == null) {
                            continue; // left out by the mapping's filter: nothing to write
                        }
                        try {
                            Copy copy = copies.get(row.mapping().targetTable());
                            if (copy == null) {
                                copy = new Copy(row.mapping().targetTable(), plan(row.mapping(), row.key(), row.row()));
                                copies.put(row.mapping().targetTable(), copy);
                            }
                            table.bytes.addAndGet(copy.add(row.key(), row.row()));
                        } catch (SQLException e) {
                            throw new IllegalStateException(e);
                        }
                    }
                }, (deadLetter, error) -> {
                    LOG.error("Initial load of {}: a row the capture cannot carry was written to dead-letter topic '{}' (key {}): {}",
                            table.name, deadLetter.topic(), new String(deadLetter.key(), StandardCharsets.UTF_8), error.getMessage());
                    producer.send(deadLetter, (m, e) -> {
                        if (e != null) {
                            sendFailure.compareAndSet(null, e);
                        }
                    });
                    dead[0]++;
                });
                reading.commit();
            } catch (IllegalStateException e) {
                if (e.getCause() instanceof SQLException sql) {
                    throw failed(work, sql);
                }
                throw e;
            }
            try {
                for (Copy copy : copies.values()) {
                    table.bytes.addAndGet(copy.end());
                }
                for (Copy copy : copies.values()) {
                    targets.get(copy.table).commit();
                }
            } catch (SQLException e) {
                throw failed(work, e);
            }
            // Recorded as loaded only once Kafka holds what the chunk sent: a resumed load does not read
            // it again, so its images and seeded state must not be lost with this process.
            producer.flush();
            if (sendFailure.get() != null) {
                throw new IllegalStateException("Kafka at " + bootstrap + " did not acknowledge the records of " + table.name + ", chunk "
                        + (work.chunk.index() + 1) + ": " + sendFailure.get() + ". Start the pipeline again: the load resumes with the"
                        + " chunks not recorded as loaded", sendFailure.get());
            }
            ledger.loaded(table.name, work.chunk, rows);
            table.rows.addAndGet(rows - counted[0] / 1024 * 1024);
            table.deadLettered.addAndGet(dead[0]);
            table.chunksDone.incrementAndGet();
            PausePoints.reach(PausePoints.LOAD_CHUNK_COMMITTED);
        }

        private SQLException failed(Work work, SQLException e) {
            return new SQLException("Initial load of " + work.table.name + ", chunk " + (work.chunk.index() + 1) + " of " + work.table.chunks
                    + " (" + work.chunk.predicate() + "), failed: " + e.getMessage(), e.getSQLState(), e);
        }

        private TableApplier.CopyPlan plan(TableMapping mapping, GenericRecord key, GenericRecord row) throws SQLException {
            String target = mapping.targetTable();
            TableApplier.CopyPlan plan = plans.get(target);
            if (plan == null) {
                Connection c = target(target);
                plan = new TableApplier(c, target).copyPlan(c, key.getSchema(), row.getSchema());
                c.commit();
                plans.put(target, plan);
            }
            return plan;
        }

        private Connection target(String table) throws SQLException {
            Connection c = targets.get(table);
            if (c == null) {
                c = DriverManager.getConnection(targetUrl, targetUser, targetPassword);
                c.setAutoCommit(false);
                targets.put(table, c);
            }
            return c;
        }

        private void send(MigrationSeeds.StoreRecord r) {
            producer.send(new ProducerRecord<>(r.topic(), r.partition(), r.key(), r.value()), (m, e) -> {
                if (e != null) {
                    sendFailure.compareAndSet(null, e);
                }
            });
            stateRecords.incrementAndGet();
        }

        private void deadLetter(String legacyTable, GenericRecord key, GenericRecord envelope, long now, MigrationSeeds.Failure failure) {
            MigrationSeeds.DeadLetter dead = seeds.deadLetter(legacyTable, key, envelope, now, failure);
            LOG.error("Initial load of {}: the row with key {} was written to dead-letter topic '{}' with its legacy image, as the"
                    + " migration to {} cannot map it (its understudy.dlq.* headers name the cause); fix the mapping or the row, then"
                    + " replay it. Cause: {}", legacyTable, key, dead.topic(), failure.mapping().targetTable(), failure.error().toString(),
                    failure.error());
            producer.send(new ProducerRecord<>(dead.topic(), null, now, dead.key(), dead.value(), dead.headers()), (m, e) -> {
                if (e != null) {
                    sendFailure.compareAndSet(null, e);
                }
            });
        }

        void close() {
            images.close();
            for (Connection c : targets.values()) {
                try {
                    c.close();
                } catch (SQLException ignored) {
                    // closing after the load: nothing left to lose
                }
            }
        }

        /** One target table's COPY of the current chunk. */
        private final class Copy {
            final String table;
            final TableApplier.CopyPlan plan;
            final StringBuilder buffer = new StringBuilder(COPY_BUFFER + 4096);
            CopyIn in;

            Copy(String table, TableApplier.CopyPlan plan) {
                this.table = table;
                this.plan = plan;
            }

            /** Adds a row; returns the bytes it sent to the target, if the buffer was full. */
            long add(GenericRecord key, GenericRecord row) throws SQLException {
                plan.appendLine(buffer, key, row);
                return buffer.length() >= COPY_BUFFER ? flush() : 0;
            }

            private long flush() throws SQLException {
                if (in == null) {
                    in = target(table).unwrap(PGConnection.class).getCopyAPI().copyIn(plan.copySql());
                }
                byte[] bytes = buffer.toString().getBytes(StandardCharsets.UTF_8);
                buffer.setLength(0);
                in.writeToCopy(bytes, 0, bytes.length);
                return bytes.length;
            }

            /** Sends what is left and ends the COPY; returns the bytes sent now. */
            long end() throws SQLException {
                long sent = buffer.length() > 0 ? flush() : 0;
                if (in != null) {
                    in.endCopy();
                }
                return sent;
            }
        }
    }
}

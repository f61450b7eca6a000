package dev.understudy.workbench;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.schemas.Topics;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.writer.ApplyResult;
import dev.understudy.writer.RowChange;
import dev.understudy.writer.ShadowWriter;
import dev.understudy.writer.ShadowWriterConfig;
import dev.understudy.writer.TableApplier;
import dev.understudy.writer.WriterBookkeeping;
import dev.understudy.writer.WriterMetrics;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.postgresql.PGConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Shadow-writer throughput next to what PostgreSQL alone does with the same rows in the same run:
 * one COPY of the final rows into the same empty table (the baseline), the writer's SQL path
 * ({@link TableApplier#apply}) fed directly over JDBC, and the {@link ShadowWriter} end to end from a
 * topic filled beforehand. The first comparison says what the version guard, the bookkeeping and the
 * upsert cost against a bulk load; the second says what Kafka and decoding add on top.
 * <p>
 * Every stage starts from a freshly created table and bookkeeping table and must end with the same
 * table contents (compared by a checksum), so the three produce the same result and differ only in
 * how.
 */
@Command(name = "writer", mixinStandardHelpOptions = true,
        description = "Shadow-writer rows/s (end to end, and its SQL path alone) against one COPY of the same rows.")
final class WriterBenchmark implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "1000000",
            description = "Change records to apply; with --updates-per-key K the table ends with rows/K rows (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--batch", defaultValue = "" + ShadowWriterConfig.DEFAULT_MAX_BATCH_RECORDS,
            description = "Records per writer batch (max.poll.records, one database transaction), and per direct TableApplier batch (default: ${DEFAULT-VALUE}).")
    int batch;

    @Option(names = "--updates-per-key", defaultValue = "1",
            description = "Versions per key, produced back to back so that most collapse within a batch (default: ${DEFAULT-VALUE}: inserts only).")
    int updatesPerKey;

    @Option(names = "--timezone", defaultValue = "UTC", description = "PostgreSQL server time zone (default: ${DEFAULT-VALUE}).")
    String timeZone;

    private static final String PREFIX = "bench";
    private static final String TABLE = "public.users";
    private static final String TOPIC = Topics.newSchema(PREFIX, TABLE);
    private static final int PARTITIONS = 3;
    /** The users contract's table (as in the shadow writer's tests), primary key as its only index. */
    private static final String CREATE_TABLE = "CREATE TABLE public.users (id bigint PRIMARY KEY, full_name text, email text, "
            + "birthdate date, created_at timestamptz)";
    private static final Schema KEY = KeySchemas.of("public", "users",
            List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
    private static final Schema VALUE = Contracts.load("users.avsc");
    private static final long CREATED_BASE_MICROS = ChronoUnit.MICROS.between(Instant.EPOCH, Instant.parse("2019-02-17T01:30:00.123456Z"));
    /** How long the writer may go without committing a batch before the run is given up. */
    private static final long STALL_NANOS = 120_000_000_000L;

    @Override
    public Integer call() throws Exception {
        if (rows < 1 || batch < 1 || updatesPerKey < 1 || rows % updatesPerKey != 0) {
            System.err.println("--rows, --batch and --updates-per-key must be positive, and --rows a multiple of --updates-per-key");
            return 2;
        }
        long keys = rows / updatesPerKey;
        String loadAtStart = loadAverage();
        try (EmbeddedStack stack = EmbeddedStack.start(Home.dir().resolve("bench-writer"), timeZone)) {
            try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers()))) {
                admin.createTopics(List.of(new NewTopic(TOPIC, PARTITIONS, (short) 1),
                        new NewTopic(Topics.deadLetter(PREFIX), 1, (short) 1))).all().get();
            }
            System.out.printf("Writer benchmark, %,d change records of %s (%,d keys, %d per key), batch %,d, %d cores%n",
                    rows, TABLE, keys, updatesPerKey, batch, Runtime.getRuntime().availableProcessors());

            // The topic is filled before the writer starts, so that the writer's figure is the writer alone.
            double produceSeconds = produce(stack);
            System.out.printf("  produced %,d records to %s (%d partitions) in %.2f s (%,.0f records/s), before the writer started%n",
                    rows, TOPIC, PARTITIONS, produceSeconds, rows / produceSeconds);

            resetTarget(stack);
            double copySeconds = copy(stack, keys);
            String expected = checksum(stack);

            resetTarget(stack);
            long[] direct = new long[3];
            List<Long> directBatchMillis = new ArrayList<>();
            double directSeconds = applyDirect(stack, direct, directBatchMillis);
            String directSum = checksum(stack);

            resetTarget(stack);
            double copyMergeSeconds = copyMerge(stack);
            String copyMergeSum = checksum(stack);

            resetTarget(stack);
            WriterRun run = runWriter(stack);
            String writerSum = checksum(stack);

            System.out.println("  ratio = COPY seconds / stage seconds, for the same final table" + (updatesPerKey > 1
                    ? "; COPY loads the final rows, the writer stages apply every change record" : ""));
            System.out.printf("  %-24s %12s %9s %12s %8s%n", "stage", "rows", "seconds", "rows/s", "ratio");
            line("COPY (baseline)", keys, copySeconds, copySeconds);
            line("TableApplier direct", rows, directSeconds, copySeconds);
            line("COPY to temp + merge", rows, copyMergeSeconds, copySeconds);
            line("ShadowWriter end to end", rows, run.seconds, copySeconds);
            System.out.printf("  TableApplier direct: %,d upserted, %,d collapsed (superseded in their batch), %,d stale; %,d batches of %,d, "
                            + "apply and commit p50 %,d ms, p95 %,d ms, max %,d ms%n",
                    direct[0], direct[1], direct[2], directBatchMillis.size(), batch, percentile(directBatchMillis, 50),
                    percentile(directBatchMillis, 95), percentile(directBatchMillis, 100));
            WriterMetrics m = run.metrics;
            System.out.printf("  ShadowWriter: %,d upserted, %,d collapsed, %,d stale, %,d dead-lettered; %,d batches, %,.0f records each on average, "
                            + "batch commit p50 %,d ms, p95 %,d ms, max %,d ms; first batch committed %.2f s after start%n",
                    m.upserts(), m.rowsSuperseded(), m.rowsStale(), m.deadLettered(), m.batches(),
                    (double) m.recordsCommitted() / Math.max(1, m.batches()), percentile(run.batchMillis, 50),
                    percentile(run.batchMillis, 95), percentile(run.batchMillis, 100), run.firstBatchSeconds);
            boolean same = expected.equals(directSum) && expected.equals(writerSum) && expected.equals(copyMergeSum);
            System.out.printf("  target table after each stage: %s (count and row checksum: COPY %s, direct %s, COPY+merge %s, writer %s)%n",
                    same ? "identical" : "DIFFERENT", expected, directSum, copyMergeSum, writerSum);
            // The broker and the schema registry run in this JVM too, so the heap includes theirs.
            System.out.printf("  JVM peak heap %,d MiB, peak resident set %s (Kafka broker and registry included)%n",
                    DemoCommand.peakHeapMiB(), DemoCommand.peakRss());
            // Other processes on the machine slow every stage, not all alike; the load says how much to trust one run.
            System.out.printf("  load average (1 min): %s at start, %s at end%n", loadAtStart, loadAverage());
            return same ? 0 : 1;
        }
    }

    private static void line(String stage, long records, double seconds, double copySeconds) {
        System.out.printf("  %-24s %,12d %9.2f %,12.0f %8.3f%n", stage, records, seconds, records / seconds, copySeconds / seconds);
    }

    // ---------------------------------------------------------------------------------------------
    // The rows. Record j (0-based) is version j % K of key j / K + 1, so a key's versions are adjacent
    // in its partition and mostly land in one batch, where the writer collapses them to the last.

    private long id(long j) {
        return j / updatesPerKey + 1;
    }

    private long versionIndex(long j) {
        return j % updatesPerKey;
    }

    private static String fullName(long id, long versionIndex) {
        return versionIndex == 0 ? "Bench User " + id : "Bench User " + id + " v" + versionIndex;
    }

    private static String email(long id) {
        return "user" + id + "@example.com";
    }

    private static int birthdateDays(long id) {
        return (int) (3_650 + id % 20_000);
    }

    private static long createdAtMicros(long id) {
        return CREATED_BASE_MICROS + id * 1_000_003L;
    }

    private static GenericRecord key(long id) {
        GenericRecord k = new GenericData.Record(KEY);
        k.put("id", id);
        return k;
    }

    private static GenericRecord value(long id, long versionIndex) {
        GenericRecord v = new GenericData.Record(VALUE);
        v.put("id", id);
        v.put("full_name", fullName(id, versionIndex));
        v.put("email", email(id));
        v.put("birthdate", birthdateDays(id));
        v.put("created_at", createdAtMicros(id));
        return v;
    }

    // ---------------------------------------------------------------------------------------------

    /** Produces every record as the transform would: Avro key and value in the Confluent wire format, ordering headers. */
    private double produce(EmbeddedStack stack) throws Exception {
        ConfluentRegistryClient registry = new ConfluentRegistryClient(stack.registry().url());
        Serializer<GenericRecord> keys = AvroSerde.keys(registry).serializer();
        Serializer<GenericRecord> values = AvroSerde.values(registry).serializer();
        AtomicReference<Exception> sendFailure = new AtomicReference<>();
        long start = System.nanoTime();
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, stack.kafka().bootstrapServers(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.LINGER_MS_CONFIG, 20,
                ProducerConfig.BATCH_SIZE_CONFIG, 512 * 1024),
                new ByteArraySerializer(), new ByteArraySerializer())) {
            for (long j = 0; j < rows; j++) {
                long id = id(j);
                long vi = versionIndex(j);
                long version = j + 1;
                producer.send(new ProducerRecord<>(TOPIC, null, keys.serialize(TOPIC, key(id)), values.serialize(TOPIC, value(id, vi)),
                        ChangeHeaders.forRow(version, 0, version, ChangeHeaders.Stamp.NONE, null, null, vi == 0 ? "c" : "u")), (metadata, e) -> {
                    if (e != null) {
                        sendFailure.compareAndSet(null, e);
                    }
                });
            }
            producer.flush();
        }
        if (sendFailure.get() != null) {
            throw new IllegalStateException("Producing the benchmark records failed: " + sendFailure.get().getMessage(), sendFailure.get());
        }
        return (System.nanoTime() - start) / 1e9;
    }

    /**
     * A fresh table and a fresh bookkeeping table for each stage, so none starts with another's rows,
     * dead tuples or index pages; the checkpoint writes the previous stage's dirty pages now rather
     * than during the next stage.
     */
    private static void resetTarget(EmbeddedStack stack) throws Exception {
        try (Connection c = stack.target().connect(); Statement s = c.createStatement()) {
            s.execute("DROP TABLE IF EXISTS public.users");
            WriterBookkeeping.dropVersionTable(c);
            s.execute(CREATE_TABLE);
            s.execute("CHECKPOINT");
        }
    }

    /** One COPY of the final row of every key, the data built beforehand so that only the database is timed. */
    private double copy(EmbeddedStack stack, long keys) throws Exception {
        ByteArrayOutputStream csv = new ByteArrayOutputStream((int) Math.min(Integer.MAX_VALUE - 8, keys * 100));
        StringBuilder line = new StringBuilder(128);
        for (long id = 1; id <= keys; id++) {
            line.setLength(0);
            line.append(id).append(',').append(fullName(id, updatesPerKey - 1)).append(',').append(email(id)).append(',')
                    .append(LocalDate.ofEpochDay(birthdateDays(id))).append(',')
                    .append(Instant.EPOCH.plus(createdAtMicros(id), ChronoUnit.MICROS)).append('\n');
            csv.write(line.toString().getBytes(StandardCharsets.UTF_8));
        }
        byte[] data = csv.toByteArray();
        try (Connection c = stack.target().connect()) {
            long start = System.nanoTime();
            long copied = c.unwrap(PGConnection.class).getCopyAPI().copyIn(
                    "COPY public.users (id, full_name, email, birthdate, created_at) FROM STDIN (FORMAT csv)",
                    new ByteArrayInputStream(data), 1 << 16);
            double seconds = (System.nanoTime() - start) / 1e9;
            if (copied != keys) {
                throw new IllegalStateException("COPY loaded " + copied + " rows, expected " + keys);
            }
            return seconds;
        }
    }

    /**
     * The writer's SQL path without Kafka: the same records, decoded form, in batches of the writer's
     * size, each applied and committed on one connection set up as the writer sets up its own. Only
     * apply and commit are timed, not building the records.
     *
     * @param totals      receives upserted, superseded and stale counts
     * @param batchMillis receives each batch's apply and commit time
     */
    private double applyDirect(EmbeddedStack stack, long[] totals, List<Long> batchMillis) throws Exception {
        try (Connection c = stack.target().connect()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("SET synchronous_commit = on");
                s.execute("SET TimeZone = 'UTC'");
            }
            TableApplier applier = new TableApplier(c, TABLE);
            c.commit();
            long nanos = 0;
            List<RowChange> changes = new ArrayList<>(batch);
            for (long from = 0; from < rows; from += batch) {
                changes.clear();
                for (long j = from; j < Math.min(rows, from + batch); j++) {
                    long id = id(j);
                    changes.add(new RowChange(TABLE, key(id), value(id, versionIndex(j)), j + 1, j + 1, TOPIC, 0, j, null, null));
                }
                long start = System.nanoTime();
                ApplyResult r = applier.apply(c, changes);
                c.commit();
                long took = System.nanoTime() - start;
                nanos += took;
                batchMillis.add(took / 1_000_000);
                if (!r.deadLetters().isEmpty()) {
                    throw new IllegalStateException("TableApplier refused " + r.deadLetters().size() + " changes: "
                            + r.deadLetters().get(0).error());
                }
                totals[0] += r.upserted();
                totals[1] += r.superseded();
                totals[2] += r.stale();
            }
            return nanos / 1e9;
        }
    }

    /**
     * The alternative to the writer's unnest upsert, measured so the choice rests on figures: the
     * same batches and the same SQL work (the writer's own guard and bookkeeping upsert, from
     * {@link WriterBookkeeping}, then a target upsert), but the rows reach PostgreSQL by COPY into a
     * temporary table that the statements then read.
     */
    private double copyMerge(EmbeddedStack stack) throws Exception {
        try (Connection c = stack.target().connect()) {
            c.setAutoCommit(false);
            try (Statement s = c.createStatement()) {
                s.execute("SET synchronous_commit = on");
                s.execute("SET TimeZone = 'UTC'");
            }
            new TableApplier(c, TABLE); // creates the bookkeeping table, as the writer would
            try (Statement s = c.createStatement()) {
                s.execute("CREATE TEMP TABLE stage_users (id bigint, full_name text, email text, birthdate date, created_at timestamptz, "
                        + "pk text, version bigint) ON COMMIT DELETE ROWS");
            }
            c.commit();
            var copy = c.unwrap(PGConnection.class).getCopyAPI();
            // The writer's own guard and version upsert, reading the staged rows instead of the batch's arrays.
            String guard = WriterBookkeeping.guardStatement("ARRAY(SELECT pk FROM stage_users)");
            String bookkeeping = WriterBookkeeping.versionUpsertStatement("(SELECT pk, 0::bigint AS lineage, 0::bigint AS generation, version, "
                    + "0::bigint AS joined_version, false AS deleted FROM stage_users) AS u");
            String upsert = "INSERT INTO public.users AS t (id, full_name, email, birthdate, created_at) "
                    + "SELECT id, full_name, email, birthdate, created_at FROM stage_users "
                    + "ON CONFLICT (id) DO UPDATE SET full_name = EXCLUDED.full_name, email = EXCLUDED.email, "
                    + "birthdate = EXCLUDED.birthdate, created_at = EXCLUDED.created_at";
            long nanos = 0;
            StringBuilder csv = new StringBuilder(batch * 120);
            Map<Long, Long> last = new LinkedHashMap<>();
            for (long from = 0; from < rows; from += batch) {
                // Collapsed to the last change per key first, as the writer does before its upsert.
                last.clear();
                for (long j = from; j < Math.min(rows, from + batch); j++) {
                    last.put(id(j), j);
                }
                csv.setLength(0);
                for (var e : last.entrySet()) {
                    long id = e.getKey();
                    long j = e.getValue();
                    csv.append(id).append(',').append(fullName(id, versionIndex(j))).append(',').append(email(id)).append(',')
                            .append(LocalDate.ofEpochDay(birthdateDays(id))).append(',')
                            .append(Instant.EPOCH.plus(createdAtMicros(id), ChronoUnit.MICROS)).append(",\"{\"\"id\"\":").append(id)
                            .append("}\",").append(j + 1).append('\n');
                }
                byte[] data = csv.toString().getBytes(StandardCharsets.UTF_8);
                long start = System.nanoTime();
                copy.copyIn("COPY stage_users FROM STDIN (FORMAT csv)", new ByteArrayInputStream(data), 1 << 16);
                try (Statement s = c.createStatement();
                     PreparedStatement guarded = c.prepareStatement(guard);
                     PreparedStatement recorded = c.prepareStatement(bookkeeping)) {
                    // A temporary table has no statistics until analysed; without them the planner
                    // guesses its size and may pick a poor plan for the guard.
                    s.execute("ANALYZE stage_users");
                    guarded.setString(1, TABLE);
                    guarded.executeQuery().close();
                    recorded.setString(1, TABLE);
                    recorded.executeQuery().close();
                    s.executeUpdate(upsert);
                }
                c.commit();
                nanos += System.nanoTime() - start;
            }
            return nanos / 1e9;
        }
    }

    private record WriterRun(double seconds, double firstBatchSeconds, WriterMetrics metrics, List<Long> batchMillis) {
    }

    /**
     * Runs the writer on the filled topic until it has committed every record. The clock starts
     * before the writer is created, so it includes connecting, the group join and the first fetch.
     * Polling every few milliseconds sees nearly every batch's duration (a batch takes far longer).
     */
    private WriterRun runWriter(EmbeddedStack stack) throws Exception {
        ShadowWriterConfig config = ShadowWriterConfig.of(stack.kafka().bootstrapServers(), Topics.writerGroup(PREFIX),
                Map.of(TOPIC, TABLE), stack.target().jdbcUrl(), stack.target().user(), stack.target().password(), PREFIX)
                .withMaxBatchRecords(batch);
        List<Long> batchMillis = new ArrayList<>();
        long start = System.nanoTime();
        try (ShadowWriter writer = new ShadowWriter(config, new ConfluentRegistryClient(stack.registry().url()))) {
            writer.start();
            WriterMetrics m = writer.metrics();
            long seenBatches = 0;
            long firstBatch = 0;
            long lastProgress = System.nanoTime();
            while (m.recordsCommitted() < rows) {
                if (writer.failure().isPresent()) {
                    Throwable t = writer.failure().get();
                    throw new IllegalStateException("The shadow writer failed: " + t.getMessage(), t);
                }
                long batches = m.batches();
                if (batches != seenBatches) {
                    long now = System.nanoTime();
                    if (seenBatches == 0) {
                        firstBatch = now;
                    }
                    seenBatches = batches;
                    batchMillis.add(m.lastBatchMillis());
                    lastProgress = now;
                } else if (System.nanoTime() - lastProgress > STALL_NANOS) {
                    throw new IllegalStateException("The shadow writer committed nothing for " + STALL_NANOS / 1_000_000_000L
                            + " s: " + m);
                }
                Thread.sleep(2);
            }
            double seconds = (System.nanoTime() - start) / 1e9;
            if (firstBatch == 0) {
                firstBatch = System.nanoTime();
            }
            if (m.deadLettered() > 0) {
                throw new IllegalStateException("The shadow writer dead-lettered " + m.deadLettered() + " records: " + m);
            }
            return new WriterRun(seconds, (firstBatch - start) / 1e9, m, batchMillis);
        }
    }

    /** Row count and a sum of row hashes, rendered in UTC so that the server time zone does not enter it. */
    private static String checksum(EmbeddedStack stack) throws Exception {
        try (Connection c = stack.target().connect(); Statement s = c.createStatement()) {
            s.execute("SET TimeZone = 'UTC'");
            try (ResultSet rs = s.executeQuery("SELECT count(*), coalesce(sum(hashtext(u::text)::bigint), 0) FROM public.users u")) {
                rs.next();
                return String.format("%d/%x", rs.getLong(1), rs.getLong(2));
            }
        }
    }

    /** The 1-minute load average from /proc/loadavg (Linux), or "n/a". */
    static String loadAverage() {
        try {
            return Files.readString(Path.of("/proc/loadavg")).split(" ")[0];
        } catch (IOException | RuntimeException e) {
            return "n/a";
        }
    }

    private static long percentile(List<Long> values, int p) {
        if (values.isEmpty()) {
            return 0;
        }
        List<Long> sorted = new ArrayList<>(values);
        Collections.sort(sorted);
        int index = (int) Math.ceil(p / 100.0 * sorted.size()) - 1;
        return sorted.get(Math.max(0, Math.min(sorted.size() - 1, index)));
    }
}

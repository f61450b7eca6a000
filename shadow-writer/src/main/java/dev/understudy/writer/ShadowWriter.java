package dev.understudy.writer;

import dev.understudy.schemas.PausePoints;
import dev.understudy.schemas.RegistryClient;
import org.apache.kafka.clients.consumer.CommitFailedException;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRebalanceListener;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.clients.consumer.RetriableCommitFailedException;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.RebalanceInProgressException;
import org.apache.kafka.common.errors.RetriableException;
import org.apache.kafka.common.errors.TimeoutException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Consumes the new-schema topics and applies them to the target database, batch by batch.
 * <p>
 * Each poll becomes one database transaction: the records are decoded, grouped by target table,
 * applied with each table's {@link TableApplier}, the dead letters are published (acknowledged),
 * the transaction commits, and only then are the consumed offsets committed. A crash anywhere
 * before the offset commit makes the records be read again; the appliers' version guard turns
 * the replay into a no-op for everything that had committed, so delivery is effectively once.
 * <p>
 * Failures:
 * <ul>
 *   <li>a record that cannot be decoded, or a change the database refuses for its data, goes to the
 *   dead-letter topic with its coordinates, and the rest of the batch is applied;</li>
 *   <li>a retriable failure ({@link SqlErrorClassifier}, an unreachable registry or dead-letter topic)
 *   rolls the transaction back and retries the same records after a capped exponential backoff,
 *   reconnecting when the connection broke; meanwhile the assigned partitions are paused and the
 *   consumer keeps polling, so the group does not evict it;</li>
 *   <li>anything else (a table that does not fit its records, a permanent error every row would hit)
 *   stops the loop without committing the batch's offsets; {@link #failure()} reports it.</li>
 * </ul>
 * <p>
 * Source transactions ({@link #alignTransactions}): with a {@link TransactionWatermark}, a record of a
 * legacy transaction not known to be complete is held (a {@link TransactionAligner}) until all of that
 * transaction's records are here, and they are applied in one batch, so the target never shows part
 * of a legacy transaction. Across several writer processes this holds per process, for the partitions
 * each owns; one writer gives it for the whole target.
 */
public final class ShadowWriter implements Runnable, AutoCloseable {
    private static final Logger log = LoggerFactory.getLogger(ShadowWriter.class);
    private static final long LAG_REFRESH_NANOS = TimeUnit.SECONDS.toNanos(1);
    private static final Duration LAG_QUERY_TIMEOUT = Duration.ofSeconds(1);
    private static final long BACKOFF_SLICE_MS = 100;
    private static final Duration CLOSE_GRACE = Duration.ofSeconds(10);
    private static final Duration HOLDING_POLL = Duration.ofMillis(10);

    private final ShadowWriterConfig config;
    private final RecordDecoder decoder;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final DeadLetterPublisher deadLetters;
    private final WriterMetrics metrics = new WriterMetrics();
    private final Map<String, TableApplier> appliers = new LinkedHashMap<>();
    private final List<String> tableOrder;
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final CountDownLatch finished = new CountDownLatch(1);
    private final Object lifecycle = new Object();
    private boolean started;
    private volatile boolean closing;
    private volatile Thread loopThread;
    private final TargetConnection connection;

    // State below is touched by the loop thread only (rebalance callbacks run inside its poll).
    private WriterBatch inFlight;
    private boolean backingOff;
    private boolean partitionsRevoked;
    private boolean immediateConstraints;
    private final Map<TopicPartition, OffsetAndMetadata> pendingOffsets = new HashMap<>();
    /** Assigned partitions not yet moved to their position in the target database; kept paused until then. */
    private final Set<TopicPartition> unpositioned = new HashSet<>();
    private long lagRefreshedAt;
    private volatile boolean pauseRequested;
    /** The local rate limit and the group's controls in the target, read about once a second by the loop. */
    private final WriterControls controls;
    private TransactionAligner aligner;
    private long holdWarnedAt;
    /** How long held records wait before the writer reports a watermark that does not move. */
    private static final long HOLD_WARN_NANOS = TimeUnit.SECONDS.toNanos(60);

    /**
     * Creates the consumer and the dead-letter producer; nothing connects until {@link #start()} or {@link #run()}.
     *
     * @param registry resolves the schema ids of the records' Confluent wire format
     */
    public ShadowWriter(ShadowWriterConfig config, RegistryClient registry) {
        this.config = config;
        this.connection = new TargetConnection(config);
        this.controls = new WriterControls(config.groupId());
        this.decoder = new RecordDecoder(registry, config.topicTables());
        this.tableOrder = List.copyOf(new LinkedHashSet<>(config.topicTables().values()));
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.bootstrapServers());
        props.put(ConsumerConfig.GROUP_ID_CONFIG, config.groupId());
        // Offsets are committed by hand, after the database commit, never ahead of it.
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest");
        // Records of aborted producer transactions (an exactly-once transform that failed over) must
        // never reach the target; read_committed also stops at the last stable offset.
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        props.put(ConsumerConfig.MAX_POLL_RECORDS_CONFIG, config.maxBatchRecords());
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "understudy-shadow-writer-" + config.groupId());
        props.putAll(config.kafkaProperties());
        this.consumer = new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
        try {
            Map<String, Object> producerProps = new HashMap<>(config.kafkaProperties());
            producerProps.keySet().removeAll(ConsumerConfig.configNames());
            producerProps.putAll(commonClientProps(config.kafkaProperties()));
            this.deadLetters = DeadLetterPublisher.create(config.bootstrapServers(), config.prefix(), producerProps);
        } catch (RuntimeException e) {
            consumer.close(Duration.ZERO);
            throw e;
        }
    }

    /** Client settings shared by consumers and producers (security, DNS, ...), which the producer also needs. */
    private static Map<String, String> commonClientProps(Map<String, String> props) {
        Map<String, String> common = new HashMap<>();
        for (Map.Entry<String, String> e : props.entrySet()) {
            String k = e.getKey();
            if (k.startsWith("security.") || k.startsWith("ssl.") || k.startsWith("sasl.")
                    || k.equals("client.dns.lookup") || k.equals("request.timeout.ms")) {
                common.put(k, e.getValue());
            }
        }
        return common;
    }

    /**
     * Applies each source transaction's records in one target transaction, by {@code watermark}
     * (see the class comment). Call before {@link #start()}.
     */
    public ShadowWriter alignTransactions(TransactionWatermark watermark) {
        synchronized (lifecycle) {
            if (started) {
                throw new IllegalStateException("Align transactions before the writer starts");
            }
            this.aligner = new TransactionAligner(Objects.requireNonNull(watermark, "watermark"));
        }
        return this;
    }

    /** Runs the loop on a new thread named {@code understudy-shadow-writer}. */
    public ShadowWriter start() {
        synchronized (lifecycle) {
            if (started) {
                throw new IllegalStateException("This shadow writer has already run or been closed; create a new one");
            }
        }
        Thread t = new Thread(this, "understudy-shadow-writer");
        t.start();
        return this;
    }

    /** The loop: returns when {@link #close()} is called or a permanent error stops it (see {@link #failure()}). */
    @Override
    public void run() {
        synchronized (lifecycle) {
            if (started) {
                throw new IllegalStateException("This shadow writer has already run or been closed; create a new one");
            }
            started = true;
            loopThread = Thread.currentThread();
        }
        try {
            loop();
        } finally {
            closeResources();
            finished.countDown();
        }
    }

    /**
     * Limits the records applied per second (0 removes the limit), e.g. to spare a target that also
     * serves other work. The writer waits between batches while staying in its group; the time held
     * back shows as {@link WriterMetrics#throttledMillis()} and the growing lag.
     */
    public void setMaxRecordsPerSecond(double perSecond) {
        if (perSecond < 0 || Double.isNaN(perSecond)) {
            throw new IllegalArgumentException("max records per second must be 0 (no limit) or more, was " + perSecond);
        }
        controls.setLocalRate(perSecond);
    }

    /** Stops applying after the current batch, staying in the group, until {@link #resume()}. */
    public void pause() {
        pauseRequested = true;
    }

    public void resume() {
        pauseRequested = false;
    }

    /** Counters, readable from any thread. */
    public WriterMetrics metrics() {
        return metrics;
    }

    /** The error that stopped the loop, if one did. */
    public Optional<Throwable> failure() {
        return Optional.ofNullable(failure.get());
    }

    /** True while the loop runs. */
    public boolean isRunning() {
        synchronized (lifecycle) {
            return started && finished.getCount() > 0;
        }
    }

    /**
     * Stops the loop and waits for it to close the consumer, the producer and the database
     * connection. A batch in progress is rolled back and its offsets are not committed, so its
     * records are read again by the next writer of the group.
     */
    @Override
    public void close() {
        closing = true;
        boolean wasStarted;
        synchronized (lifecycle) {
            wasStarted = started;
            started = true;
        }
        if (!wasStarted) {
            closeResources();
            finished.countDown();
            return;
        }
        consumer.wakeup();
        if (Thread.currentThread() == loopThread) {
            return;
        }
        try {
            if (!finished.await(CLOSE_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
                // The loop is blocked in the database (e.g. waiting for a lock), where wakeup() does
                // not reach: abort the connection to unblock it.
                log.warn("The shadow writer did not stop within {}; aborting its database connection", CLOSE_GRACE);
                connection.abort();
                Thread t = loopThread;
                if (!finished.await(CLOSE_GRACE.toMillis(), TimeUnit.MILLISECONDS) && t != null) {
                    t.interrupt();
                    finished.await(CLOSE_GRACE.toMillis(), TimeUnit.MILLISECONDS);
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    // ---------------------------------------------------------------------------------------------

    private void loop() {
        try {
            if (closing) {
                return;
            }
            withRetry(() -> {
                ensureConnection();
                return null;
            });
            consumer.subscribe(config.topicTables().keySet(), new Rebalance());
            log.info("Shadow writer started: group {}, topics {} -> tables {}, dead letters to {}", config.groupId(),
                    config.topicTables().keySet(), tableOrder, deadLetters.topic());
            while (!closing) {
                if (!unpositioned.isEmpty()) {
                    withRetry(() -> {
                        positionPartitions();
                        return null;
                    });
                    resumeAll();
                }
                refreshControl();
                if (pauseRequested || controls.paused()) {
                    holdBack(BACKOFF_SLICE_MS, true);
                    continue;
                }
                metrics.paused(false);
                ConsumerRecords<byte[], byte[]> records = consumer.poll(pollTimeout());
                refreshLag();
                if (aligner != null) {
                    processAligned(records);
                } else if (!records.isEmpty()) {
                    process(new WriterBatch(records), 0);
                }
                if (records.isEmpty() && !records.nextOffsets().isEmpty()) {
                    followMarkers(records.nextOffsets());
                }
                if (!records.isEmpty()) {
                    throttle(records.count());
                }
            }
        } catch (WakeupException | InterruptException | Stopping e) {
            if (!closing) {
                fail(e);
            }
        } catch (Throwable t) {
            fail(t);
        }
    }

    private void fail(Throwable t) {
        failure.compareAndSet(null, t);
        log.error("The shadow writer stopped: {}", t.getMessage(), t);
    }

    /** Admits a poll to the aligner and applies what it releases (see {@link TransactionAligner}). */
    private void processAligned(ConsumerRecords<byte[], byte[]> records) throws Exception {
        var ready = aligner.admit(records);
        Set<TopicPartition> assigned = consumer.assignment();
        long candidate = aligner.releaseCandidate(assigned);
        if (candidate != TransactionAligner.NO_ORDER) {
            try {
                // Measured after the watermark moved: every record of its transactions lies below these ends,
                // in these partitions; a partition assigned later is covered by a later release.
                Map<TopicPartition, Long> ends = consumer.endOffsets(assigned, LAG_QUERY_TIMEOUT);
                aligner.beginRelease(candidate, ends, coversEveryPartition(ends.keySet()));
                PausePoints.reach(PausePoints.WRITER_RELEASE_BEGUN);
            } catch (RetriableException e) {
                log.debug("Could not read end offsets for commit order {} yet: {}", candidate, e.getMessage());
            }
        }
        TransactionAligner.Release release = aligner.take(ready, this::positionOf);
        metrics.held(aligner.heldCount(), aligner.released(), aligner.spills());
        if (!release.records().isEmpty()) {
            process(new WriterBatch(release.records(), release.positions(), release.coveredOrders(), release.commitOrder()),
                    release.transactions());
        }
        if (!release.rewind().isEmpty()) {
            // Holding reached its bound: the batch above held the oldest transactions whole; the newer ones
            // were let go and are read again from Kafka (TransactionAligner, bounded memory).
            log.info("Holding reached {} records: applied source transactions up to commit order {} as one batch; reading {} again"
                    + " for the later ones", TransactionAligner.MAX_HELD_RECORDS, aligner.released(), release.rewind());
            for (Map.Entry<TopicPartition, Long> e : release.rewind().entrySet()) {
                if (consumer.assignment().contains(e.getKey()) && !unpositioned.contains(e.getKey())) {
                    consumer.seek(e.getKey(), e.getValue());
                }
            }
        }
        warnIfHoldingStalls();
    }

    /**
     * True when {@code partitions} holds every partition of the writer's topics: a release over them
     * completes its commit order for the whole group (recorded in {@link WriterPositions#TRANSACTION_TABLE}).
     * False when the consumer's metadata cannot tell; the release then covers its own partitions only.
     */
    private boolean coversEveryPartition(Set<TopicPartition> partitions) {
        try {
            for (String topic : config.topicTables().keySet()) {
                var infos = consumer.partitionsFor(topic, LAG_QUERY_TIMEOUT);
                if (infos == null || infos.isEmpty()) {
                    return false;
                }
                for (var info : infos) {
                    if (!partitions.contains(new TopicPartition(info.topic(), info.partition()))) {
                        return false;
                    }
                }
            }
            return true;
        } catch (RetriableException e) {
            return false;
        }
    }

    /**
     * Held records wait for the watermark however long it takes: applying them earlier would show part
     * of a transaction. A watermark that stops moving is therefore reported, with where to look.
     */
    private void warnIfHoldingStalls() {
        long oldest = aligner.oldestHeldNanos();
        long now = System.nanoTime();
        if (oldest == Long.MAX_VALUE || now - oldest < HOLD_WARN_NANOS || now - holdWarnedAt < HOLD_WARN_NANOS) {
            return;
        }
        holdWarnedAt = now;
        long watermark = aligner.watermark();
        String waiting = aligner.watermarkWaitingFor();
        log.warn("Holding {} records for {} s: their source transactions are past the transaction watermark (commit order {}),"
                        + " which has not passed them{}. The watermark moves when the legacy capture announces commits on {}.commits"
                        + " and the migration has committed what it produced from them: check that both run and that the migration"
                        + " keeps up. To apply without waiting, at the cost of readers of the target seeing part of a transaction,"
                        + " restart with writer.transaction.boundaries=false",
                aligner.heldCount(), TimeUnit.NANOSECONDS.toSeconds(now - oldest),
                watermark == TransactionWatermark.NONE ? "none yet" : watermark, waiting.isEmpty() ? "" : " (it waits for " + waiting + ")",
                config.prefix());
    }

    /**
     * The configured poll timeout, but at most {@link #HOLDING_POLL} while records are held: a poll
     * blocks until records arrive, and a watermark that moved meanwhile would wait for it.
     */
    private Duration pollTimeout() {
        Duration configured = config.pollTimeout();
        return aligner != null && aligner.waiting() && configured.compareTo(HOLDING_POLL) > 0 ? HOLDING_POLL : configured;
    }

    /** The consumer's next offset of {@code tp}; past any end when no longer assigned, -1 while not yet positioned. */
    private long positionOf(TopicPartition tp) {
        if (!consumer.assignment().contains(tp)) {
            return Long.MAX_VALUE;
        }
        if (unpositioned.contains(tp)) {
            return -1;
        }
        try {
            return consumer.position(tp, Duration.ZERO);
        } catch (TimeoutException e) {
            return -1;
        }
    }

    private void process(WriterBatch batch, int transactions) throws Exception {
        long start = System.nanoTime();
        inFlight = batch;
        try {
            Totals totals = withRetry(() -> applyOnce(batch));
            // Deferred constraints keep their declared timing for the next batches.
            immediateConstraints = false;
            PausePoints.reach(batch.isRelease() ? PausePoints.WRITER_RELEASE_COMMITTED : PausePoints.WRITER_BATCH_COMMITTED);
            commitOffsets(batch);
            PausePoints.reach(PausePoints.WRITER_OFFSETS_COMMITTED);
            long millis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - start);
            metrics.recordBatch(totals.result, totals.deadLetters, batch.size(), millis);
            metrics.transactionsApplied(transactions);
            log.debug("Batch of {} records: {} upserted, {} deleted, {} stale, {} superseded, {} dead-lettered in {} ms",
                    batch.size(), totals.result.upserted(), totals.result.deleted(), totals.result.stale(),
                    totals.result.superseded(), totals.deadLetters, millis);
        } finally {
            inFlight = null;
            resumeAll();
        }
    }

    /** One attempt at a batch: decode, apply every table, publish dead letters, commit. */
    private Totals applyOnce(WriterBatch batch) throws Exception {
        String step = "decoding records";
        String table = null;
        Connection c = null;
        boolean committed = false;
        try {
            batch.decode(decoder, tableOrder);
            PausePoints.reach(PausePoints.WRITER_DECODED);
            step = "connecting to the target database";
            c = ensureConnection();
            step = "starting a transaction";
            if (immediateConstraints) {
                // Makes deferred constraints fail at their statement, inside the appliers' savepoints,
                // where the failing row can be dead-lettered (PostgreSQL SET CONSTRAINTS).
                try (Statement s = c.createStatement()) {
                    s.execute("SET CONSTRAINTS ALL IMMEDIATE");
                }
            }
            ApplyResult total = ApplyResult.EMPTY;
            for (Map.Entry<String, List<RowChange>> e : batch.changes.entrySet()) {
                table = e.getKey();
                step = "applying " + table;
                total = total.plus(applier(table).apply(c, e.getValue()));
            }
            table = null;
            List<DeadLetter> letters = new ArrayList<>(batch.undecodable);
            letters.addAll(total.deadLetters());
            if (!letters.isEmpty()) {
                step = "publishing " + letters.size() + " dead letters to " + deadLetters.topic();
                // Before the database commit: if publishing fails the batch is retried whole; if the
                // commit fails after it, the retry publishes again (duplicates in the dead-letter
                // topic rather than lost records).
                // The original change headers travel with each dead letter, so that a replay is ordered
                // by the writer's guard like the original record.
                DeadLetterPublisher.attachOriginalHeaders(letters, batch.records.values());
                deadLetters.publishAll(letters);
            }
            step = "recording positions in " + WriterPositions.TABLE;
            // In the same transaction as the rows: the position and the rows it covers commit together.
            WriterPositions.record(c, config.groupId(), batch.nextOffsets(), batch.coveredOrders);
            if (batch.commitOrder != null) {
                WriterPositions.recordCommitOrder(c, config.groupId(), batch.commitOrder);
            }
            PausePoints.reach(batch.isRelease() ? PausePoints.WRITER_RELEASE_APPLIED : PausePoints.WRITER_BATCH_APPLIED);
            step = BatchFailures.COMMITTING;
            c.commit();
            committed = true;
            return new Totals(total, letters.size());
        } catch (Exception e) {
            throw new StepFailure(step, table, e);
        } finally {
            if (!committed && c != null) {
                TargetConnection.rollbackQuietly(c);
            }
        }
    }

    /**
     * Seeks newly assigned partitions to the positions stored in the target database, then lets them
     * be fetched. A partition without a stored position starts from the group's committed offset (or
     * the earliest), which at worst re-reads records the version guard then skips.
     */
    private void positionPartitions() throws Exception {
        Connection c = ensureConnection();
        Set<TopicPartition> assigned = consumer.assignment();
        unpositioned.retainAll(assigned);
        Map<TopicPartition, WriterPositions.Stored> stored;
        try {
            stored = WriterPositions.read(c, config.groupId(), unpositioned);
            c.commit();
        } catch (SQLException e) {
            TargetConnection.rollbackQuietly(c);
            throw new StepFailure("reading positions from " + WriterPositions.TABLE, null, e);
        }
        Map<TopicPartition, OffsetAndMetadata> toCommit = new HashMap<>();
        for (TopicPartition tp : unpositioned) {
            WriterPositions.Stored next = stored.get(tp);
            if (next != null) {
                consumer.seek(tp, next.nextOffset());
                toCommit.put(tp, new OffsetAndMetadata(next.nextOffset()));
                if (aligner != null && next.commitOrder() != null) {
                    aligner.covered(tp, next.commitOrder());
                }
            }
        }
        if (!toCommit.isEmpty()) {
            // The group's offsets follow the database (after a rewind, say), so lag tools see the truth.
            pendingOffsets.putAll(toCommit);
            try {
                consumer.commitSync(pendingOffsets);
                pendingOffsets.clear();
            } catch (RuntimeException e) {
                if (e instanceof WakeupException || e instanceof InterruptException) {
                    throw e;
                }
                log.debug("Could not commit the stored positions to the group yet: {}", e.getMessage());
            }
        }
        log.info("Partitions {} positioned from {}: {}", unpositioned, WriterPositions.TABLE, stored);
        if (!backingOff) {
            consumer.resume(unpositioned);
        }
        unpositioned.clear();
    }

    private TableApplier applier(String table) {
        TableApplier applier = appliers.get(table);
        if (applier == null) {
            throw new IllegalStateException("No applier for table " + table);
        }
        return applier;
    }

    // ---------------------------------------------------------------------------------------------
    // Retry

    @FunctionalInterface
    private interface Attempt<T> {
        T run() throws Exception;
    }

    private <T> T withRetry(Attempt<T> attempt) throws Exception {
        int failures = 0;
        while (true) {
            try {
                T result = attempt.run();
                if (failures > 0) {
                    log.info("Recovered after {} failed attempts{}", failures, inFlight == null ? "" : " at " + inFlight.describe(null));
                }
                return result;
            } catch (WakeupException | InterruptException | Stopping e) {
                throw e;
            } catch (Exception e) {
                String step = e instanceof StepFailure sf ? sf.step : "connecting to the target database";
                String table = e instanceof StepFailure sf ? sf.table : null;
                Throwable cause = e instanceof StepFailure ? e.getCause() : e;
                String where = inFlight == null ? "" : " (records " + inFlight.describe(table) + ")";
                BatchFailures.Decision decision = BatchFailures.decide(cause, step, where, immediateConstraints);
                if (decision instanceof BatchFailures.Stop stop) {
                    throw stop.error();
                }
                if (decision instanceof BatchFailures.IsolateRow isolate) {
                    immediateConstraints = true;
                    log.warn("Commit failed{} ({}); retrying the batch with SET CONSTRAINTS ALL IMMEDIATE to isolate the row",
                            where, isolate.what());
                    continue;
                }
                BatchFailures.Retry retry = (BatchFailures.Retry) decision;
                String what = retry.what();
                if (retry.database()) {
                    connection.dropIfBroken(retry.sqlState());
                }
                failures++;
                metrics.recordRetry();
                long delay = backoffMillis(failures);
                log.warn("Retriable failure {}{} ({}); rolled back, retry {} in {} ms{}", step, where, what, failures, delay,
                        connection.current() == null ? ", with a new database connection" : "");
                backoff(delay);
            }
        }
    }

    private long backoffMillis(int failures) {
        long initial = config.retryBackoffInitial().toMillis();
        long max = config.retryBackoffMax().toMillis();
        int shift = Math.min(failures - 1, 30);
        long delay = initial << shift;
        return delay <= 0 || delay > max ? max : delay;
    }

    /**
     * Waits without leaving the group: all assigned partitions are paused and the consumer polls
     * with a zero timeout, which keeps it within max.poll.interval.ms (the group evicts a consumer
     * that does not poll for that long) without fetching records.
     */
    private void backoff(long delayMillis) {
        backingOff = true;
        long deadline = System.nanoTime() + TimeUnit.MILLISECONDS.toNanos(delayMillis);
        while (true) {
            if (closing) {
                throw new Stopping();
            }
            if (!consumer.subscription().isEmpty()) {
                consumer.pause(consumer.assignment());
                ConsumerRecords<byte[], byte[]> stray = consumer.poll(Duration.ZERO);
                if (!stray.isEmpty()) {
                    // Only a partition assigned during this poll can return records before its pause;
                    // rewind it so they are read again after the retry.
                    for (TopicPartition tp : stray.partitions()) {
                        consumer.seek(tp, stray.records(tp).get(0).offset());
                    }
                    consumer.pause(stray.partitions());
                }
                if (partitionsRevoked && inFlight != null) {
                    // Partitions moved to another member: their records are that member's now (it
                    // starts from the last committed offset), so drop them from the retry.
                    inFlight.retain(consumer.assignment());
                    log.info("Partitions were reassigned during the retry; continuing with {}", inFlight.describe(null));
                }
                partitionsRevoked = false;
            }
            refreshLag();
            long left = TimeUnit.NANOSECONDS.toMillis(deadline - System.nanoTime());
            if (left <= 0) {
                return;
            }
            try {
                Thread.sleep(Math.min(left, BACKOFF_SLICE_MS));
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptException(e);
            }
        }
    }

    /** Waits out the rate limit after a batch of {@code records}. */
    private void throttle(int records) {
        long waitMillis = controls.waitMillis(records, System.nanoTime());
        if (waitMillis > 0) {
            holdBack(waitMillis, false);
        }
    }

    private void refreshControl() {
        controls.refresh(connection.current(), System.nanoTime());
    }

    /** Holds back without leaving the group (paused partitions, zero-timeout polls), counted as throttling. */
    private void holdBack(long millis, boolean paused) {
        backoff(millis);
        resumeAll();
        metrics.throttled(millis, paused);
    }

    private void resumeAll() {
        if (backingOff) {
            backingOff = false;
            Set<TopicPartition> paused = consumer.paused();
            if (!paused.isEmpty()) {
                consumer.resume(paused);
            }
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Offsets and lag

    private void commitOffsets(WriterBatch batch) {
        commitGroupOffsets(batch.nextOffsets());
    }

    /**
     * A poll that returned transaction markers only (the migration writes in Kafka transactions)
     * moved the consumer's position with no batch to apply. The stored position and the group's
     * offset follow it, so that what is measured from them (verify's catch-up, a backfill's progress,
     * lag tools) reaches the partition's end. Only where nothing is held below it. Both only move
     * forward; if either write fails, the next batch writes past it anyway.
     */
    private void followMarkers(Map<TopicPartition, OffsetAndMetadata> next) {
        Map<TopicPartition, OffsetAndMetadata> owed = new HashMap<>();
        Set<TopicPartition> assigned = consumer.assignment();
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : next.entrySet()) {
            TopicPartition tp = e.getKey();
            if (!assigned.contains(tp) || unpositioned.contains(tp)) {
                continue;
            }
            if (aligner != null && !Long.valueOf(e.getValue().offset()).equals(aligner.nextPosition(tp))) {
                continue; // records below it are held for their transaction
            }
            owed.put(tp, e.getValue());
        }
        if (owed.isEmpty()) {
            return;
        }
        Connection c = null;
        try {
            c = ensureConnection();
            WriterPositions.record(c, config.groupId(), owed, Map.of());
            c.commit();
        } catch (SQLException e) {
            // The next batch meets the same failure, and its retry rule (BatchFailures) decides.
            if (c != null) {
                TargetConnection.rollbackQuietly(c);
            }
            log.debug("Could not record positions {} past transaction markers yet: {}", owed, e.getMessage());
            return;
        }
        commitGroupOffsets(owed);
    }

    private void commitGroupOffsets(Map<TopicPartition, OffsetAndMetadata> offsets) {
        pendingOffsets.putAll(offsets);
        if (pendingOffsets.isEmpty()) {
            return;
        }
        try {
            consumer.commitSync(pendingOffsets);
            pendingOffsets.clear();
        } catch (CommitFailedException | RebalanceInProgressException e) {
            // The group moved on (e.g. this member was evicted): the partitions' next owner reads
            // these records again and finds them stale, so nothing is lost.
            log.warn("Could not commit offsets {} after the database commit ({}); the records will be read again and skipped as stale",
                    pendingOffsets, e.getMessage());
            pendingOffsets.clear();
        } catch (RetriableCommitFailedException | TimeoutException e) {
            log.warn("Could not commit offsets {} yet ({}); they are committed with the next batch", pendingOffsets, e.getMessage());
        }
    }

    private void refreshLag() {
        long now = System.nanoTime();
        if (lagRefreshedAt != 0 && now - lagRefreshedAt < LAG_REFRESH_NANOS) {
            return;
        }
        lagRefreshedAt = now;
        Set<TopicPartition> assigned = consumer.assignment();
        if (assigned.isEmpty()) {
            metrics.lag(0);
            return;
        }
        try {
            // With read_committed, endOffsets is the last stable offset, the end this consumer can reach.
            Map<TopicPartition, Long> ends = consumer.endOffsets(assigned, LAG_QUERY_TIMEOUT);
            long lag = 0;
            for (TopicPartition tp : assigned) {
                Long end = ends.get(tp);
                if (end == null) {
                    continue;
                }
                long position = consumer.position(tp, LAG_QUERY_TIMEOUT);
                Long first = inFlight == null ? null : inFlight.firstOffset(tp);
                if (first != null) {
                    position = Math.min(position, first);
                }
                lag += Math.max(0, end - position);
            }
            metrics.lag(lag + (aligner == null ? 0 : aligner.heldCount()));
        } catch (RetriableException e) {
            // Includes TimeoutException: keep the previous value and try again in a second.
            log.debug("Could not refresh the lag: {}", e.getMessage());
        }
    }

    private final class Rebalance implements ConsumerRebalanceListener {
        @Override
        public void onPartitionsRevoked(Collection<TopicPartition> partitions) {
            unpositioned.removeAll(partitions);
            if (aligner != null) {
                aligner.forget(partitions);
            }
            if (inFlight != null) {
                partitionsRevoked = true;
            }
            Map<TopicPartition, OffsetAndMetadata> owed = new HashMap<>();
            for (TopicPartition tp : partitions) {
                OffsetAndMetadata o = pendingOffsets.remove(tp);
                if (o != null) {
                    owed.put(tp, o);
                }
            }
            if (!owed.isEmpty()) {
                // Offsets of batches already committed to the database: hand them over with the partition.
                try {
                    consumer.commitSync(owed);
                } catch (RuntimeException e) {
                    if (e instanceof WakeupException || e instanceof InterruptException) {
                        throw e;
                    }
                    log.warn("Could not commit offsets {} on revocation ({}); the next owner reads those records again and skips them as stale",
                            owed, e.getMessage());
                }
            }
        }

        @Override
        public void onPartitionsLost(Collection<TopicPartition> partitions) {
            unpositioned.removeAll(partitions);
            if (aligner != null) {
                aligner.forget(partitions);
            }
            if (inFlight != null) {
                partitionsRevoked = true;
            }
            pendingOffsets.keySet().removeAll(partitions);
        }

        @Override
        public void onPartitionsAssigned(Collection<TopicPartition> partitions) {
            // Fetching waits until the loop has sought them to their stored positions.
            unpositioned.addAll(partitions);
            if (aligner != null) {
                aligner.forget(partitions);
            }
            consumer.pause(partitions);
        }
    }

    // ---------------------------------------------------------------------------------------------
    // Database connection

    private Connection ensureConnection() throws SQLException {
        Connection c = connection.current();
        if (c != null) {
            return c;
        }
        try {
            return connection.open(opened -> {
                if (appliers.isEmpty()) {
                    for (String table : tableOrder) {
                        appliers.put(table, new TableApplier(opened, table));
                    }
                    opened.commit();
                    log.info("Target tables checked: {}", appliers.values().stream().map(a -> a.table() + a.columns()).toList());
                }
            });
        } catch (SQLException | RuntimeException e) {
            appliers.clear();
            throw e;
        }
    }

    private void closeResources() {
        try {
            consumer.close(Duration.ofSeconds(10));
        } catch (RuntimeException e) {
            log.warn("Closing the consumer failed: {}", e.getMessage());
        }
        try {
            deadLetters.close();
        } catch (RuntimeException e) {
            log.warn("Closing the dead-letter producer failed: {}", e.getMessage());
        }
        connection.close();
    }

    private record Totals(ApplyResult result, int deadLetters) {
    }

    /** A failed step of a batch attempt, with the table it concerned. */
    private static final class StepFailure extends Exception {
        final String step;
        final String table;

        StepFailure(String step, String table, Exception cause) {
            super(step + ": " + cause.getMessage(), cause);
            this.step = step;
            this.table = table;
        }
    }

    /** Thrown inside the loop when close() asked it to stop during a backoff. */
    private static final class Stopping extends RuntimeException {
        Stopping() {
            super("stopping", null, false, false);
        }
    }
}

package dev.understudy.pipeline;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.ListOffsetsResult;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.LongSupplier;
import java.util.function.Supplier;

/**
 * Progress of a generation's backfill, measured from Kafka alone, with a rate and an ETA.
 * <p>
 * A new generation's migration re-reads every legacy topic from its start. At start this records,
 * per legacy partition, where the history begins and ends (the goal); the migration application's
 * committed offsets (its consumer group is its application id) say how far it has re-read. Once it
 * has passed the goal, the rows it emitted must still reach the target: the new-schema topics' end
 * offsets at that moment become the writer's goal, met when the writer's committed offsets pass them.
 * Where the legacy topics lacked history, the legacy capture re-reads tables by incremental snapshot;
 * the backfill is complete only when that is done too. Drift returning to zero is the independent
 * proof that the target holds what the new spec says; this class says how long until it should.
 */
public final class BackfillProgress implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(BackfillProgress.class);
    private static final Duration POLL = Duration.ofMillis(500);
    /**
     * Hops a row may take through an application's repartition topics after its legacy record: a
     * foreign-key join rekeys both tables, then sends a subscription and a response (KIP-213).
     */
    private static final int INTERNAL_HOPS = 4;
    private static final Duration LOG_EVERY = Duration.ofSeconds(5);
    /** Rate over this window, so the ETA follows the current pace rather than the average since start. */
    private static final Duration RATE_WINDOW = Duration.ofSeconds(10);

    /** What an incremental snapshot reports, for the part of the backfill read from the legacy database. */
    public interface SnapshotStatus {
        /** Tables being re-read, for messages. */
        List<String> tables();

        long rowsScanned();

        /** Rows expected (an estimate from the catalog), or 0 when unknown. */
        long rowsEstimated();

        boolean completed();
    }

    public enum Phase {
        /** The legacy capture is still snapshotting tables (initial, or incremental where Kafka lacks history). */
        SNAPSHOT,
        /** The migration re-reads the legacy topics. */
        REREADING,
        /** The migration has re-read them; the writer applies what it emitted. */
        APPLYING,
        COMPLETE
    }

    private final MigrationGenerations.Generation generation;
    private final String migrationGroup;
    private final String writerGroup;
    private final Collection<String> newTopics;
    private final MigrationGenerations store;
    private final Admin admin;
    private final Map<TopicPartition, Long> start = new HashMap<>();
    private final Map<TopicPartition, Long> goal = new HashMap<>();
    private volatile long total;
    private final long startNanos = System.nanoTime();
    private final ArrayDeque<long[]> samples = new ArrayDeque<>();
    private final ScheduledExecutorService poller;
    private final Supplier<SnapshotStatus> snapshot;
    private Map<TopicPartition, Long> writerGoal;
    /** Ends of the application's repartition topics in the current drain round. */
    private Map<TopicPartition, Long> internalGoal;
    /** Where the repartition topics' partitions without a committed offset begin: their queue starts there. */
    private Map<TopicPartition, Long> internalStart = Map.of();
    private int internalRounds;
    /** Records queued in the repartition topics once the legacy goal is passed, -1 before. */
    private volatile long internalBehind = -1;
    private final LongSupplier sweep;
    private boolean swept;
    private volatile long sweptRows;
    private volatile Phase phase;
    private volatile long reread;
    private volatile long writerBehind;
    private volatile double rate;
    private volatile long completedNanos;
    private long lastLogNanos;

    /**
     * Starts monitoring {@code generation}; when its backfill was already complete the result is
     * complete at once and polls nothing.
     */
    /**
     * @param snapshot the snapshot the legacy capture is taking for this backfill (its initial
     *                 snapshot, or an incremental one of tables whose history the topics lack), or
     *                 a supplier of null when there is none
     * @param sweep    writes tombstones for the rows of earlier generations that this one does not
     *                 produce ({@link GenerationSweep}); returns how many
     */
    public static BackfillProgress start(String bootstrap, MigrationGenerations.Generation generation, String migrationGroup,
                                         Collection<String> legacyTopics, String writerGroup, Collection<String> newTopics,
                                         MigrationGenerations store, Supplier<SnapshotStatus> snapshot,
                                         LongSupplier sweep) {
        return new BackfillProgress(bootstrap, generation, migrationGroup, legacyTopics, writerGroup, newTopics, store, snapshot, sweep);
    }

    private BackfillProgress(String bootstrap, MigrationGenerations.Generation generation, String migrationGroup,
                             Collection<String> legacyTopics, String writerGroup, Collection<String> newTopics,
                             MigrationGenerations store, Supplier<SnapshotStatus> snapshot,
                             LongSupplier sweep) {
        this.snapshot = snapshot;
        this.sweep = sweep;
        this.generation = generation;
        this.migrationGroup = migrationGroup;
        this.writerGroup = writerGroup;
        this.newTopics = List.copyOf(newTopics);
        this.store = store;
        if (generation.backfillComplete()) {
            this.admin = null;
            this.poller = null;
            this.total = 0;
            this.phase = Phase.COMPLETE;
            return;
        }
        this.admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
        List<TopicPartition> partitions = partitions(legacyTopics);
        start.putAll(offsets(partitions, OffsetSpec.earliest()));
        goal.putAll(offsets(partitions, OffsetSpec.latest()));
        long sum = 0;
        for (TopicPartition tp : partitions) {
            sum += goal.get(tp) - start.get(tp);
        }
        this.total = sum;
        this.phase = Phase.SNAPSHOT;
        LOG.info("Backfill of generation {} ('{}'): re-reading {} legacy changes from {} partition(s) of {}",
                generation.number(), generation.migration(), String.format("%,d", total), partitions.size(), legacyTopics);
        this.poller = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "understudy-backfill-progress");
            t.setDaemon(true);
            return t;
        });
        poller.scheduleWithFixedDelay(this::pollQuietly, 0, POLL.toMillis(), TimeUnit.MILLISECONDS);
    }

    public MigrationGenerations.Generation generation() {
        return generation;
    }

    public Phase phase() {
        return phase;
    }

    public boolean complete() {
        return phase == Phase.COMPLETE;
    }

    /** Legacy changes to re-read in all (from the start of each partition to its end when the generation began). */
    public long total() {
        return total;
    }

    /** Rows of earlier generations this one does not produce, removed at the end of the backfill. */
    public long sweptRows() {
        return sweptRows;
    }

    /** Legacy changes re-read so far. */
    public long reread() {
        return reread;
    }

    /** Share of the legacy history re-read, 0 to 1 (1 when there was none). */
    public double fraction() {
        return total == 0 ? 1.0 : Math.min(1.0, (double) reread / total);
    }

    /** Legacy changes re-read per second, over the last few seconds. */
    public double rate() {
        return rate;
    }

    /** Time left to re-read the history at the current rate; empty while unknown, zero once re-read. */
    public Optional<Duration> eta() {
        if (phase == Phase.APPLYING || phase == Phase.COMPLETE) {
            return Optional.of(Duration.ZERO);
        }
        if (phase == Phase.SNAPSHOT) {
            SnapshotStatus s = snapshot.get();
            if (s == null || s.rowsEstimated() <= 0 || s.rowsScanned() <= 0) {
                return Optional.empty();
            }
            double elapsed = (System.nanoTime() - startNanos) / 1e9;
            double left = Math.max(0, s.rowsEstimated() - s.rowsScanned()) * elapsed / s.rowsScanned();
            return Optional.of(Duration.ofMillis((long) (left * 1000)));
        }
        if (rate <= 0) {
            return Optional.empty();
        }
        return Optional.of(Duration.ofMillis((long) ((total - reread) / rate * 1000)));
    }

    /** One line for operators. */
    public String describe() {
        String name = "backfill g" + generation.number() + " (" + generation.migration() + ")";
        SnapshotStatus s = snapshot.get();
        String snap = s == null ? "" : String.format("; snapshot of %s: %,d%s rows%s", String.join(", ", s.tables()),
                s.rowsScanned(), s.rowsEstimated() > 0 ? String.format(" of ~%,d", s.rowsEstimated()) : "", s.completed() ? " done" : "");
        return switch (phase) {
            case REREADING -> internalBehind >= 0
                    ? String.format("%s: re-read all %,d legacy changes; %,d records queued in the join's repartition topics%s", name, total,
                    internalBehind, snap)
                    : String.format("%s: re-read %,d of %,d legacy changes (%.0f%%), %,.0f/s, ETA %s%s", name, reread, total,
                    100 * fraction(), rate, eta().map(BackfillProgress::format).orElse("unknown"), snap);
            case APPLYING -> String.format("%s: re-read all %,d legacy changes; writer %,d rows behind%s", name, total, writerBehind, snap);
            case SNAPSHOT -> String.format("%s: snapshotting%s; re-read %,d legacy changes so far", name, snap, reread);
            case COMPLETE -> completedNanos == 0 ? name + ": complete"
                    : String.format("%s: complete in %s (%,d legacy changes re-read, %,d rows of earlier generations removed)%s", name,
                    format(Duration.ofNanos(completedNanos - startNanos)), total, sweptRows, snap);
        };
    }

    private void pollQuietly() {
        try {
            poll();
        } catch (RuntimeException e) {
            LOG.debug("Backfill progress poll failed: {}", e.toString());
        }
    }

    private synchronized void poll() {
        if (phase == Phase.COMPLETE) {
            return;
        }
        long now = System.nanoTime();
        if (phase == Phase.SNAPSHOT || phase == Phase.REREADING) {
            boolean caughtUp = reread(now);
            if (phase == Phase.SNAPSHOT) {
                SnapshotStatus s = snapshot.get();
                if (s == null || s.completed()) {
                    // Every snapshot row is in the legacy topics now: they are part of what to re-read.
                    offsets(new ArrayList<>(goal.keySet()), OffsetSpec.latest()).forEach((tp, end) -> goal.merge(tp, end, Math::max));
                    long sum = 0;
                    for (Map.Entry<TopicPartition, Long> e : goal.entrySet()) {
                        sum += e.getValue() - start.get(e.getKey());
                    }
                    total = sum;
                    phase = Phase.REREADING;
                    caughtUp = reread(now);
                }
            }
            if (phase == Phase.REREADING && caughtUp) {
                writerGoal = offsets(partitions(newTopics), OffsetSpec.latest());
                phase = Phase.APPLYING;
            }
        }
        if (phase == Phase.APPLYING) {
            Map<TopicPartition, Long> committed = committed(writerGroup);
            long behind = 0;
            for (Map.Entry<TopicPartition, Long> e : writerGoal.entrySet()) {
                behind += Math.max(0, e.getValue() - committed.getOrDefault(e.getKey(), 0L));
            }
            writerBehind = behind;
            if (behind == 0 && !swept) {
                // Everything the re-read emitted is applied: what is left of earlier generations is
                // what this one does not produce. Its tombstones go through the writer like any change.
                sweptRows = sweep.getAsLong();
                swept = true;
                writerGoal = offsets(partitions(newTopics), OffsetSpec.latest());
                return;
            }
            if (behind == 0) {
                // Recorded first: whoever sees complete() finds it recorded too (and a failed write is
                // retried at the next poll, the phase still APPLYING).
                store.backfillCompleted(generation);
                completedNanos = now;
                phase = Phase.COMPLETE;
                LOG.info(describe());
                return;
            }
        }
        if (now - lastLogNanos >= LOG_EVERY.toNanos()) {
            lastLogNanos = now;
            LOG.info(describe());
        }
    }

    /** Updates the re-read count and rate; true when the migration has re-read up to the goal. */
    private boolean reread(long now) {
        Map<TopicPartition, Long> committed = committed(migrationGroup);
        long done = 0;
        boolean caughtUp = true;
        for (Map.Entry<TopicPartition, Long> e : goal.entrySet()) {
            long from = start.get(e.getKey());
            long at = Math.max(from, committed.getOrDefault(e.getKey(), from));
            done += Math.min(at, e.getValue()) - from;
            caughtUp &= at >= e.getValue();
        }
        if (caughtUp && phase == Phase.REREADING) {
            // The group's other partitions are the application's repartition topics (a join's): rows
            // queued there have not reached the new-schema topics yet. Live changes keep adding to
            // them, so each round's goal is their end when the round began; one round per hop a row
            // can take through them.
            while (true) {
                if (internalGoal != null) {
                    long queued = internalGoal.entrySet().stream()
                            .mapToLong(e -> Math.max(0, e.getValue() - committed.getOrDefault(e.getKey(),
                                    internalStart.getOrDefault(e.getKey(), 0L)))).sum();
                    internalBehind = queued;
                    boolean drained = queued == 0;
                    if (!drained) {
                        caughtUp = false;
                        break;
                    }
                    if (internalRounds >= INTERNAL_HOPS) {
                        break;
                    }
                }
                // Found by name (KafkaOffsets), not by the group's committed offsets: a partition no task
                // has consumed from yet has no committed offset, and its queue would go unseen (the
                // backfill was once reported complete in 4 s while a join's rows were still queued, and
                // the target then showed re-read history).
                List<TopicPartition> internal = new KafkaOffsets(admin).internalPartitions(migrationGroup);
                internalGoal = internal.isEmpty() ? Map.of() : offsets(internal, OffsetSpec.latest());
                List<TopicPartition> uncommitted = internal.stream().filter(tp -> !committed.containsKey(tp)).toList();
                internalStart = uncommitted.isEmpty() ? Map.of() : offsets(uncommitted, OffsetSpec.earliest());
                internalRounds++;
            }
        }
        reread = done;
        samples.addLast(new long[]{now, done});
        while (samples.size() > 2 && now - samples.peekFirst()[0] > RATE_WINDOW.toNanos()) {
            samples.removeFirst();
        }
        long[] first = samples.peekFirst();
        rate = now > first[0] ? (done - first[1]) / ((now - first[0]) / 1e9) : 0;
        return caughtUp;
    }

    private List<TopicPartition> partitions(Collection<String> topics) {
        try {
            Map<String, TopicDescription> described = admin.describeTopics(topics).allTopicNames().get();
            return described.values().stream()
                    .flatMap(d -> d.partitions().stream().map(p -> new TopicPartition(d.name(), p.partition())))
                    .toList();
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot describe topics " + topics + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while describing " + topics, e);
        }
    }

    private Map<TopicPartition, Long> offsets(List<TopicPartition> partitions, OffsetSpec spec) {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        partitions.forEach(tp -> request.put(tp, spec));
        try {
            Map<TopicPartition, ListOffsetsResult.ListOffsetsResultInfo> result = admin.listOffsets(request).all().get();
            Map<TopicPartition, Long> out = new HashMap<>();
            result.forEach((tp, info) -> out.put(tp, info.offset()));
            return out;
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot list offsets of " + partitions + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while listing offsets", e);
        }
    }

    private Map<TopicPartition, Long> committed(String group) {
        try {
            Map<TopicPartition, OffsetAndMetadata> offsets = admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata().get();
            Map<TopicPartition, Long> out = new HashMap<>();
            offsets.forEach((tp, om) -> {
                if (om != null) {
                    out.put(tp, om.offset());
                }
            });
            return out;
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot read committed offsets of group " + group + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while reading offsets of " + group, e);
        }
    }

    static String format(Duration d) {
        long s = d.toSeconds();
        return s >= 3600 ? String.format("%dh%02dm", s / 3600, (s % 3600) / 60)
                : s >= 60 ? String.format("%dm%02ds", s / 60, s % 60) : s + " s";
    }

    @Override
    public void close() {
        if (poller != null) {
            poller.shutdownNow();
            try {
                poller.awaitTermination(5, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (admin != null) {
            admin.close(Duration.ofSeconds(5));
        }
    }
}

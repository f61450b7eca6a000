package dev.understudy.pipeline;

import dev.understudy.schemas.PausePoints;
import dev.understudy.writer.TransactionWatermark;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.nio.ByteBuffer;
import java.time.Duration;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;

/**
 * The {@link TransactionWatermark} of a pipeline: the newest legacy transaction whose new-schema rows
 * have all been produced.
 * <p>
 * The legacy capture announces a commit order on the commits topic once Kafka acknowledged every change
 * of that transaction and of all earlier ones ({@code CdcCapture}). This class then proves the
 * migration application has turned them all into new-schema records, by a probe on its committed
 * offsets (Kafka Streams commits a task's input offsets only after flushing what it produced from them,
 * at_least_once and exactly_once alike):
 * <ol>
 *   <li>the legacy topics' end offsets, measured after the announcement was read, so above every change
 *   of the announced transactions; wait until the migration group committed them;</li>
 *   <li>then, once per internal topic the application routes records through (a join's repartition and
 *   subscription topics), measure those topics' ends and wait until the group committed them: anything
 *   the previous step produced into them lies below those ends. A record takes at most one pass through
 *   each internal topic, so that many rounds drain every chain a legacy change starts.</li>
 * </ol>
 * When the probe finishes the announced commit order is complete. Measuring ends after the fact makes
 * the probe wait for newer records too, which only delays; it never declares a transaction complete early.
 * Under steady load a probe takes one or two commit intervals of the migration (50 ms each) per step.
 */
public final class TransactionWatermarks implements TransactionWatermark, AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(TransactionWatermarks.class);
    private static final Duration TICK = Duration.ofMillis(20);
    private static final long INTERNAL_TOPICS_REFRESH_NANOS = TimeUnit.SECONDS.toNanos(5);
    /** A probe older than this is reported, once a minute, with what it waits for. */
    private static final long STALL_LOG_NANOS = TimeUnit.SECONDS.toNanos(60);
    /** A probe younger than this is not described: under load a probe takes a second or two. */
    private static final long DESCRIBE_AFTER_NANOS = TimeUnit.SECONDS.toNanos(5);

    private final String commitsTopic;
    private final Supplier<String> migrationApplicationId;
    private final Collection<String> legacyTopics;
    private final Admin admin;
    private final KafkaOffsets offsets;
    private final KafkaConsumer<byte[], byte[]> consumer;
    private final Thread thread;
    private volatile boolean closed;
    private volatile long complete = NONE;
    private volatile long announced = NONE;
    private volatile long probesDone;
    private volatile long lastProbeMillis;
    private volatile Throwable lastError;
    /** What the oldest probe waits for, in words; refreshed at every step. */
    private volatile String waitingFor = "";
    private long stallLoggedNanos;

    /** Probes in flight, oldest first: one starts at every tick that read a newer announcement. */
    private final ArrayDeque<Probe> probes = new ArrayDeque<>();
    private static final int MAX_PROBES = 32;
    private String internalFor;
    private List<TopicPartition> internal = List.of();
    private long internalReadAt;
    private List<TopicPartition> legacyPartitions;

    /** One proof in progress: the commit order it proves, the goal of the current step and its round. */
    private static final class Probe {
        final long commitOrder;
        final String group;
        final long startNanos = System.nanoTime();
        Map<TopicPartition, Long> goal;
        /** 0 while waiting for the legacy topics, then the internal round. */
        int round;

        Probe(long commitOrder, String group, Map<TopicPartition, Long> goal) {
            this.commitOrder = commitOrder;
            this.group = group;
            this.goal = goal;
        }
    }

    /**
     * @param migrationApplicationId the running migration's Kafka Streams application id (its group), asked at each probe
     *                               because a new spec generation runs a new application
     */
    public TransactionWatermarks(String bootstrap, String commitsTopic, Supplier<String> migrationApplicationId,
                                 Collection<String> legacyTopics) {
        this.commitsTopic = commitsTopic;
        this.migrationApplicationId = migrationApplicationId;
        this.legacyTopics = List.copyOf(legacyTopics);
        this.admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap));
        this.offsets = new KafkaOffsets(admin);
        this.consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.CLIENT_ID_CONFIG, "understudy-transaction-watermarks",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer());
        this.thread = new Thread(this::run, "understudy-transaction-watermarks");
        this.thread.setDaemon(true);
    }

    public TransactionWatermarks start() {
        thread.start();
        return this;
    }

    @Override
    public long complete() {
        return complete;
    }

    /** The newest commit order announced by the capture, or {@link #NONE}. */
    public long announced() {
        return announced;
    }

    /** Probes finished, and how long the last one took from start to completion (ms). */
    public long probes() {
        return probesDone;
    }

    public long lastProbeMillis() {
        return lastProbeMillis;
    }

    private void run() {
        TopicPartition commits = new TopicPartition(commitsTopic, 0);
        consumer.assign(List.of(commits));
        while (!closed) {
            try {
                // Only the newest announcement matters: each covers every transaction before it.
                consumer.seekToEnd(List.of(commits));
                long end = consumer.position(commits, Duration.ofSeconds(10));
                consumer.seek(commits, Math.max(0, end - 1));
                break;
            } catch (WakeupException | InterruptException e) {
                return;
            } catch (RuntimeException e) {
                // The writer holds transactions meanwhile, up to its hold limit; say why.
                LOG.warn("Cannot read the commit announcements on {} yet ({}); retrying", commitsTopic, e.toString());
                sleep(1000);
            }
        }
        while (!closed) {
            try {
                for (ConsumerRecord<byte[], byte[]> r : consumer.poll(TICK)) {
                    if (r.value() != null && r.value().length == Long.BYTES) {
                        announced = Math.max(announced, ByteBuffer.wrap(r.value()).getLong());
                    }
                }
                step();
                lastError = null;
            } catch (WakeupException | InterruptException e) {
                return;
            } catch (RuntimeException e) {
                if (closed) {
                    return;
                }
                if (lastError == null) {
                    LOG.warn("Transaction watermark probe failed ({}); retrying", e.toString());
                }
                lastError = e;
                probes.clear();
                sleep(500);
            }
        }
    }

    private void step() {
        long target = announced;
        long newest = probes.isEmpty() ? complete : probes.peekLast().commitOrder;
        if (target != NONE && target > newest && probes.size() < MAX_PROBES) {
            // A probe per newer announcement, not one at a time: an announcement then waits for its own
            // probe only, not also for the rest of the one in flight when it arrived.
            if (legacyPartitions == null) {
                legacyPartitions = offsets.partitions(legacyTopics);
            }
            String group = migrationApplicationId.get();
            probes.addLast(new Probe(target, group, offsets.ends(legacyPartitions)));
        }
        if (probes.isEmpty()) {
            return;
        }
        Map<String, Map<TopicPartition, Long>> committedByGroup = new HashMap<>();
        // Oldest first; a probe completes only after every older one, so the watermark never passes a gap.
        while (!probes.isEmpty()) {
            Probe probe = probes.peekFirst();
            Map<TopicPartition, Long> committed = committedByGroup.computeIfAbsent(probe.group, offsets::committed);
            if (!advance(probe, committed)) {
                break;
            }
            probes.removeFirst();
            complete = Math.max(complete, probe.commitOrder);
            probesDone++;
            lastProbeMillis = TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - probe.startNanos);
            PausePoints.reach(PausePoints.WATERMARK_ADVANCED);
        }
        describeWait(committedByGroup);
        // Younger probes move through their rounds meanwhile, so they are ready when their turn comes.
        for (Probe probe : probes) {
            if (probe != probes.peekFirst()) {
                advance(probe, committedByGroup.computeIfAbsent(probe.group, offsets::committed));
            }
        }
    }

    /**
     * Records what the oldest probe waits for: its step and the partitions whose committed offset is
     * short of its goal. Logged once a minute while a probe is older than {@link #STALL_LOG_NANOS}, so that
     * a watermark that stops moving says where it stopped.
     */
    private void describeWait(Map<String, Map<TopicPartition, Long>> committedByGroup) {
        Probe probe = probes.peekFirst();
        long age = probe == null ? 0 : System.nanoTime() - probe.startNanos;
        if (age < DESCRIBE_AFTER_NANOS) {
            // A probe normally finishes within a few commit intervals: say nothing, and build nothing at every tick.
            waitingFor = "";
            return;
        }
        Map<TopicPartition, Long> committed = committedByGroup.computeIfAbsent(probe.group, offsets::committed);
        List<String> behind = new ArrayList<>();
        for (Map.Entry<TopicPartition, Long> e : probe.goal.entrySet()) {
            long at = committed.getOrDefault(e.getKey(), -1L);
            if (e.getValue() > 0 && at < e.getValue()) {
                behind.add(e.getKey() + " committed " + (at < 0 ? "nothing" : Long.toString(at)) + " of " + e.getValue());
            }
        }
        waitingFor = "commit order " + probe.commitOrder + ", " + (probe.round == 0 ? "the legacy topics" : "internal round " + probe.round)
                + " of group " + probe.group + " for " + TimeUnit.NANOSECONDS.toSeconds(age) + " s: " + (behind.isEmpty() ? "(reached)"
                : String.join(", ", behind));
        long now = System.nanoTime();
        if (age > STALL_LOG_NANOS && now - stallLoggedNanos > STALL_LOG_NANOS) {
            stallLoggedNanos = now;
            LOG.warn("The transaction watermark has waited {} s: {}", TimeUnit.NANOSECONDS.toSeconds(age), waitingFor);
        }
    }

    @Override
    public String waitingFor() {
        return waitingFor;
    }

    /** Moves {@code probe} through its steps as far as {@code committed} allows; true when it is done. */
    private boolean advance(Probe probe, Map<TopicPartition, Long> committed) {
        while (true) {
            if (!KafkaOffsets.reached(committed, probe.goal)) {
                return false;
            }
            List<TopicPartition> rounds = internalPartitions(probe.group);
            long topics = rounds.stream().map(TopicPartition::topic).distinct().count();
            if (probe.round >= topics) {
                return true;
            }
            Map<TopicPartition, Long> next = offsets.ends(rounds);
            probe.round++;
            probe.goal = next;
            // Read before the ends were: if it already covers them, nothing was queued inside the
            // application, so no chain is left and the remaining rounds are already drained.
            if (KafkaOffsets.reached(committed, next)) {
                probe.round = Integer.MAX_VALUE;
            }
        }
    }

    /** Partitions of the application's repartition and foreign-key subscription topics (not its changelogs). */
    private List<TopicPartition> internalPartitions(String applicationId) {
        long now = System.nanoTime();
        if (applicationId.equals(internalFor) && now - internalReadAt < INTERNAL_TOPICS_REFRESH_NANOS) {
            return internal;
        }
        internal = offsets.internalPartitions(applicationId);
        internalFor = applicationId;
        internalReadAt = now;
        return internal;
    }

    private static void sleep(long millis) {
        try {
            Thread.sleep(millis);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    @Override
    public void close() {
        closed = true;
        consumer.wakeup();
        try {
            thread.join(5_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        consumer.close(Duration.ofSeconds(2));
        admin.close(Duration.ofSeconds(2));
    }
}

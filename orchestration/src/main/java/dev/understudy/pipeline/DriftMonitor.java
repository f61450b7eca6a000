package dev.understudy.pipeline;

import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.AvroSerializer;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.RegistryClient;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;

/**
 * Follows the drift topic, where each comparison task publishes the open and pending divergences
 * of its partition, and sums the latest figures per table. This is what a dashboard would do;
 * the demo and the tests read drift through here rather than through the comparison's internals.
 */
public final class DriftMonitor implements AutoCloseable {
    /** Totals for one table. */
    public record Drift(long open, long pending, long updatedAtMs) {
    }

    private record PartitionDrift(String table, long open, long pending, long atMs) {
    }

    private final KafkaConsumer<String, GenericRecord> consumer;
    private final Map<String, PartitionDrift> latest = new ConcurrentHashMap<>();
    private final Thread thread;
    private volatile boolean running = true;
    /** The partition number of per-table totals ({@link #publishTotals}). */
    public static final int TABLE_TOTAL = -1;
    static final Duration TOTALS_EVERY = Duration.ofSeconds(5);
    private final String topic;
    private Runnable totals;

    public DriftMonitor(String bootstrapServers, String topic, RegistryClient registry) {
        this.topic = topic;
        this.consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                // The comparison application writes drift reports in Kafka transactions (exactly-once):
                // reports of an aborted attempt must not count.
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new StringDeserializer(), new AvroDeserializer(registry));
        List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(p -> new TopicPartition(topic, p.partition())).toList();
        consumer.assign(partitions);
        consumer.seekToBeginning(partitions);
        this.thread = new Thread(this::run, "understudy-drift-monitor");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    private void run() {
        try {
            while (running) {
                for (ConsumerRecord<String, GenericRecord> r : consumer.poll(Duration.ofMillis(200))) {
                    GenericRecord v = r.value();
                    if (v == null || (Integer) v.get("partition") == TABLE_TOTAL) {
                        // Per-table totals are this class's own output (publishTotals), not a task's report.
                        continue;
                    }
                    latest.put(r.key(), new PartitionDrift(v.get("table").toString(), (Long) v.get("open"),
                            (Long) v.get("pending"), (Long) v.get("atMs")));
                }
            }
        } catch (WakeupException e) {
            // closing
        } finally {
            consumer.close();
        }
    }

    /** Latest drift per table, summed over the comparison tasks. */
    public Map<String, Drift> byTable() {
        Map<String, Drift> out = new TreeMap<>();
        for (PartitionDrift p : latest.values()) {
            out.merge(p.table(), new Drift(p.open(), p.pending(), p.atMs()),
                    (a, b) -> new Drift(a.open() + b.open(), a.pending() + b.pending(), Math.min(a.updatedAtMs(), b.updatedAtMs())));
        }
        return out;
    }

    public long totalOpen() {
        return byTable().values().stream().mapToLong(Drift::open).sum();
    }

    public long totalPending() {
        return byTable().values().stream().mapToLong(Drift::pending).sum();
    }

    /**
     * The per-table series: every {@link #TOTALS_EVERY}, each table's drift summed over its comparison
     * tasks' latest reports, as a {@code Drift} record with partition {@value #TABLE_TOTAL}, keyed by the
     * table, on the same topic, so a dashboard can chart a table without adding partitions up.
     */
    public DriftMonitor publishTotals(String bootstrapServers, RegistryClient registry) {
        KafkaProducer<String, GenericRecord> producer = new KafkaProducer<>(
                Map.of(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                        ProducerConfig.LINGER_MS_CONFIG, 50),
                new StringSerializer(), new AvroSerializer(registry, false));
        ScheduledExecutorService timer = Executors.newSingleThreadScheduledExecutor(r -> {
            Thread t = new Thread(r, "understudy-drift-totals");
            t.setDaemon(true);
            return t;
        });
        timer.scheduleAtFixedRate(() -> {
            try {
                long now = System.currentTimeMillis();
                for (Map.Entry<String, Drift> e : byTable().entrySet()) {
                    GenericData.Record d = new GenericData.Record(Contracts.DRIFT);
                    d.put("table", e.getKey());
                    d.put("partition", TABLE_TOTAL);
                    d.put("open", e.getValue().open());
                    d.put("pending", e.getValue().pending());
                    d.put("atMs", now);
                    producer.send(new ProducerRecord<>(topic, e.getKey(), d));
                }
            } catch (RuntimeException e) {
                LoggerFactory.getLogger(DriftMonitor.class).debug("Could not publish drift totals: {}", e.toString());
            }
        }, TOTALS_EVERY.toMillis(), TOTALS_EVERY.toMillis(), TimeUnit.MILLISECONDS);
        this.totals = () -> {
            timer.shutdownNow();
            producer.close(Duration.ofSeconds(2));
        };
        return this;
    }

    /** Oldest report among the tasks, ms since the epoch (0 before any report). */
    public long oldestReportMs() {
        return latest.values().stream().mapToLong(PartitionDrift::atMs).min().orElse(0);
    }

    @Override
    public void close() {
        if (totals != null) {
            totals.run();
        }
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

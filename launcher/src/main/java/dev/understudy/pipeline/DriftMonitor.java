package dev.understudy.pipeline;

import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.RegistryClient;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;

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

    public DriftMonitor(String bootstrapServers, String topic, RegistryClient registry) {
        this.consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.AUTO_OFFSET_RESET_CONFIG, "earliest",
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false),
                new StringDeserializer(), new AvroDeserializer(registry));
        List<org.apache.kafka.common.TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(30)).stream()
                .map(p -> new org.apache.kafka.common.TopicPartition(topic, p.partition())).toList();
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
                    if (v == null) {
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

    /** Oldest report among the tasks, ms since the epoch (0 before any report). */
    public long oldestReportMs() {
        return latest.values().stream().mapToLong(PartitionDrift::atMs).min().orElse(0);
    }

    @Override
    public void close() {
        running = false;
        consumer.wakeup();
        try {
            thread.join(10_000);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }
}

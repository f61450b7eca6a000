package dev.understudy.dlq;

import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.function.Consumer;
import java.util.function.Function;

/**
 * Reads ranges of topic partitions with an unnamed consumer: nothing is committed, so the dead-letter
 * commands can read the same range any number of times.
 */
final class TopicRanges {
    static final Duration READ_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration POLL = Duration.ofMillis(500);

    private TopicRanges() {
    }

    static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "understudy-dlq");
        // Only committed records: a dead letter of an aborted transaction was never a dead letter.
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /**
     * Assigns {@code partitions}, seeks each to its start (null: the beginning) and reads to the end
     * offsets of now; returns per partition the offsets read.
     */
    static Map<TopicPartition, OffsetRange> read(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions,
                                                 Function<TopicPartition, Long> start, Consumer<ConsumerRecord<byte[], byte[]>> each) {
        consumer.assign(partitions);
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, READ_TIMEOUT);
        Map<TopicPartition, Long> beginnings = consumer.beginningOffsets(partitions, READ_TIMEOUT);
        List<TopicPartition> open = new ArrayList<>();
        Map<TopicPartition, OffsetRange> ranges = new LinkedHashMap<>();
        for (TopicPartition tp : partitions) {
            Long s = start.apply(tp);
            long from = s == null ? beginnings.get(tp) : Math.max(s, beginnings.get(tp));
            ranges.put(tp, new OffsetRange(Math.min(from, ends.get(tp)), ends.get(tp)));
            if (from < ends.get(tp)) {
                consumer.seek(tp, from);
                open.add(tp);
            }
        }
        consumer.assign(open);
        long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
        while (!open.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Timed out after " + READ_TIMEOUT.toSeconds() + " s reading " + open
                        + " up to offsets " + ends + "; check that Kafka is reachable");
            }
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(POLL)) {
                if (r.offset() < ends.get(new TopicPartition(r.topic(), r.partition()))) {
                    each.accept(r);
                }
            }
            // Positions, not offsets seen: transaction markers and compacted gaps have no record.
            open.removeIf(tp -> consumer.position(tp) >= ends.get(tp));
            consumer.assign(open);
        }
        return ranges;
    }
}

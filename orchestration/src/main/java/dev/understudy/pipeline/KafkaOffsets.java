package dev.understudy.pipeline;

import dev.understudy.schemas.Topics;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.OffsetSpec;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.KafkaFuture;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.errors.InterruptException;

import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;

/**
 * The offset reads that prove how far a stage has got: partitions of topics, their end offsets, a
 * group's committed offsets, and a Kafka Streams application's internal topics. Shared by the
 * transaction watermark and verify's wait for the pipeline; failures name what was read.
 */
public final class KafkaOffsets {
    private final Admin admin;

    public KafkaOffsets(Admin admin) {
        this.admin = admin;
    }

    public List<TopicPartition> partitions(Collection<String> topics) {
        List<TopicPartition> out = new ArrayList<>();
        get(admin.describeTopics(topics).allTopicNames(), "describe " + topics).values()
                .forEach(d -> d.partitions().forEach(p -> out.add(new TopicPartition(d.name(), p.partition()))));
        return out;
    }

    /** End offsets (for read_committed readers, the last stable offsets are what a reader can reach; these are the log ends). */
    public Map<TopicPartition, Long> ends(List<TopicPartition> partitions) {
        Map<TopicPartition, OffsetSpec> request = new HashMap<>();
        partitions.forEach(tp -> request.put(tp, OffsetSpec.latest()));
        Map<TopicPartition, Long> out = new HashMap<>();
        get(admin.listOffsets(request).all(), "list end offsets of " + partitions).forEach((tp, info) -> out.put(tp, info.offset()));
        return out;
    }

    /** The group's committed offsets; partitions it never committed are absent. */
    public Map<TopicPartition, Long> committed(String group) {
        Map<TopicPartition, Long> out = new HashMap<>();
        Map<TopicPartition, OffsetAndMetadata> offsets = get(admin.listConsumerGroupOffsets(group).partitionsToOffsetAndMetadata(),
                "read the committed offsets of group " + group);
        offsets.forEach((tp, om) -> {
            if (om != null) {
                out.put(tp, om.offset());
            }
        });
        return out;
    }

    /**
     * Partitions of a Kafka Streams application's repartition and foreign-key subscription topics
     * ({@code <application.id>-...-repartition} and {@code ...-topic}), not its changelogs: the topics
     * a record passes through on its way from input to output.
     */
    public List<TopicPartition> internalPartitions(String applicationId) {
        List<String> mine = new ArrayList<>();
        for (String n : get(admin.listTopics().names(), "list topics")) {
            if (Topics.isStreamsRecordTopic(applicationId, n)) {
                mine.add(n);
            }
        }
        return mine.isEmpty() ? List.of() : partitions(mine);
    }

    /** True when {@code committed} has reached every non-empty partition's goal. */
    public static boolean reached(Map<TopicPartition, Long> committed, Map<TopicPartition, Long> goal) {
        for (Map.Entry<TopicPartition, Long> e : goal.entrySet()) {
            if (e.getValue() > 0 && committed.getOrDefault(e.getKey(), 0L) < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    private static <T> T get(KafkaFuture<T> future, String what) {
        try {
            return future.get();
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot " + what + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new InterruptException(e);
        }
    }
}

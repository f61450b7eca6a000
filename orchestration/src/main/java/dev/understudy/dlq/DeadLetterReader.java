package dev.understudy.dlq;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.Topics;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;

import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Predicate;

/**
 * Reads the dead-letter topic of a pipeline ({@link Topics#deadLetter}) from given offsets to its end
 * at the moment the read starts, with an unnamed consumer: nothing is committed and nothing is
 * changed, so it can run any number of times, next to the running pipeline.
 */
public final class DeadLetterReader {
    private final String bootstrap;
    private final String prefix;

    /**
     * @param bootstrap the Kafka bootstrap servers
     * @param prefix    the pipeline name, the prefix of its topics
     */
    public DeadLetterReader(String bootstrap, String prefix) {
        this.bootstrap = bootstrap;
        this.prefix = prefix;
    }

    /** The dead-letter topic of the pipeline {@code cfg} configures ({@code pipeline.name}, {@code kafka.bootstrap.servers}). */
    public DeadLetterReader(PipelineConfig cfg) {
        this(cfg.get(PipelineConfig.KAFKA_BOOTSTRAP), cfg.get(PipelineConfig.PIPELINE_NAME));
    }

    public String topic() {
        return Topics.deadLetter(prefix);
    }

    /**
     * Reads the topic from {@code from} up to its end offsets as of now, keeping the letters
     * {@code keep} accepts; empty when the topic does not exist (nothing was ever dead-lettered, or
     * the prefix is not the pipeline's).
     */
    public Optional<DeadLetterRange> read(StartOffsets from, Predicate<DeadLetter> keep) {
        String topic = topic();
        try (KafkaConsumer<byte[], byte[]> consumer = TopicRanges.consumer(bootstrap)) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, TopicRanges.READ_TIMEOUT);
            if (infos == null || infos.isEmpty()) {
                return Optional.empty();
            }
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(topic, p.partition()))
                    .sorted(Comparator.comparingInt(TopicPartition::partition)).toList();
            List<DeadLetter> letters = new ArrayList<>();
            Map<Integer, OffsetRange> covered = new TreeMap<>();
            TopicRanges.read(consumer, partitions, tp -> from.startOf(tp.partition()), r -> {
                DeadLetter l = DeadLetter.decode(r, prefix);
                if (keep.test(l)) {
                    letters.add(l);
                }
            }).forEach((tp, range) -> covered.put(tp.partition(), range));
            return Optional.of(new DeadLetterRange(topic, letters, covered));
        }
    }
}

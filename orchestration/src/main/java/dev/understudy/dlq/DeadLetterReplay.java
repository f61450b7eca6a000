package dev.understudy.dlq;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ChangeOrder;
import dev.understudy.schemas.DeadLetterFields;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.function.Predicate;

/**
 * Re-produces the writer's dead letters to the new-schema topics they came from, with their original
 * key, value and change headers (version, LSN, generation, op, txid), so the running (or next) writer
 * applies them through its normal guard ({@code ChangeOrder}) once the target is fixed.
 *
 * <p>Replaying twice is harmless: the writer drops a change it has already applied or that a later
 * change of the same row superseded. A letter whose row has a later record on its topic (a newer
 * change, or an earlier replay) is not replayed at all, so that the comparison does not take the old
 * change for the row's latest state. Letters of the capture and of the transform are left: they
 * never reached, or never left, a topic the writer reads.
 */
public final class DeadLetterReplay {
    /** Why a letter of the transform is not replayed: its legacy record needs the transform again. */
    public static final String TRANSFORM_REASON = "transform stage, not replayable";
    /** What every letter superseded by a later record of its key is counted as. */
    public static final String SUPERSEDED = "superseded";

    private final String bootstrap;
    private final String prefix;
    private final DeadLetterReader reader;

    /**
     * @param bootstrap the Kafka bootstrap servers
     * @param prefix    the pipeline name, the prefix of its topics
     */
    public DeadLetterReplay(String bootstrap, String prefix) {
        this.bootstrap = bootstrap;
        this.prefix = prefix;
        this.reader = new DeadLetterReader(bootstrap, prefix);
    }

    /** The replay of the pipeline {@code cfg} configures ({@code pipeline.name}, {@code kafka.bootstrap.servers}). */
    public DeadLetterReplay(PipelineConfig cfg) {
        this(cfg.get(PipelineConfig.KAFKA_BOOTSTRAP), cfg.get(PipelineConfig.PIPELINE_NAME));
    }

    public String topic() {
        return reader.topic();
    }

    /**
     * Reads the dead-letter topic from {@code from} to its end as of now and decides, for each letter
     * {@code keep} accepts, whether it is replayed; produces nothing. Empty when the topic does not exist.
     */
    public Optional<ReplayReport> plan(StartOffsets from, Predicate<DeadLetter> keep) {
        Optional<DeadLetterRange> range = reader.read(from, keep);
        if (range.isEmpty()) {
            return Optional.empty();
        }
        List<ReplayReport.Skip> skipped = new ArrayList<>();
        List<DeadLetter> candidates = new ArrayList<>();
        for (DeadLetter l : range.get().letters()) {
            Optional<String> reason = unreplayable(l, prefix);
            if (reason.isPresent()) {
                skipped.add(new ReplayReport.Skip(l, reason.get(), reason.get()));
            } else {
                candidates.add(l);
            }
        }
        // A later record of the same key at the same or a higher order (ChangeOrder) on the original
        // topic is what the writer holds for the row (or an earlier replay of this very change): the
        // writer would drop the replay, and the comparison, which takes the last record of a key as what
        // the target should hold, would be misled into reporting drift.
        Map<String, List<LaterRecord>> later = laterRecords(candidates);
        List<DeadLetter> replayed = new ArrayList<>();
        for (DeadLetter l : candidates) {
            Optional<Long> newer = supersededAt(l, later.getOrDefault(keyOf(l), List.of()));
            if (newer.isPresent()) {
                skipped.add(new ReplayReport.Skip(l, SUPERSEDED, "superseded by the record of this key at " + l.originTopic() + "["
                        + l.originPartition() + "]@" + newer.get() + " (a newer change, or an earlier replay of this one)"));
            } else {
                replayed.add(l);
            }
        }
        replayed.sort(DeadLetter.CHRONOLOGICAL);
        return Optional.of(new ReplayReport(range.get().topic(), replayed, skipped, range.get().covered()));
    }

    /**
     * Re-produces the letters {@code report} replays to their original topic and partition, and waits
     * for every acknowledgement.
     *
     * @throws IllegalStateException naming the first letter Kafka did not acknowledge
     */
    public void replay(ReplayReport report) throws InterruptedException {
        List<DeadLetter> letters = report.replayed();
        if (letters.isEmpty()) {
            return;
        }
        Map<String, Object> props = new HashMap<>();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "understudy-dlq-replay");
        try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
            Map<String, Integer> partitionCounts = new HashMap<>();
            List<Future<RecordMetadata>> sent = new ArrayList<>();
            for (DeadLetter l : letters) {
                int partitions = partitionCounts.computeIfAbsent(l.originTopic(), t -> producer.partitionsFor(t).size());
                // The original partition keeps the change behind the earlier changes of its key.
                Integer partition = l.originPartition() >= 0 && l.originPartition() < partitions ? l.originPartition() : null;
                RecordHeaders headers = new RecordHeaders();
                ChangeHeaders.copyKeptByDeadLetters(l.record().headers(), headers);
                sent.add(producer.send(new ProducerRecord<>(l.originTopic(), partition, l.record().key(), l.record().value(), headers)));
            }
            for (int i = 0; i < sent.size(); i++) {
                try {
                    sent.get(i).get();
                } catch (ExecutionException e) {
                    DeadLetter l = letters.get(i);
                    throw new IllegalStateException("Cannot replay dead letter " + l.dlqPartition() + "@" + l.dlqOffset() + " to "
                            + l.originTopic() + ": " + e.getCause().getMessage() + " (" + i + " of " + sent.size()
                            + " acknowledged; replaying again is harmless)", e.getCause());
                }
            }
        }
    }

    /** Why {@code l}, a letter of pipeline {@code prefix}, cannot be replayed; empty when it can. */
    public static Optional<String> unreplayable(DeadLetter l, String prefix) {
        if (DeadLetterFields.CAPTURE.equals(l.stage())) {
            return Optional.of("the capture could not convert the legacy change (see its column and error); it never reached Kafka, so "
                    + "there is nothing to replay: fix the value in the legacy row (or the table's type, see docs/types.md) and the next "
                    + "change of the row carries it, or re-capture the row with `understudy repair --table`");
        }
        if (!DeadLetterFields.WRITER.equals(l.stage())) {
            return Optional.of(DeadLetterFields.TRANSFORM.equals(l.stage()) ? TRANSFORM_REASON : "not written by understudy (no dead-letter headers)");
        }
        if (l.originTopic() == null || !l.originTopic().startsWith(prefix + ".new.") || l.originPartition() < 0 || l.originOffset() < 0) {
            return Optional.of("original topic is not a new-schema topic of pipeline " + prefix);
        }
        if (l.record().headers().lastHeader(ChangeHeaders.VERSION) == null) {
            return Optional.of("no change headers (dead-lettered before they were kept, or the record had no valid version)");
        }
        return Optional.empty();
    }

    /** A record of a dead letter's key on its original topic partition, after the letter's change. */
    record LaterRecord(long offset, ChangeOrder order) {
    }

    /**
     * The offset of the first of {@code later} (records of {@code l}'s key on its original topic
     * partition) past {@code l}'s change at the same or a higher order; empty when there is none.
     */
    static Optional<Long> supersededAt(DeadLetter l, List<LaterRecord> later) {
        for (LaterRecord r : later) {
            if (r.offset() > l.originOffset() && r.order().compareTo(l.order()) >= 0) {
                return Optional.of(r.offset());
            }
        }
        return Optional.empty();
    }

    /**
     * For the keys of {@code letters}: every record of the key on its original topic partition from
     * the earliest dead-lettered offset there to the current end.
     */
    private Map<String, List<LaterRecord>> laterRecords(List<DeadLetter> letters) {
        Map<TopicPartition, Long> from = new HashMap<>();
        for (DeadLetter l : letters) {
            from.merge(new TopicPartition(l.originTopic(), l.originPartition()), l.originOffset(), Math::min);
        }
        Map<String, List<LaterRecord>> out = new HashMap<>();
        if (from.isEmpty()) {
            return out;
        }
        Set<String> wanted = new HashSet<>();
        letters.forEach(l -> wanted.add(keyOf(l)));
        try (KafkaConsumer<byte[], byte[]> consumer = TopicRanges.consumer(bootstrap)) {
            TopicRanges.read(consumer, new ArrayList<>(from.keySet()), from::get, r -> {
                String k = keyOf(r.topic(), r.partition(), r.key());
                if (wanted.contains(k)) {
                    out.computeIfAbsent(k, x -> new ArrayList<>()).add(new LaterRecord(r.offset(), ChangeOrder.of(r.headers(), r.value() == null)));
                }
            });
        }
        return out;
    }

    private static String keyOf(DeadLetter l) {
        return keyOf(l.originTopic(), l.originPartition(), l.record().key());
    }

    private static String keyOf(String topic, int partition, byte[] key) {
        return topic + "[" + partition + "]" + (key == null ? "null" : HexFormat.of().formatHex(key));
    }
}

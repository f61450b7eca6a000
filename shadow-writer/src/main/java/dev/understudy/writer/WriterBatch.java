package dev.understudy.writer;

import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * The records of one poll, or of one release of held transactions, as the writer applies them in
 * one target transaction: decoded lazily (again after partitions are dropped), with the positions
 * and commit orders recorded with them.
 */
final class WriterBatch {
private static final Logger log = LoggerFactory.getLogger(WriterBatch.class);

    final Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> records = new LinkedHashMap<>();
    /** Positions to store instead of "after the last record" (records held back lie before that), or null. */
    private final Map<TopicPartition, OffsetAndMetadata> positions;
    /** The source commit order this batch completes for the whole group, recorded with it, or null. */
    Long commitOrder;
    /** Per partition, the commit order up to which this batch covers it (TransactionAligner), recorded with its position. */
    final Map<TopicPartition, Long> coveredOrders;
    /** Per table in the writer's table order, the decoded changes; null until {@link #decode}. */
    Map<String, List<RowChange>> changes;
    /** The records that could not be decoded, as dead letters; null until {@link #decode}. */
    List<DeadLetter> undecodable;

    WriterBatch(ConsumerRecords<byte[], byte[]> polled) {
        Map<TopicPartition, OffsetAndMetadata> next = new HashMap<>();
        for (TopicPartition tp : polled.partitions()) {
            List<ConsumerRecord<byte[], byte[]>> l = polled.records(tp);
            records.put(tp, l);
            // The poll's next offset passes the transaction markers after the last record (KIP-1094;
            // the migration writes in Kafka transactions), so the stored position and the group's
            // offset reach the partition's end rather than stopping at its last marker.
            OffsetAndMetadata n = polled.nextOffsets().get(tp);
            long after = l.get(l.size() - 1).offset() + 1; // partitions() lists partitions with records only
            next.put(tp, new OffsetAndMetadata(n == null ? after : Math.max(after, n.offset())));
        }
        this.positions = next;
        this.commitOrder = null;
        this.coveredOrders = new HashMap<>();
    }

    WriterBatch(Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> records, Map<TopicPartition, OffsetAndMetadata> positions,
          Map<TopicPartition, Long> coveredOrders, Long commitOrder) {
        this.records.putAll(records);
        this.positions = new HashMap<>(positions);
        this.coveredOrders = new HashMap<>(coveredOrders);
        this.commitOrder = commitOrder;
    }

    void decode(RecordDecoder decoder, List<String> tableOrder) {
        if (changes != null) {
            return;
        }
        Map<String, List<RowChange>> byTable = new LinkedHashMap<>();
        for (String table : tableOrder) {
            byTable.put(table, new ArrayList<>());
        }
        List<DeadLetter> dead = new ArrayList<>();
        for (List<ConsumerRecord<byte[], byte[]>> partition : records.values()) {
            for (ConsumerRecord<byte[], byte[]> r : partition) {
                RecordDecoder.Decoded d = decoder.decode(r);
                if (d.change() != null) {
                    byTable.get(d.change().table()).add(d.change());
                } else {
                    dead.add(d.deadLetter());
                    log.warn("Dead-lettering undecodable record {}: {}", d.deadLetter().coordinates(), d.deadLetter().error());
                }
            }
        }
        byTable.values().removeIf(List::isEmpty);
        changes = byTable;
        undecodable = dead;
    }

    void retain(Set<TopicPartition> owned) {
        positions.keySet().retainAll(owned);
        if (!owned.containsAll(coveredOrders.keySet())) {
            // No longer every partition: the group-wide commit order is not complete through this batch.
            commitOrder = null;
        }
        coveredOrders.keySet().retainAll(owned);
        if (records.keySet().retainAll(owned)) {
            changes = null;
            undecodable = null;
        }
    }

    /** True when the batch completes source transactions (it covers partitions up to a commit order). */
    boolean isRelease() {
        return !coveredOrders.isEmpty();
    }

    int size() {
        int n = 0;
        for (List<ConsumerRecord<byte[], byte[]>> l : records.values()) {
            n += l.size();
        }
        return n;
    }

    Long firstOffset(TopicPartition tp) {
        List<ConsumerRecord<byte[], byte[]>> l = records.get(tp);
        return l == null || l.isEmpty() ? null : l.get(0).offset();
    }

    Map<TopicPartition, OffsetAndMetadata> nextOffsets() {
        return new HashMap<>(positions);
    }

    /** e.g. {@code understudy.new.public.users[0] offsets 0..1666, understudy.new.public.users[1] offsets 0..1650}. */
    String describe(String table) {
        Set<String> topics = new HashSet<>();
        if (table != null && changes != null) {
            for (RowChange c : changes.getOrDefault(table, List.of())) {
                topics.add(c.topic());
            }
        }
        List<String> parts = new ArrayList<>();
        for (Map.Entry<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> e : records.entrySet()) {
            List<ConsumerRecord<byte[], byte[]>> l = e.getValue();
            if (l.isEmpty() || (!topics.isEmpty() && !topics.contains(e.getKey().topic()))) {
                continue;
            }
            parts.add(e.getKey().topic() + "[" + e.getKey().partition() + "] offsets " + l.get(0).offset() + ".."
                    + l.get(l.size() - 1).offset());
        }
        return parts.isEmpty() ? "none" : String.join(", ", parts);
    }
}

package dev.understudy.writer;

import dev.understudy.schemas.ChangeHeaders;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.ToLongFunction;

/**
 * Holds new-schema records back until their whole source transaction can be applied at once.
 * <p>
 * A record whose commit order ({@link ChangeHeaders#COMMIT_ORDER}) is above what the writer has
 * applied is held. When the {@link TransactionWatermark} passes it, the writer measures the end
 * offsets of its partitions; the watermark's records all lie below those ends, so once the consumer
 * has read that far every one of them is here, and the held records up to the watermark are released
 * into one batch, hence one target transaction. Records without a commit order (snapshot rows, sweep
 * tombstones) and records at or below the applied commit order (history re-read by a new generation,
 * replays after a restart) are not held: there is nothing left of their transaction to wait for.
 * <p>
 * Positions: a partition's stored position never passes its first held record, so after a crash the
 * held records are read again; records after it that were applied are read again too, and the
 * writer's version guard skips them.
 * <p>
 * Holding is bounded: past {@link #MAX_HELD_RECORDS} records, or when the oldest held record waited
 * {@link #MAX_HOLD_NANOS}, everything held is released without alignment (counted as an overflow and
 * logged by the writer), so a stalled watermark costs atomicity, never progress or memory.
 * <p>
 * Single-threaded: only the writer's loop uses it.
 */
final class TransactionAligner {
    static final int MAX_HELD_RECORDS = 200_000;
    static final long MAX_HOLD_NANOS = java.util.concurrent.TimeUnit.SECONDS.toNanos(60);
    static final long NO_ORDER = Long.MIN_VALUE;

    private final TransactionWatermark watermark;
    private final Map<TopicPartition, ArrayDeque<Held>> held = new HashMap<>();
    /** Next offset after the last record admitted, per partition. */
    private final Map<TopicPartition, Long> admittedTo = new HashMap<>();
    private int heldCount;
    private long applied = TransactionWatermark.NONE;
    /** The commit order being released, and the ends the consumer must reach first; null when none. */
    private long releasing = NO_ORDER;
    private Map<TopicPartition, Long> releaseEnds;

    private record Held(ConsumerRecord<byte[], byte[]> record, long commitOrder, long admittedNanos) {
    }

    /** What to apply in one target transaction, with the positions to store and the commit order it completes. */
    record Release(Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> records, Map<TopicPartition, OffsetAndMetadata> positions,
                   Long commitOrder, int transactions, boolean overflow) {
        boolean isEmpty() {
            return records.isEmpty() && commitOrder == null;
        }
    }

    TransactionAligner(TransactionWatermark watermark) {
        this.watermark = watermark;
    }

    /** The commit order up to which everything has been applied, as stored in the target. */
    void applied(long commitOrder) {
        applied = Math.max(applied, commitOrder);
    }

    long applied() {
        return applied;
    }

    /** True while records are held or a release waits for the consumer to reach its ends. */
    boolean waiting() {
        return heldCount > 0 || releaseEnds != null;
    }

    int heldCount() {
        return heldCount;
    }

    /**
     * Takes in one poll's records: returns those that can be applied now, keeps the others.
     */
    Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> admit(ConsumerRecords<byte[], byte[]> polled) {
        Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> ready = new LinkedHashMap<>();
        long now = System.nanoTime();
        for (TopicPartition tp : polled.partitions()) {
            List<ConsumerRecord<byte[], byte[]>> records = polled.records(tp);
            for (ConsumerRecord<byte[], byte[]> r : records) {
                long order = ChangeHeaders.getLong(r.headers(), ChangeHeaders.COMMIT_ORDER, NO_ORDER);
                if (order == NO_ORDER || order <= applied) {
                    ready.computeIfAbsent(tp, k -> new ArrayList<>()).add(r);
                } else {
                    held.computeIfAbsent(tp, k -> new ArrayDeque<>()).addLast(new Held(r, order, now));
                    heldCount++;
                }
            }
            if (!records.isEmpty()) {
                admittedTo.put(tp, records.get(records.size() - 1).offset() + 1);
            }
        }
        return ready;
    }

    /**
     * A commit order the watermark completed beyond what is applied or being released, if the writer
     * should now measure its partitions' ends and call {@link #beginRelease}; {@link #NO_ORDER} otherwise.
     */
    long releaseCandidate() {
        if (releaseEnds != null) {
            return NO_ORDER;
        }
        long complete = watermark.complete();
        return complete != TransactionWatermark.NONE && complete > applied ? complete : NO_ORDER;
    }

    /** Starts releasing {@code commitOrder} once the consumer has read every partition up to {@code ends}. */
    void beginRelease(long commitOrder, Map<TopicPartition, Long> ends) {
        releasing = commitOrder;
        releaseEnds = new HashMap<>(ends);
    }

    /**
     * The release batch: {@code ready} plus, when the consumer reached the ends of a pending release,
     * the held records up to its commit order, or everything held when holding overflowed.
     *
     * @param position the consumer's next offset of an assigned, positioned partition, or -1 when unknown
     */
    Release take(Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> ready, ToLongFunction<TopicPartition> position) {
        Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> out = new LinkedHashMap<>(ready);
        Long completes = null;
        int transactions = 0;
        boolean overflow = false;
        if (releaseEnds != null && reached(position)) {
            transactions = release(out, releasing);
            completes = releasing;
            // Applied from here on: the batch commits, is retried until it does, or stops the writer.
            applied = Math.max(applied, releasing);
            releaseEnds = null;
            releasing = NO_ORDER;
        }
        if (heldCount > MAX_HELD_RECORDS || (heldCount > 0 && System.nanoTime() - oldestAdmitted() > MAX_HOLD_NANOS)) {
            transactions += release(out, Long.MAX_VALUE);
            overflow = true;
        }
        Map<TopicPartition, OffsetAndMetadata> positions = new HashMap<>();
        for (TopicPartition tp : out.keySet()) {
            positions.put(tp, new OffsetAndMetadata(nextPosition(tp)));
        }
        return new Release(out, positions, completes, transactions, overflow);
    }

    private boolean reached(ToLongFunction<TopicPartition> position) {
        for (Map.Entry<TopicPartition, Long> e : releaseEnds.entrySet()) {
            long at = position.applyAsLong(e.getKey());
            if (at < 0 || at < e.getValue()) {
                return false;
            }
        }
        return true;
    }

    /** Moves held records with a commit order up to {@code upTo} into {@code out}; returns how many transactions they were. */
    private int release(Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> out, long upTo) {
        Set<Long> transactions = new HashSet<>();
        for (Map.Entry<TopicPartition, ArrayDeque<Held>> e : held.entrySet()) {
            List<ConsumerRecord<byte[], byte[]>> released = null;
            for (Iterator<Held> it = e.getValue().iterator(); it.hasNext(); ) {
                Held h = it.next();
                if (h.commitOrder() <= upTo) {
                    if (released == null) {
                        released = out.computeIfAbsent(e.getKey(), k -> new ArrayList<>());
                    }
                    released.add(h.record());
                    transactions.add(h.commitOrder());
                    it.remove();
                    heldCount--;
                }
            }
            if (released != null) {
                // Ready records came before this in the list but may lie after held ones: offset order
                // keeps the batch's per-key order the partition's (the last change per key wins).
                released.sort(java.util.Comparator.comparingLong(ConsumerRecord::offset));
            }
        }
        held.values().removeIf(ArrayDeque::isEmpty);
        return transactions.size();
    }

    private long oldestAdmitted() {
        long oldest = Long.MAX_VALUE;
        for (ArrayDeque<Held> q : held.values()) {
            if (!q.isEmpty()) {
                oldest = Math.min(oldest, q.peekFirst().admittedNanos());
            }
        }
        return oldest;
    }

    /** Where {@code tp} resumes after a restart: its first held record, else after the last admitted one. */
    private long nextPosition(TopicPartition tp) {
        ArrayDeque<Held> q = held.get(tp);
        if (q != null && !q.isEmpty()) {
            long first = Long.MAX_VALUE;
            for (Held h : q) {
                first = Math.min(first, h.record().offset());
            }
            return first;
        }
        return admittedTo.getOrDefault(tp, 0L);
    }

    /** Drops what belongs to partitions this writer no longer owns (or re-reads from a stored position). */
    void forget(Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions) {
            ArrayDeque<Held> q = held.remove(tp);
            if (q != null) {
                heldCount -= q.size();
            }
            admittedTo.remove(tp);
            if (releaseEnds != null) {
                releaseEnds.remove(tp);
            }
        }
    }
}

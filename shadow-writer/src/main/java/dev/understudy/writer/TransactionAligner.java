package dev.understudy.writer;

import dev.understudy.schemas.ChangeHeaders;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;

import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Collection;
import java.util.Comparator;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Iterator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeMap;
import java.util.function.ToLongFunction;

/**
 * Holds new-schema records back until their whole source transaction can be applied at once.
 * <p>
 * <b>Covered commit order, per partition.</b> For each partition the aligner knows the commit order
 * ({@link ChangeHeaders#COMMIT_ORDER}) up to which it is <i>covered</i>: every record of every
 * transaction up to it has been read and applied (records of those transactions that arrive later are
 * copies, see below). A partition becomes covered up to W by a release: the {@link TransactionWatermark}
 * completed W, the writer then measured the partition's end offset, and the consumer read that far
 * (every record of a transaction up to W lies below an end measured after W completed). The covered
 * order is stored with the partition's position ({@link WriterPositions}) and read back when the
 * partition is assigned again, by this writer or another.
 * <p>
 * A record whose commit order is above its partition's covered order is held. A record at or below it
 * is a copy of a record already applied (an at-least-once migration re-produces records after a
 * crash, a restarted writer re-reads from its stored position) or history a new spec generation
 * re-reads: it is applied at once, and a copy changes nothing (the writer's version guard). So is a
 * record without a commit order (snapshot rows, sweep tombstones). Coverage is per partition because
 * a release only proves something for the partitions whose ends were measured: a partition assigned
 * later (after a restart the writer starts with none, and a rebalance moves partitions) has been read
 * by nobody, and its records of the released transactions must still wait for a release covering it.
 * <p>
 * <b>Releases.</b> When the watermark passes the covered order of an assigned partition, the writer
 * measures its partitions' ends ({@link #beginRelease}); once the consumer has read that far, the held
 * records up to the watermark in those partitions go into one batch, hence one target transaction.
 * <p>
 * <b>Bounded memory, whole transactions.</b> At most {@link #MAX_HELD_RECORDS} records are held
 * (more only when a single transaction is larger). Past that, the transactions with the highest commit
 * orders are dropped from memory, whole, and records above the lowest dropped commit order are not
 * kept until the next release; that release then applies the transactions up to just below it (a
 * commit-order batch: whole transactions, oldest first) and the partitions that dropped records are
 * read again from their first unapplied record. Kafka keeps the records, so a backlog of any size is
 * applied in commit-order batches of bounded size; atomicity never depends on how far behind the
 * writer is. Records re-read that were applied when first read are skipped.
 * <p>
 * Positions: a partition's stored position never passes its first held or dropped record, so after a
 * crash those are read again; records after it that were applied are read again too, and the
 * writer's version guard skips them.
 * <p>
 * Single-threaded: only the writer's loop uses it.
 */
final class TransactionAligner {
    static final int MAX_HELD_RECORDS = 200_000;
    static final long NO_ORDER = Long.MIN_VALUE;

    private final TransactionWatermark watermark;
    private final int maxHeld;
    private final Map<TopicPartition, ArrayDeque<Held>> held = new HashMap<>();
    /** Records held per commit order, to find the newest transactions when holding reaches its bound. */
    private final TreeMap<Long, Integer> heldByOrder = new TreeMap<>();
    /** Next offset after the last record admitted, per partition. */
    private final Map<TopicPartition, Long> admittedTo = new HashMap<>();
    /** Per partition, the commit order up to which its records are read and applied (see the class comment). */
    private final Map<TopicPartition, Long> covered = new HashMap<>();
    /** Per partition, the first record dropped from memory since it was last read again. */
    private final Map<TopicPartition, Long> firstDropped = new HashMap<>();
    /** Per partition read again after dropping: below this offset, records applied when first read are skipped. */
    private final Map<TopicPartition, Long> replayBelow = new HashMap<>();
    private int heldCount;
    /** Records with a commit order above this are not kept (holding reached its bound); Long.MAX_VALUE when none are dropped. */
    private long keepUpTo = Long.MAX_VALUE;
    private long spills;
    private long released = TransactionWatermark.NONE;
    /** The commit order being released, and the ends the consumer must reach first; null when none. */
    private long releasing = NO_ORDER;
    private Map<TopicPartition, Long> releaseEnds;
    private boolean releaseWhole;

    private record Held(ConsumerRecord<byte[], byte[]> record, long commitOrder, long admittedNanos) {
    }

    /**
     * What to apply in one target transaction: the records, the positions to store, each covered
     * partition's new covered order, and the commit order completed for the whole group ({@code null}
     * unless the release covered every partition of the writer's topics). {@code rewind}: partitions
     * to read again from the given offset, right after this batch, because records were dropped.
     */
    record Release(Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> records, Map<TopicPartition, OffsetAndMetadata> positions,
                   Map<TopicPartition, Long> coveredOrders, Long commitOrder, int transactions, Map<TopicPartition, Long> rewind) {
        boolean isEmpty() {
            return records.isEmpty() && coveredOrders.isEmpty();
        }
    }

    TransactionAligner(TransactionWatermark watermark) {
        this(watermark, MAX_HELD_RECORDS);
    }

    TransactionAligner(TransactionWatermark watermark, int maxHeld) {
        if (maxHeld < 1) {
            throw new IllegalArgumentException("maxHeld must be at least 1, was " + maxHeld);
        }
        this.watermark = watermark;
        this.maxHeld = maxHeld;
    }

    /** The covered commit order stored for {@code tp}, read when it was assigned and positioned. */
    void covered(TopicPartition tp, long commitOrder) {
        covered.merge(tp, commitOrder, Math::max);
    }

    long covered(TopicPartition tp) {
        return covered.getOrDefault(tp, TransactionWatermark.NONE);
    }

    /** The highest commit order released so far (for some partitions at least), or NONE. */
    long released() {
        return released;
    }

    /** The watermark as it reads now. */
    long watermark() {
        return watermark.complete();
    }

    /** What the watermark waits for ({@link TransactionWatermark#waitingFor()}). */
    String watermarkWaitingFor() {
        return watermark.waitingFor();
    }

    /** True while records are held or a release waits for the consumer to reach its ends. */
    boolean waiting() {
        return heldCount > 0 || releaseEnds != null;
    }

    int heldCount() {
        return heldCount;
    }

    /** Times holding reached its bound and the newest held transactions were dropped, to be read again. */
    long spills() {
        return spills;
    }

    /** When the oldest held record was admitted (System.nanoTime), or Long.MAX_VALUE when none is held. */
    long oldestHeldNanos() {
        long oldest = Long.MAX_VALUE;
        for (ArrayDeque<Held> q : held.values()) {
            if (!q.isEmpty()) {
                oldest = Math.min(oldest, q.peekFirst().admittedNanos());
            }
        }
        return oldest;
    }

    /**
     * Takes in one poll's records: returns those that can be applied now, keeps the others (or drops
     * them while holding is at its bound).
     */
    Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> admit(ConsumerRecords<byte[], byte[]> polled) {
        Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> ready = new LinkedHashMap<>();
        long now = System.nanoTime();
        for (TopicPartition tp : polled.partitions()) {
            List<ConsumerRecord<byte[], byte[]>> records = polled.records(tp);
            long coveredTo = covered(tp);
            long replay = replayBelow.getOrDefault(tp, -1L);
            for (ConsumerRecord<byte[], byte[]> r : records) {
                long order = ChangeHeaders.getLong(r.headers(), ChangeHeaders.COMMIT_ORDER, NO_ORDER);
                boolean applicable = order == NO_ORDER || order <= coveredTo;
                if (applicable) {
                    // Below replay: read before, and applied then (at once, or in the release that covered it).
                    if (r.offset() >= replay) {
                        ready.computeIfAbsent(tp, k -> new ArrayList<>()).add(r);
                    }
                } else if (order > keepUpTo) {
                    firstDropped.merge(tp, r.offset(), Math::min);
                } else {
                    held.computeIfAbsent(tp, k -> new ArrayDeque<>()).addLast(new Held(r, order, now));
                    heldByOrder.merge(order, 1, Integer::sum);
                    heldCount++;
                }
            }
            if (!records.isEmpty()) {
                admitTo(tp, records.get(records.size() - 1).offset() + 1);
            }
        }
        // The poll's next offsets pass the transaction markers after its last records (KIP-1094): the
        // migration writes in Kafka transactions, so a partition's end is a marker, never a record.
        // A partition may also have returned markers only.
        for (Map.Entry<TopicPartition, OffsetAndMetadata> e : polled.nextOffsets().entrySet()) {
            Long at = admittedTo.get(e.getKey());
            if (at == null || e.getValue().offset() > at) {
                admitTo(e.getKey(), e.getValue().offset());
            }
        }
        bound();
        return ready;
    }

    /**
     * Past {@link #maxHeld} records, drops the newest held transactions whole until a quarter of the
     * bound is free, keeping at least the oldest one, and keeps no record above the oldest dropped
     * commit order until the next release (see the class comment).
     */
    private void bound() {
        if (heldCount <= maxHeld || heldByOrder.size() < 2) {
            return;
        }
        int goal = maxHeld - maxHeld / 4;
        int remaining = heldCount;
        long keep = keepUpTo;
        long oldest = heldByOrder.firstKey();
        for (Map.Entry<Long, Integer> e : heldByOrder.descendingMap().entrySet()) {
            if (remaining <= goal || e.getKey() == oldest) {
                break;
            }
            remaining -= e.getValue();
            keep = e.getKey() - 1;
        }
        keepUpTo = keep;
        for (Map.Entry<TopicPartition, ArrayDeque<Held>> e : held.entrySet()) {
            for (Iterator<Held> it = e.getValue().iterator(); it.hasNext(); ) {
                Held h = it.next();
                if (h.commitOrder() > keep) {
                    firstDropped.merge(e.getKey(), h.record().offset(), Math::min);
                    it.remove();
                    heldCount--;
                }
            }
        }
        heldByOrder.tailMap(keep, false).clear();
        held.values().removeIf(ArrayDeque::isEmpty);
        spills++;
    }

    /**
     * A commit order the watermark completed beyond the covered order of some partition in
     * {@code assigned}, if the writer should now measure their ends and call {@link #beginRelease};
     * {@link #NO_ORDER} otherwise (also while nothing is assigned: a release must cover partitions).
     */
    long releaseCandidate(Collection<TopicPartition> assigned) {
        if (releaseEnds != null) {
            return NO_ORDER;
        }
        long complete = watermark.complete();
        if (complete == TransactionWatermark.NONE) {
            return NO_ORDER;
        }
        for (TopicPartition tp : assigned) {
            if (covered(tp) < complete) {
                return complete;
            }
        }
        return NO_ORDER;
    }

    /**
     * Starts releasing {@code commitOrder} in the partitions of {@code ends}, once the consumer has read
     * each of them up to its end.
     *
     * @param whole true when {@code ends} holds every partition of the writer's topics, so the release
     *              completes {@code commitOrder} for the whole group
     */
    void beginRelease(long commitOrder, Map<TopicPartition, Long> ends, boolean whole) {
        if (ends.isEmpty()) {
            return;
        }
        releasing = commitOrder;
        releaseEnds = new HashMap<>(ends);
        releaseWhole = whole;
    }

    /**
     * The batch to apply: {@code ready} plus, when the consumer reached the ends of a pending release,
     * the held records of the released transactions in the partitions it covers.
     *
     * @param position the consumer's next offset of an assigned, positioned partition, or -1 when unknown
     */
    Release take(Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> ready, ToLongFunction<TopicPartition> position) {
        Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> out = new LinkedHashMap<>(ready);
        Map<TopicPartition, Long> coveredNow = new HashMap<>();
        Long completes = null;
        int transactions = 0;
        Map<TopicPartition, Long> rewind = Map.of();
        if (releaseEnds != null && reached(position)) {
            // While records above keepUpTo were dropped, only the transactions up to it are all here.
            long upTo = Math.min(releasing, keepUpTo);
            transactions = release(out, upTo, releaseEnds.keySet());
            for (TopicPartition tp : releaseEnds.keySet()) {
                covered.merge(tp, upTo, Math::max);
                coveredNow.put(tp, covered.get(tp));
            }
            if (releaseWhole) {
                completes = upTo;
            }
            released = Math.max(released, upTo);
            releaseEnds = null;
            releasing = NO_ORDER;
            if (!firstDropped.isEmpty()) {
                rewind = rewind();
            }
        }
        Map<TopicPartition, OffsetAndMetadata> positions = new HashMap<>();
        Set<TopicPartition> stored = new HashSet<>(out.keySet());
        stored.addAll(coveredNow.keySet());
        for (TopicPartition tp : stored) {
            Long next = nextPosition(tp);
            if (next == null) {
                // Covered without a record read since it was positioned: everything before the consumer's
                // position is applied, and storing it again keeps the covered order across a restart.
                long at = position.applyAsLong(tp);
                next = at >= 0 && at != Long.MAX_VALUE ? at : null;
            }
            if (next != null) {
                positions.put(tp, new OffsetAndMetadata(next));
            }
        }
        coveredNow.keySet().retainAll(positions.keySet());
        return new Release(out, positions, coveredNow, completes, transactions, rewind);
    }

    /**
     * After a release while records were dropped: the partitions that dropped records are to be read
     * again from their first held or dropped record (their held records are let go, they come again),
     * and records up to the highest commit order are kept again.
     */
    private Map<TopicPartition, Long> rewind() {
        Map<TopicPartition, Long> rewind = new HashMap<>();
        for (TopicPartition tp : firstDropped.keySet()) {
            Long to = nextPosition(tp);
            if (to == null) {
                continue;
            }
            rewind.put(tp, to);
            long readTo = admittedTo.getOrDefault(tp, to);
            replayBelow.merge(tp, readTo, Math::max);
            admittedTo.put(tp, to);
            ArrayDeque<Held> q = held.remove(tp);
            if (q != null) {
                for (Held h : q) {
                    unhold(h.commitOrder());
                }
            }
        }
        firstDropped.clear();
        keepUpTo = Long.MAX_VALUE;
        return rewind;
    }

    private void unhold(long order) {
        heldCount--;
        heldByOrder.computeIfPresent(order, (k, n) -> n == 1 ? null : n - 1);
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

    /** Moves held records of {@code partitions} with a commit order up to {@code upTo} into {@code out}; returns how many transactions they were. */
    private int release(Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> out, long upTo, Set<TopicPartition> partitions) {
        Set<Long> transactions = new HashSet<>();
        for (TopicPartition tp : partitions) {
            ArrayDeque<Held> q = held.get(tp);
            if (q == null) {
                continue;
            }
            List<ConsumerRecord<byte[], byte[]>> released = null;
            for (Iterator<Held> it = q.iterator(); it.hasNext(); ) {
                Held h = it.next();
                if (h.commitOrder() <= upTo) {
                    if (released == null) {
                        released = out.computeIfAbsent(tp, k -> new ArrayList<>());
                    }
                    released.add(h.record());
                    transactions.add(h.commitOrder());
                    it.remove();
                    unhold(h.commitOrder());
                }
            }
            if (released != null) {
                // Ready records came before this in the list but may lie after held ones: offset order
                // keeps the batch's per-key order the partition's (the last change per key wins).
                released.sort(Comparator.comparingLong(ConsumerRecord::offset));
            }
        }
        held.values().removeIf(ArrayDeque::isEmpty);
        return transactions.size();
    }

    private void admitTo(TopicPartition tp, long next) {
        admittedTo.put(tp, next);
        if (next >= replayBelow.getOrDefault(tp, -1L)) {
            replayBelow.remove(tp);
        }
    }

    /**
     * Where {@code tp} resumes after a restart: its first held or dropped record, else after the last
     * admitted one (past any transaction markers read); null when nothing was admitted from it (its
     * stored position stays as it is). Every record below it is applied or not to be applied, so the
     * stored position and the group's offset may point there.
     */
    Long nextPosition(TopicPartition tp) {
        Long next = admittedTo.get(tp);
        if (next == null) {
            return null;
        }
        // A partition's held records are in offset order: admitted in poll order (addLast), and taken out
        // by iterator removal, which keeps the others' order. The first is the lowest. (Scanning them all
        // here made every release cost the whole held backlog: 13 % of the writer's thread in the demo's
        // backfill, most of it boxing.)
        ArrayDeque<Held> q = held.get(tp);
        long lowest = next;
        if (q != null && !q.isEmpty()) {
            lowest = Math.min(lowest, q.peekFirst().record().offset());
        }
        Long dropped = firstDropped.get(tp);
        return dropped == null ? lowest : Math.min(lowest, dropped);
    }

    /** Drops what belongs to partitions this writer no longer owns (or re-reads from a stored position). */
    void forget(Collection<TopicPartition> partitions) {
        for (TopicPartition tp : partitions) {
            ArrayDeque<Held> q = held.remove(tp);
            if (q != null) {
                for (Held h : q) {
                    unhold(h.commitOrder());
                }
            }
            admittedTo.remove(tp);
            covered.remove(tp);
            firstDropped.remove(tp);
            replayBelow.remove(tp);
            if (releaseEnds != null && releaseEnds.remove(tp) != null) {
                // The release no longer covers every partition of the group.
                releaseWhole = false;
                if (releaseEnds.isEmpty()) {
                    releaseEnds = null;
                    releasing = NO_ORDER;
                }
            }
        }
        if (firstDropped.isEmpty()) {
            keepUpTo = Long.MAX_VALUE;
        }
    }
}

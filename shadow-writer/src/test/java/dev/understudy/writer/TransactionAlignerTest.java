package dev.understudy.writer;

import dev.understudy.schemas.ChangeHeaders;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.Random;
import java.util.Set;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TransactionAlignerTest {
    private static final TopicPartition P0 = new TopicPartition("t", 0);
    private static final TopicPartition P1 = new TopicPartition("t", 1);
    private static final Set<TopicPartition> BOTH = Set.of(P0, P1);

    private final AtomicLong watermark = new AtomicLong(TransactionWatermark.NONE);
    private final TransactionAligner aligner = new TransactionAligner(watermark::get);
    private final Map<TopicPartition, Long> positions = new HashMap<>();

    private static ConsumerRecord<byte[], byte[]> record(TopicPartition tp, long offset, Long commitOrder) {
        RecordHeaders headers = new RecordHeaders();
        if (commitOrder != null) {
            headers.add(ChangeHeaders.COMMIT_ORDER, ChangeHeaders.encodeLong(commitOrder));
        }
        return new ConsumerRecord<>(tp.topic(), tp.partition(), offset, 0L, TimestampType.CREATE_TIME, 0, 0, new byte[]{1},
                new byte[]{2}, headers, Optional.empty());
    }

    @SafeVarargs
    private ConsumerRecords<byte[], byte[]> poll(ConsumerRecord<byte[], byte[]>... records) {
        Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> map = new HashMap<>();
        for (ConsumerRecord<byte[], byte[]> r : records) {
            TopicPartition tp = new TopicPartition(r.topic(), r.partition());
            map.computeIfAbsent(tp, k -> new ArrayList<>()).add(r);
            positions.merge(tp, r.offset() + 1, Math::max);
        }
        return new ConsumerRecords<>(map, Map.of());
    }

    private static List<Long> offsets(TransactionAligner.Release release, TopicPartition tp) {
        return release.records().getOrDefault(tp, List.of()).stream().map(ConsumerRecord::offset).toList();
    }

    /** One turn of the writer's loop with {@code assigned} partitions, whose ends (if asked) are {@code ends}. */
    private TransactionAligner.Release step(ConsumerRecords<byte[], byte[]> polled, Set<TopicPartition> assigned, Map<TopicPartition, Long> ends) {
        var ready = aligner.admit(polled);
        long candidate = aligner.releaseCandidate(assigned);
        if (candidate != TransactionAligner.NO_ORDER) {
            Map<TopicPartition, Long> measured = new HashMap<>(ends);
            measured.keySet().retainAll(assigned);
            aligner.beginRelease(candidate, measured, measured.keySet().containsAll(BOTH));
        }
        return aligner.take(ready, tp -> assigned.contains(tp) ? positions.getOrDefault(tp, 0L) : Long.MAX_VALUE);
    }

    @Test
    void snapshotRowsPassAndATransactionWaitsForTheWatermarkAndEveryPartition() {
        var first = step(poll(record(P0, 0, null), record(P0, 1, 7L), record(P1, 0, 7L)), BOTH, Map.of());
        assertEquals(List.of(0L), offsets(first, P0), "a row without commit order (snapshot) is applied at once");
        assertEquals(2, aligner.heldCount());
        assertEquals(1L, first.positions().get(P0).offset(), "the stored position stops at the first held record");

        // Complete up to 7, but partition 1 has a record (offset 1, also of 7) the consumer has not read yet.
        watermark.set(7);
        var waiting = step(poll(), BOTH, Map.of(P0, 2L, P1, 2L));
        assertTrue(waiting.records().isEmpty());
        assertNull(waiting.commitOrder());

        var released = step(poll(record(P1, 1, 7L), record(P1, 2, 9L)), BOTH, Map.of());
        assertEquals(List.of(1L), offsets(released, P0));
        assertEquals(List.of(0L, 1L), offsets(released, P1), "the whole of transaction 7, in offset order");
        assertEquals(7L, released.commitOrder(), "both partitions covered: complete for the group");
        assertEquals(Map.of(P0, 7L, P1, 7L), released.coveredOrders());
        assertEquals(1, released.transactions());
        assertEquals(2L, released.positions().get(P1).offset(), "transaction 9 stays held and keeps the position");
        assertEquals(2L, released.positions().get(P0).offset());
        assertEquals(1, aligner.heldCount());
    }

    /**
     * The migration writes in Kafka transactions, so a partition ends with a commit marker the
     * consumer skips. The poll's next offsets (KIP-1094) pass it; positions stored and committed must
     * too, or a caught-up writer's group offset stays one below the partition's end for ever.
     */
    @Test
    void aReleaseTakingRecordsFromAmongHeldOnesStoresThePositionOfTheFirstStillHeld() {
        // Offsets 0..4 of transactions 9, 7, 8, 7, 10: the join path interleaves transactions in a partition.
        var held = step(poll(record(P0, 0, 9L), record(P0, 1, 7L), record(P0, 2, 8L), record(P0, 3, 7L), record(P0, 4, 10L)),
                Set.of(P0), Map.of());
        assertEquals(5, aligner.heldCount());
        assertNull(held.positions().get(P0), "nothing applied, no position to store");

        // The consumer has read to the measured end (5), so the release is taken in the same turn.
        watermark.set(7);
        var seven = step(poll(), Set.of(P0), Map.of(P0, 5L));
        assertEquals(List.of(1L, 3L), offsets(seven, P0));
        assertEquals(0L, seven.positions().get(P0).offset(), "offset 0 (transaction 9) is still held");

        watermark.set(9);
        var nine = step(poll(), Set.of(P0), Map.of(P0, 5L));
        assertEquals(List.of(0L, 2L), offsets(nine, P0));
        assertEquals(4L, nine.positions().get(P0).offset(), "offset 4 (transaction 10) is the first still held");
    }

    @Test
    void positionsPassTheTransactionMarkersAfterTheLastRecords() {
        Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> map = new HashMap<>();
        map.put(P0, List.of(record(P0, 0, null), record(P0, 1, null)));
        var applied = aligner.take(aligner.admit(new ConsumerRecords<>(map,
                Map.of(P0, new OffsetAndMetadata(3)))), tp -> 3L);
        assertEquals(List.of(0L, 1L), offsets(applied, P0));
        assertEquals(3L, applied.positions().get(P0).offset(), "offset 2 is the marker of the records' transaction");
        assertEquals(3L, aligner.nextPosition(P0));

        // A poll of markers only moves the position; with nothing held, that is where the group may point.
        aligner.admit(new ConsumerRecords<>(Map.of(), Map.of(P0, new OffsetAndMetadata(5))));
        assertEquals(5L, aligner.nextPosition(P0));

        // A held record keeps it below, markers or not.
        map.clear();
        map.put(P0, List.of(record(P0, 5, 42L)));
        aligner.admit(new ConsumerRecords<>(map, Map.of(P0, new OffsetAndMetadata(6))));
        aligner.admit(new ConsumerRecords<>(Map.of(), Map.of(P0, new OffsetAndMetadata(8))));
        assertEquals(5L, aligner.nextPosition(P0), "transaction 42 is held at offset 5");
    }

    @Test
    void recordsAtOrBelowTheirPartitionsCoveredCommitOrderAreNotHeld() {
        aligner.covered(P0, 100);
        var r = step(poll(record(P0, 0, 50L), record(P0, 1, 100L), record(P0, 2, 101L), record(P1, 0, 50L)), BOTH, Map.of());
        assertEquals(List.of(0L, 1L), offsets(r, P0), "copies and re-read history of a covered partition pass");
        assertEquals(List.of(), offsets(r, P1), "partition 1 is covered by nothing yet: its record of transaction 50 waits");
        assertEquals(2, aligner.heldCount());
        assertEquals(2L, r.positions().get(P0).offset());
    }

    /**
     * After a restart the writer has no partitions until its group has rebalanced, and the watermark
     * may already be far ahead. A release then covers nothing: the records of those transactions the
     * partitions hold, once assigned, wait for a release that measured them.
     */
    @Test
    void aWatermarkCompletedBeforeAnyPartitionIsAssignedCoversNothing() {
        watermark.set(3);
        var none = step(poll(), Set.of(), Map.of());
        assertTrue(none.isEmpty());
        assertEquals(TransactionWatermark.NONE, aligner.released());

        var assigned = step(poll(record(P0, 0, 2L), record(P1, 0, 2L)), BOTH, Map.of(P0, 2L, P1, 1L));
        assertTrue(assigned.records().isEmpty(), "transaction 2 is held until the consumer read the measured ends: " + assigned);
        assertEquals(2, aligner.heldCount());
        var released = step(poll(record(P0, 1, 2L)), BOTH, Map.of());
        assertEquals(List.of(0L, 1L), offsets(released, P0));
        assertEquals(List.of(0L), offsets(released, P1));
        assertEquals(3L, released.commitOrder());
    }

    @Test
    void aPartitionAssignedAfterAReleaseIsNotCoveredByIt() {
        var held = step(poll(record(P0, 0, 5L)), Set.of(P0), Map.of());
        assertTrue(held.records().isEmpty());
        watermark.set(5);
        var released = step(poll(), Set.of(P0), Map.of(P0, 1L, P1, 4L));
        assertEquals(List.of(0L), offsets(released, P0));
        assertNull(released.commitOrder(), "partition 1 was not measured: transaction 5 is not complete for the group");
        assertEquals(Map.of(P0, 5L), released.coveredOrders());

        // Partition 1 arrives (a rebalance): its share of transaction 5 waits for a release over it.
        var arriving = step(poll(record(P1, 0, 5L), record(P1, 1, 5L)), BOTH, Map.of(P0, 1L, P1, 3L));
        assertTrue(arriving.records().isEmpty(), "not applied one poll at a time: " + arriving);
        var rest = step(poll(record(P1, 2, 5L)), BOTH, Map.of());
        assertEquals(List.of(0L, 1L, 2L), offsets(rest, P1));
        assertEquals(5L, rest.commitOrder());
    }

    @Test
    void aRevokedPartitionIsForgottenAndNoLongerBlocksARelease() {
        step(poll(record(P0, 0, 5L), record(P1, 0, 5L)), BOTH, Map.of());
        watermark.set(5);
        var blocked = step(poll(), BOTH, Map.of(P0, 1L, P1, 3L));
        assertTrue(blocked.records().isEmpty());
        aligner.forget(List.of(P1));
        var released = step(poll(), Set.of(P0), Map.of());
        assertEquals(List.of(0L), offsets(released, P0));
        assertEquals(0, aligner.heldCount());
        assertNull(released.commitOrder(), "only partition 0's share is applied");
        assertEquals(Map.of(P0, 5L), released.coveredOrders());
    }

    /**
     * A backlog far above the holding bound: transactions of 1 to 12 records spread over two
     * partitions, in commit order per partition but with the partitions read at different paces, and
     * rows without a commit order between them. The writer's loop is simulated against the log
     * (polls of a few records per partition, seeks on rewind). Every batch must hold whole
     * transactions, each transaction must be applied exactly once, the held records never exceed
     * the bound by more than one transaction, and every row without a commit order is applied once.
     */
    @Test
    void aBacklogBeyondTheBoundIsAppliedInCommitOrderBatchesOfWholeTransactions() {
        int bound = 40;
        TransactionAligner small = new TransactionAligner(watermark::get, bound);
        Random random = new Random(11);
        Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> log = new HashMap<>(Map.of(P0, new ArrayList<>(), P1, new ArrayList<>()));
        Map<Long, Integer> sizes = new TreeMap<>();
        int unordered = 0;
        for (long t = 1; t <= 300; t++) {
            int n = 1 + random.nextInt(12);
            sizes.put(t, n);
            for (int i = 0; i < n; i++) {
                TopicPartition tp = random.nextBoolean() ? P0 : P1;
                log.get(tp).add(record(tp, log.get(tp).size(), t));
            }
            if (random.nextInt(10) == 0) {
                TopicPartition tp = random.nextBoolean() ? P0 : P1;
                log.get(tp).add(record(tp, log.get(tp).size(), null));
                unordered++;
            }
        }
        watermark.set(300);
        Map<TopicPartition, Long> ends = Map.of(P0, (long) log.get(P0).size(), P1, (long) log.get(P1).size());
        Map<TopicPartition, Long> at = new HashMap<>(Map.of(P0, 0L, P1, 0L));
        Map<Long, Integer> applied = new TreeMap<>();
        int appliedUnordered = 0;
        int batches = 0;
        for (int turn = 0; turn < 200_000 && applied.size() < sizes.size(); turn++) {
            Map<TopicPartition, List<ConsumerRecord<byte[], byte[]>>> polled = new HashMap<>();
            for (TopicPartition tp : BOTH) {
                int pace = tp.equals(P0) ? 7 : 3;
                int from = at.get(tp).intValue();
                int to = Math.min(log.get(tp).size(), from + pace);
                if (to > from) {
                    polled.put(tp, log.get(tp).subList(from, to));
                    at.put(tp, (long) to);
                }
            }
            var ready = small.admit(new ConsumerRecords<>(polled, Map.of()));
            assertTrue(small.heldCount() <= bound + 12, "held " + small.heldCount() + " records, bound " + bound);
            long candidate = small.releaseCandidate(BOTH);
            if (candidate != TransactionAligner.NO_ORDER) {
                small.beginRelease(candidate, ends, true);
            }
            var release = small.take(ready, at::get);
            Map<Long, Integer> inBatch = new TreeMap<>();
            for (List<ConsumerRecord<byte[], byte[]>> records : release.records().values()) {
                for (ConsumerRecord<byte[], byte[]> r : records) {
                    long order = ChangeHeaders.getLong(r.headers(), ChangeHeaders.COMMIT_ORDER, TransactionAligner.NO_ORDER);
                    if (order == TransactionAligner.NO_ORDER) {
                        appliedUnordered++;
                    } else {
                        inBatch.merge(order, 1, Integer::sum);
                    }
                }
            }
            for (Map.Entry<Long, Integer> e : inBatch.entrySet()) {
                assertEquals(sizes.get(e.getKey()), e.getValue(), "transaction " + e.getKey() + " in batch " + batches + " is not whole");
                assertNull(applied.put(e.getKey(), e.getValue()), "transaction " + e.getKey() + " applied twice");
            }
            if (!release.records().isEmpty()) {
                batches++;
            }
            release.rewind().forEach(at::put);
        }
        assertEquals(sizes.size(), applied.size(), "every transaction applied once; held " + small.heldCount() + ", covered "
                + small.covered(P0) + "/" + small.covered(P1) + ", read to " + at + " of " + ends + ", released " + small.released());
        assertEquals(sizes, applied, "every transaction applied once");
        assertEquals(unordered, appliedUnordered, "every row without a commit order applied once");
        assertTrue(small.spills() > 0, "the backlog never reached the bound");
        assertTrue(batches > 2, "applied in commit-order batches: " + batches);
        assertEquals(0, small.heldCount());
    }
}

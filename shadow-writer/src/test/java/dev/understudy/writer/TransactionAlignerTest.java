package dev.understudy.writer;

import dev.understudy.schemas.ChangeHeaders;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.ConsumerRecords;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TransactionAlignerTest {
    private static final TopicPartition P0 = new TopicPartition("t", 0);
    private static final TopicPartition P1 = new TopicPartition("t", 1);

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

    private TransactionAligner.Release step(ConsumerRecords<byte[], byte[]> polled, Map<TopicPartition, Long> endsIfAsked) {
        var ready = aligner.admit(polled);
        long candidate = aligner.releaseCandidate();
        if (candidate != TransactionAligner.NO_ORDER) {
            aligner.beginRelease(candidate, endsIfAsked);
        }
        return aligner.take(ready, tp -> positions.getOrDefault(tp, 0L));
    }

    @Test
    void snapshotRowsPassAndATransactionWaitsForTheWatermarkAndEveryPartition() {
        var first = step(poll(record(P0, 0, null), record(P0, 1, 7L), record(P1, 0, 7L)), Map.of());
        assertEquals(List.of(0L), offsets(first, P0), "a row without commit order (snapshot) is applied at once");
        assertEquals(2, aligner.heldCount());
        assertEquals(1L, first.positions().get(P0).offset(), "the stored position stops at the first held record");

        // Complete up to 7, but partition 1 has a record (offset 1, also of 7) the consumer has not read yet.
        watermark.set(7);
        var waiting = step(poll(), Map.of(P0, 2L, P1, 2L));
        assertTrue(waiting.records().isEmpty());
        assertNull(waiting.commitOrder());

        var released = step(poll(record(P1, 1, 7L), record(P1, 2, 9L)), Map.of());
        assertEquals(List.of(1L), offsets(released, P0));
        assertEquals(List.of(0L, 1L), offsets(released, P1), "the whole of transaction 7, in offset order");
        assertEquals(7L, released.commitOrder());
        assertEquals(1, released.transactions());
        assertEquals(2L, released.positions().get(P1).offset(), "transaction 9 stays held and keeps the position");
        assertEquals(2L, released.positions().get(P0).offset());
        assertEquals(1, aligner.heldCount());
        assertFalse(released.overflow());
    }

    @Test
    void recordsAtOrBelowTheAppliedCommitOrderAreNotHeld() {
        aligner.applied(100);
        var r = step(poll(record(P0, 0, 50L), record(P0, 1, 100L), record(P0, 2, 101L)), Map.of());
        assertEquals(List.of(0L, 1L), offsets(r, P0), "re-read history and replays pass");
        assertEquals(1, aligner.heldCount());
        assertEquals(2L, r.positions().get(P0).offset());
    }

    @Test
    void aRevokedPartitionIsForgottenAndNoLongerBlocksARelease() {
        step(poll(record(P0, 0, 5L), record(P1, 0, 5L)), Map.of());
        watermark.set(5);
        var blocked = step(poll(), Map.of(P0, 1L, P1, 3L));
        assertTrue(blocked.records().isEmpty());
        aligner.forget(List.of(P1));
        var released = step(poll(), Map.of());
        assertEquals(List.of(0L), offsets(released, P0));
        assertEquals(0, aligner.heldCount());
        assertEquals(5L, released.commitOrder());
    }

    @Test
    void aWatermarkWithNothingHeldCompletesWithoutABatch() {
        watermark.set(3);
        var r = step(poll(), Map.of());
        assertTrue(r.records().isEmpty());
        assertEquals(3L, r.commitOrder());
        assertEquals(3L, aligner.applied());
    }
}

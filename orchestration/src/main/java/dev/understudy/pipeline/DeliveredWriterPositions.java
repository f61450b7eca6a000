package dev.understudy.pipeline;

import dev.understudy.transform.WriterProgress;
import dev.understudy.writer.WriterBookkeeping;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.TopicPartition;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The shadow writer's applied positions as the capture of the target delivered them, for the
 * comparison's alignment ({@link WriterProgress}): lag-aware drift.
 * <p>
 * The writer stores each partition's position ({@link WriterBookkeeping#positionTable()}) in the same
 * target transaction as the rows below it, after them. The target capture includes that table and
 * hands its rows here once Kafka acknowledged the batch that carried them ({@code CdcCapture#observing}),
 * so a position seen here says more than "applied": every target change the writer made up to it is
 * on the target change topics, which the comparison reads. Positions read from the table directly
 * (as this class's predecessor did, every 200 ms) said only the former; while the target capture
 * lagged (its snapshot after a restart, or a burst of a backfill's rows under load) the comparison's
 * settle window ran out before the changes reached it, and keys the target had right were reported
 * as diverged by the tens of thousands. With each delivered position this class also keeps how far
 * the capture had produced to each target partition then; the comparison waits until it has read its
 * partition of the target topic that far, so a comparison that lags behind the target topic leaves
 * keys pending too.
 * <p>
 * Each partition keeps the positions seen and when each was first seen; the time is when the
 * capture delivered it, which only delays a report, never hastens one.
 */
public final class DeliveredWriterPositions implements WriterProgress {
    /** Samples kept per partition: positions move only when the writer commits, so this spans minutes at least. */
    private static final int HISTORY = 4096;

    private final String group;
    private final Map<String, Samples> partitions = new ConcurrentHashMap<>();

    /**
     * One delivered position: the position, when it was first delivered, and how far the capture had
     * produced to each target partition by then (shared by the positions of one capture batch).
     */
    private record Sample(long position, long atMs, Map<TopicPartition, Long> produced) {
    }

    /** Positions seen for one partition, in order (they only grow), with when each was first seen. */
    private static final class Samples {
        private final List<Sample> entries = new ArrayList<>();

        synchronized void add(Sample sample) {
            if (entries.isEmpty() || entries.get(entries.size() - 1).position() < sample.position()) {
                entries.add(sample);
                if (entries.size() > HISTORY) {
                    entries.subList(0, entries.size() - HISTORY).clear();
                }
            }
        }

        /** The first sample past the offset, or null (binary search: positions increase). */
        synchronized Sample past(long offset) {
            int lo = 0;
            int hi = entries.size() - 1;
            Sample found = null;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                Sample e = entries.get(mid);
                if (e.position() > offset) {
                    found = e;
                    hi = mid - 1;
                } else {
                    lo = mid + 1;
                }
            }
            return found;
        }
    }

    /** @param writerGroup the writer group whose positions count; other groups' rows are ignored */
    public DeliveredWriterPositions(String writerGroup) {
        this.group = writerGroup;
    }

    /**
     * A row of the position table as the target capture delivered it, with the highest offset the
     * capture had produced to each partition by then ({@code CdcCapture#observing}).
     */
    public void delivered(GenericRecord row, Map<TopicPartition, Long> produced) {
        delivered(row, produced, System.currentTimeMillis());
    }

    void delivered(GenericRecord row, Map<TopicPartition, Long> produced, long nowMs) {
        WriterBookkeeping.Position p = WriterBookkeeping.positionOf(row);
        if (p == null || !group.equals(p.group())) {
            return;
        }
        partitions.computeIfAbsent(p.topic() + "#" + p.partition(), k -> new Samples()).add(new Sample(p.nextOffset(), nowMs, produced));
    }

    @Override
    public long appliedAtMs(String topic, int partition, long offset) {
        Samples s = partitions.get(topic + "#" + partition);
        Sample past = s == null ? null : s.past(offset);
        return past == null ? NOT_APPLIED : past.atMs();
    }

    /**
     * The offset of {@code targetTopic}'s partition of the same number that the capture had produced
     * up to when it delivered the position past {@code offset}: the comparison must have read that far
     * before the target's side of the key is final.
     */
    @Override
    public long targetOffsetAt(String topic, int partition, long offset, String targetTopic) {
        Samples s = partitions.get(topic + "#" + partition);
        Sample past = s == null ? null : s.past(offset);
        return past == null ? -1L : past.produced().getOrDefault(new TopicPartition(targetTopic, partition), -1L);
    }
}

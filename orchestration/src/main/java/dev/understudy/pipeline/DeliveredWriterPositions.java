package dev.understudy.pipeline;

import dev.understudy.transform.WriterProgress;
import dev.understudy.writer.WriterBookkeeping;
import org.apache.avro.generic.GenericRecord;

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
 * as diverged by the tens of thousands. Now the window only has to cover the comparison's own
 * reading of the target topics.
 * <p>
 * Each partition keeps the positions seen and when each was first seen; the time is when the
 * capture delivered it, which only delays a report, never hastens one.
 */
public final class DeliveredWriterPositions implements WriterProgress {
    /** Samples kept per partition: positions move only when the writer commits, so this spans minutes at least. */
    private static final int HISTORY = 4096;

    private final String group;
    private final Map<String, Samples> partitions = new ConcurrentHashMap<>();

    /** Positions seen for one partition, in order (they only grow), with when each was first seen. */
    private static final class Samples {
        private final List<long[]> entries = new ArrayList<>();

        synchronized void add(long position, long nowMs) {
            if (entries.isEmpty() || entries.get(entries.size() - 1)[0] < position) {
                entries.add(new long[]{position, nowMs});
                if (entries.size() > HISTORY) {
                    entries.subList(0, entries.size() - HISTORY).clear();
                }
            }
        }

        synchronized long appliedAt(long offset) {
            // The first sample past the offset (binary search: positions increase).
            int lo = 0;
            int hi = entries.size() - 1;
            long found = NOT_APPLIED;
            while (lo <= hi) {
                int mid = (lo + hi) >>> 1;
                long[] e = entries.get(mid);
                if (e[0] > offset) {
                    found = e[1];
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

    /** A row of the position table as the target capture delivered it. */
    public void delivered(GenericRecord row) {
        delivered(row, System.currentTimeMillis());
    }

    void delivered(GenericRecord row, long nowMs) {
        WriterBookkeeping.Position p = WriterBookkeeping.positionOf(row);
        if (p == null || !group.equals(p.group())) {
            return;
        }
        partitions.computeIfAbsent(p.topic() + "#" + p.partition(), k -> new Samples()).add(p.nextOffset(), nowMs);
    }

    @Override
    public long appliedAtMs(String topic, int partition, long offset) {
        Samples s = partitions.get(topic + "#" + partition);
        return s == null ? NOT_APPLIED : s.appliedAt(offset);
    }
}

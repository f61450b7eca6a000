package dev.understudy.load;

import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

/**
 * One line of a bulk load's progress per call, per table: rows of the estimate, bytes written, the
 * rate since the previous call and the time left at that rate. For example
 * {@code public.users 412,000 of ~1,000,000 rows (41%), 38.2 MB, 81,400 rows/s, ETA 7 s}.
 * <p>
 * The estimate is the planner's ({@code pg_class.reltuples}), so the share can pass 100% on a table
 * whose statistics are old; the ETA then says "soon". The rate is over the last interval, so the ETA
 * follows the current pace rather than the average since the start.
 */
public final class LoadProgress {
    private final BulkLoad load;
    private final Map<String, long[]> last = new HashMap<>();
    private long lastNanos = System.nanoTime();

    public LoadProgress(BulkLoad load) {
        this.load = load;
    }

    /** The progress now; the rates are since the previous call (or the creation). */
    public synchronized String next() {
        long now = System.nanoTime();
        double seconds = Math.max(1e-9, (now - lastNanos) / 1e9);
        lastNanos = now;
        List<String> parts = new ArrayList<>();
        for (BulkLoad.TableProgress t : load.progress()) {
            long[] before = last.getOrDefault(t.table(), new long[]{0});
            double rate = (t.rows() - before[0]) / seconds;
            last.put(t.table(), new long[]{t.rows()});
            parts.add(describe(t, rate));
        }
        return parts.isEmpty() ? "planning" : String.join("; ", parts);
    }

    static String describe(BulkLoad.TableProgress t, double rowsPerSecond) {
        boolean done = t.chunks() > 0 && t.chunksDone() == t.chunks();
        StringBuilder s = new StringBuilder(t.table()).append(' ');
        if (done) {
            s.append(String.format("%,d rows, %s, done", t.rows(), bytes(t.bytes())));
        } else {
            s.append(String.format("%,d", t.rows()));
            if (t.estimatedRows() > 0) {
                s.append(String.format(" of ~%,d rows (%d%%)", t.estimatedRows(), Math.min(100, 100 * t.rows() / t.estimatedRows())));
            } else {
                s.append(" rows");
            }
            s.append(String.format(", %s, %,.0f rows/s", bytes(t.bytes()), rowsPerSecond));
            if (t.estimatedRows() > 0 && rowsPerSecond > 0) {
                long left = t.estimatedRows() - t.rows();
                s.append(left <= 0 ? ", ETA soon" : String.format(", ETA %,d s", (long) Math.ceil(left / rowsPerSecond)));
            }
            s.append(String.format(", chunk %d of %d", t.chunksDone(), t.chunks()));
        }
        if (t.deadLettered() > 0) {
            s.append(String.format(", %,d dead-lettered", t.deadLettered()));
        }
        return s.toString();
    }

    private static String bytes(long b) {
        return b >= 1 << 20 ? String.format("%.1f MB", b / 1048576.0) : String.format("%.1f kB", b / 1024.0);
    }
}

package dev.understudy.schemas;

import java.util.Objects;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Named points in the stages where a test can stop the process: halt it as a SIGKILL would, or pause
 * the thread that reached the point until the test lets it go. Crashes and races are then placed
 * where they are most dangerous (between a database commit and the Kafka offset commit, right after
 * a batch was acknowledged, ...) rather than only at random times. Ghostferry's test harness stops
 * its ferry at named points the same way.
 * <p>
 * Each stage reaches its points through {@link #reach}; with no listener that is one volatile read.
 * A listener comes from the system property {@value #PROPERTY} ({@code name} or {@code name:hit},
 * e.g. {@code -Dunderstudy.kill.at=writer.batch.committed:3}: halt the third time the writer passes
 * it), or from a test in the same JVM through {@link #install}. A halt is {@link Runtime#halt} with
 * exit code {@value #EXIT_CODE}: no shutdown hook runs, no buffer is flushed, no consumer leaves its
 * group, and the code tells the caller that the named point, not something else, stopped it.
 */
public final class PausePoints {
    /** The system property naming the point to halt at: {@code name} or {@code name:hit}. */
    public static final String PROPERTY = "understudy.kill.at";
    /** The exit code of a process that halted at its point. */
    public static final int EXIT_CODE = 86;

    // Capture.
    /** After Kafka acknowledged every record of a capture batch, before its source offsets are marked processed. */
    public static final String CAPTURE_BATCH_ACKNOWLEDGED = "capture.batch.acknowledged";
    /**
     * {@link #CAPTURE_BATCH_ACKNOWLEDGED} as one capture reaches it, right after the general point:
     * the point's name, a dot and the capture's topic family ({@code legacy} or {@code target}), so that
     * a test can hold one capture while the other goes on.
     */
    public static String captureBatchAcknowledged(String family) {
        return CAPTURE_BATCH_ACKNOWLEDGED + "." + family;
    }

    /** After a capture batch's source offsets were marked processed (Debezium flushes them to the offsets topic later). */
    public static final String CAPTURE_BATCH_MARKED = "capture.batch.marked";
    /** After a capture batch that carried incremental-snapshot rows or progress (a chunk) was acknowledged and recorded. */
    public static final String CAPTURE_SNAPSHOT_CHUNK = "capture.snapshot.chunk";

    // Writer.
    /** After the records of a writer batch were decoded, before anything is written to the target. */
    public static final String WRITER_DECODED = "writer.decoded";
    /** After a batch's rows and positions are written, before its database commit. */
    public static final String WRITER_BATCH_APPLIED = "writer.batch.applied";
    /** After the database commit of a batch that completes no source transaction, before the Kafka offset commit. */
    public static final String WRITER_BATCH_COMMITTED = "writer.batch.committed";
    /** After a batch's Kafka offset commit. */
    public static final String WRITER_OFFSETS_COMMITTED = "writer.offsets.committed";
    /** After a release batch's rows and positions are written, before its database commit. */
    public static final String WRITER_RELEASE_APPLIED = "writer.release.applied";
    /** After a release batch's database commit, before the Kafka offset commit. */
    public static final String WRITER_RELEASE_COMMITTED = "writer.release.committed";
    /** After the writer measured its partitions' ends for a commit order the watermark completed. */
    public static final String WRITER_RELEASE_BEGUN = "writer.release.begun";

    // Initial load (initial.load=bulk).
    /** After one chunk of a bulk initial load was committed to the target tables, its state records sent to Kafka. */
    public static final String LOAD_CHUNK_COMMITTED = "load.chunk.committed";
    /** After every chunk of a bulk initial load is in the target and its state acknowledged, before the load is recorded complete. */
    public static final String LOAD_DONE = "load.done";

    // Orchestration.
    /** After the transaction watermark moved, before the writer can act on it. */
    public static final String WATERMARK_ADVANCED = "watermark.advanced";
    /** After every stage of the pipeline started. */
    public static final String PIPELINE_STARTED = "pipeline.started";

    /** What happens when a thread reaches a point. */
    @FunctionalInterface
    public interface Listener {
        void reached(String point);
    }

    private static volatile Listener listener = fromProperty(System.getProperty(PROPERTY, ""));

    private PausePoints() {
    }

    /** Called by the stages at each named point. */
    public static void reach(String point) {
        Listener l = listener;
        if (l != null) {
            l.reached(point);
        }
    }

    /** Makes {@code l} the listener until the returned handle is closed, which restores the previous one. */
    public static AutoCloseable install(Listener l) {
        Listener previous = listener;
        listener = l;
        return () -> listener = previous;
    }

    /** A listener that halts the process the {@code hit}-th time {@code point} is reached. */
    public static Listener haltAt(String point, int hit) {
        Objects.requireNonNull(point);
        AtomicInteger hits = new AtomicInteger();
        return reached -> {
            if (point.equals(reached)) {
                int n = hits.incrementAndGet();
                if (n == hit) {
                    System.err.println("understudy: halting at pause point " + reached + " (hit " + n + ", -D" + PROPERTY + ")");
                    System.err.flush();
                    Runtime.getRuntime().halt(EXIT_CODE);
                }
            }
        };
    }

    /**
     * A listener that holds the thread reaching {@code point} for the {@code hit}-th time until
     * {@link Pause#release} (or {@code maxMillis} passed, so a failing test cannot hang the build);
     * {@link Pause#awaitReached} tells the test it is there.
     */
    public static Pause pauseAt(String point, int hit, long maxMillis) {
        return new Pause(point, hit, maxMillis);
    }

    /** A thread held at a point; see {@link #pauseAt}. */
    public static final class Pause implements Listener {
        private final String point;
        private final int hit;
        private final long maxMillis;
        private final AtomicInteger hits = new AtomicInteger();
        private final CountDownLatch reached = new CountDownLatch(1);
        private final CountDownLatch released = new CountDownLatch(1);

        private Pause(String point, int hit, long maxMillis) {
            this.point = Objects.requireNonNull(point);
            this.hit = hit;
            this.maxMillis = maxMillis;
        }

        @Override
        public void reached(String p) {
            if (point.equals(p) && hits.incrementAndGet() == hit) {
                reached.countDown();
                try {
                    released.await(maxMillis, TimeUnit.MILLISECONDS);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                }
            }
        }

        /** Whether a thread reached the point within {@code millis}. */
        public boolean awaitReached(long millis) throws InterruptedException {
            return reached.await(millis, TimeUnit.MILLISECONDS);
        }

        /** Lets the held thread go on. */
        public void release() {
            released.countDown();
        }
    }

    /** The listener {@code -D}{@value #PROPERTY} asks for, or null. */
    static Listener fromProperty(String spec) {
        String s = spec.trim();
        if (s.isEmpty()) {
            return null;
        }
        int colon = s.lastIndexOf(':');
        String name = s;
        int hit = 1;
        if (colon > 0) {
            name = s.substring(0, colon);
            try {
                hit = Integer.parseInt(s.substring(colon + 1).trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("-D" + PROPERTY + "=" + spec + ": the hit after ':' must be a whole number, e.g. "
                        + WRITER_BATCH_COMMITTED + ":3");
            }
        }
        return haltAt(name, Math.max(1, hit));
    }
}

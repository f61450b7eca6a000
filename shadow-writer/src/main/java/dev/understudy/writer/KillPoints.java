package dev.understudy.writer;

import java.util.concurrent.atomic.AtomicInteger;

/**
 * Named points at which a process halts itself on request, so that crash tests can stop the pipeline
 * exactly where a crash is most dangerous (between a database commit and the Kafka offset commit,
 * right after the transaction watermark moved, ...) rather than only at random times.
 * <p>
 * The system property {@value #PROPERTY} names one point, optionally with the hit at which to halt:
 * {@code -Dunderstudy.kill.at=writer.release.committed:3} halts at the third time the writer passes
 * that point. The process then ends with {@link Runtime#halt} and exit code {@value #EXIT_CODE}: no
 * shutdown hook runs, no buffer is flushed, no consumer leaves its group, like a SIGKILL, and the
 * code tells the caller that the named point, not something else, stopped it. Without the property
 * {@link #reach} is one volatile read.
 */
public final class KillPoints {
    /** The system property naming the point: {@code name} or {@code name:hit}. */
    public static final String PROPERTY = "understudy.kill.at";
    /** The exit code of a process that halted at its kill point. */
    public static final int EXIT_CODE = 86;

    /** After a release batch's rows and positions are written, before its database commit. */
    public static final String WRITER_RELEASE_APPLIED = "writer.release.applied";
    /** After a release batch's database commit, before the Kafka offset commit. */
    public static final String WRITER_RELEASE_COMMITTED = "writer.release.committed";
    /** After the database commit of a batch that completes no source transaction, before the Kafka offset commit. */
    public static final String WRITER_BATCH_COMMITTED = "writer.batch.committed";
    /** After the writer measured its partitions' ends for a commit order the watermark completed. */
    public static final String WRITER_RELEASE_BEGUN = "writer.release.begun";
    /** After the transaction watermark moved, before the writer can act on it. */
    public static final String WATERMARK_ADVANCED = "watermark.advanced";
    /** After every stage of the pipeline started. */
    public static final String PIPELINE_STARTED = "pipeline.started";

    private static final String NAME;
    private static final int HIT;
    private static final AtomicInteger HITS = new AtomicInteger();

    static {
        String spec = System.getProperty(PROPERTY, "").trim();
        int colon = spec.lastIndexOf(':');
        String name = spec;
        int hit = 1;
        if (colon > 0) {
            name = spec.substring(0, colon);
            try {
                hit = Integer.parseInt(spec.substring(colon + 1).trim());
            } catch (NumberFormatException e) {
                throw new IllegalArgumentException("-D" + PROPERTY + "=" + spec + ": the hit after ':' must be a whole number, e.g. "
                        + WRITER_RELEASE_COMMITTED + ":3");
            }
        }
        NAME = name.isEmpty() ? null : name;
        HIT = Math.max(1, hit);
    }

    private KillPoints() {
    }

    /** Halts the process if {@code point} is the configured kill point and this is its configured hit. */
    public static void reach(String point) {
        if (NAME == null || !NAME.equals(point)) {
            return;
        }
        int n = HITS.incrementAndGet();
        if (n == HIT) {
            System.err.println("understudy: halting at kill point " + point + " (hit " + n + ", -D" + PROPERTY + ")");
            System.err.flush();
            Runtime.getRuntime().halt(EXIT_CODE);
        }
    }
}

package dev.understudy.transform;

/**
 * How far the shadow writer has applied each new-schema partition, and the capture of the target has
 * delivered what it applied (the writer's stored positions, written in the same transaction as the
 * rows and captured with them). The comparison uses it to tell a key that is merely in flight (the
 * change that produced its expected row is not applied, or not yet on the target change topic:
 * PENDING) from one the target got wrong (delivered, and still different: DIVERGED).
 * <p>
 * Implementations are shared by all comparison tasks of a process and must be thread-safe and cheap:
 * they answer from memory, refreshed in the background.
 */
@FunctionalInterface
public interface WriterProgress {
    /** The writer has not been seen past the offset yet. */
    long NOT_APPLIED = -1;

    /**
     * When the writer was first seen past {@code offset} of {@code topic}[{@code partition}], that is
     * with that record applied (or dead-lettered, or superseded by a later change of its key) and its
     * effect delivered: wall-clock milliseconds since the epoch, or {@link #NOT_APPLIED}.
     */
    long appliedAtMs(String topic, int partition, long offset);

    /**
     * How far the target capture had produced to {@code targetTopic}[{@code partition}] when it
     * delivered the writer's application of {@code offset} of {@code topic}[{@code partition}]: every
     * target change the writer made up to that offset lies at or below the returned offset of that
     * partition (the two topics are partitioned alike). -1 when it had produced nothing there, or
     * when this progress does not know (then only {@link #appliedAtMs} aligns).
     */
    default long targetOffsetAt(String topic, int partition, long offset, String targetTopic) {
        return -1L;
    }
}

package dev.understudy.dlq;

/**
 * The offsets of one partition a read covered: from {@code start} (inclusive) to {@code end}
 * (exclusive), the partition's end offset when the read began.
 */
public record OffsetRange(long start, long end) {
    /** Whether the range holds no offset. */
    public boolean isEmpty() {
        return start >= end;
    }

    /** {@code offsets 3..7}, or {@code none}. */
    @Override
    public String toString() {
        return isEmpty() ? "none" : "offsets " + start + ".." + (end - 1);
    }
}

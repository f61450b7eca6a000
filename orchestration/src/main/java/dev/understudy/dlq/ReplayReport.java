package dev.understudy.dlq;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a replay of the dead-letter topic does ({@link DeadLetterReplay#plan}): the letters it
 * re-produces, those it leaves and why, and the range of the topic it covered.
 *
 * @param topic    the dead-letter topic
 * @param replayed the letters to re-produce (replayed by {@link DeadLetterReplay#replay}), in the order they failed
 * @param skipped  the letters left, in the order they were decided
 * @param covered  per partition in partition order, the dead-letter offsets read
 */
public record ReplayReport(String topic, List<DeadLetter> replayed, List<Skip> skipped, Map<Integer, OffsetRange> covered) {
    public ReplayReport {
        replayed = List.copyOf(replayed);
        skipped = List.copyOf(skipped);
        covered = Collections.unmodifiableMap(new TreeMap<>(covered));
    }

    /**
     * A letter not replayed.
     *
     * @param kind   what it is counted as: the reason, or {@link DeadLetterReplay#SUPERSEDED} for every superseded letter
     * @param reason why, with the coordinates of what it was superseded by
     */
    public record Skip(DeadLetter letter, String kind, String reason) {
    }

    /** Replayed letters per table, sorted by table. */
    public Map<String, Long> replayedByTable() {
        Map<String, Long> out = new TreeMap<>();
        replayed.forEach(l -> out.merge(l.table() == null ? "(unknown)" : l.table(), 1L, Long::sum));
        return out;
    }

    /** Skipped letters per {@link Skip#kind()}, sorted by kind. */
    public Map<String, Long> skippedByKind() {
        Map<String, Long> out = new TreeMap<>();
        skipped.forEach(s -> out.merge(s.kind(), 1L, Long::sum));
        return out;
    }

    /** Whether letters of the transform were left (they need the transform, see {@link DeadLetterReplay#TRANSFORM_REASON}). */
    public boolean skippedTransformLetters() {
        return skipped.stream().anyMatch(s -> DeadLetterReplay.TRANSFORM_REASON.equals(s.kind()));
    }

    /** The offsets covered, as {@code partition 0 offsets 3..7, partition 1 none}. */
    public String describeCovered() {
        List<String> parts = new ArrayList<>();
        covered.forEach((p, r) -> parts.add("partition " + p + " " + r));
        return String.join(", ", parts);
    }

    /**
     * The {@code --from-offset} that continues after this replay, {@code P:N,...}: the end of every
     * partition, so that a later replay from there sees only dead letters written after this one.
     */
    public String nextFromOffset() {
        return StartOffsets.after(covered).toString();
    }
}

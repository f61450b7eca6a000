package dev.understudy.dlq;

import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * What a read of the dead-letter topic found.
 *
 * @param topic   the dead-letter topic
 * @param letters the letters read that were asked for, partition by partition in the order polled
 * @param covered per partition in partition order, the offsets read (up to the end offset of each when the read began)
 */
public record DeadLetterRange(String topic, List<DeadLetter> letters, Map<Integer, OffsetRange> covered) {
    public DeadLetterRange {
        letters = List.copyOf(letters);
        // By partition, the order they are reported in.
        covered = Collections.unmodifiableMap(new TreeMap<>(covered));
    }

    /** The letters in the order they failed ({@link DeadLetter#CHRONOLOGICAL}). */
    public List<DeadLetter> chronological() {
        return letters.stream().sorted(DeadLetter.CHRONOLOGICAL).toList();
    }
}

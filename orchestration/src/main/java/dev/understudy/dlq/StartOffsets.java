package dev.understudy.dlq;

import java.util.Map;
import java.util.TreeMap;
import java.util.stream.Collectors;

/**
 * Where a read of the dead-letter topic starts: one offset for every partition, or one per
 * partition (the others from their start), or the start of every partition. Written {@code N} or
 * {@code P:N[,P:N...]}, the form {@link ReplayReport#nextFromOffset()} prints.
 *
 * @param everyPartition the offset for every partition, or null
 * @param perPartition   offsets by partition (used when {@code everyPartition} is null)
 */
public record StartOffsets(Long everyPartition, Map<Integer, Long> perPartition) {
    /** From the start of every partition. */
    public static final StartOffsets FROM_START = new StartOffsets(null, Map.of());

    public StartOffsets {
        perPartition = Map.copyOf(perPartition);
    }

    /** Parses {@code N} or {@code P:N,...}; {@link #FROM_START} for null or blank text. */
    public static StartOffsets parse(String text) {
        if (text == null || text.isBlank()) {
            return FROM_START;
        }
        try {
            if (!text.contains(":")) {
                return new StartOffsets(Long.parseLong(text.trim()), Map.of());
            }
            Map<Integer, Long> perPartition = new TreeMap<>();
            for (String part : text.split(",")) {
                String[] pn = part.trim().split(":");
                perPartition.put(Integer.parseInt(pn[0].trim()), Long.parseLong(pn[1].trim()));
            }
            return new StartOffsets(null, perPartition);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("--from-offset '" + text + "' is neither N nor P:N[,P:N...] (e.g. 0:12,1:7)");
        }
    }

    /**
     * The end of every covered partition: a read from there sees only what was written after the read
     * that covered {@code covered}.
     */
    public static StartOffsets after(Map<Integer, OffsetRange> covered) {
        return new StartOffsets(null, covered.entrySet().stream().collect(Collectors.toMap(Map.Entry::getKey, e -> e.getValue().end())));
    }

    /** The offset to start {@code partition} at, or null for its start. */
    public Long startOf(int partition) {
        return perPartition.getOrDefault(partition, everyPartition);
    }

    /** {@code N}, or {@code P:N,...} by partition, or the empty text for {@link #FROM_START}. */
    @Override
    public String toString() {
        if (everyPartition != null) {
            return everyPartition.toString();
        }
        return new TreeMap<>(perPartition).entrySet().stream().map(e -> e.getKey() + ":" + e.getValue()).collect(Collectors.joining(","));
    }
}

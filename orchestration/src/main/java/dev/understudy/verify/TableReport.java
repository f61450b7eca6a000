package dev.understudy.verify;

import java.util.List;

/**
 * What a verify found in one target table, VDiff-style plain counts with sample keys.
 *
 * @param processed   legacy rows the spec maps to this table (the expected rows)
 * @param targetRows  rows the target table holds
 * @param matching    keys on both sides with equal rows
 * @param mismatched  keys on both sides whose rows differ
 * @param missing     expected keys the target lacks
 * @param extra       target keys nothing expects
 * @param settled     keys that differed in the chunk pass but agreed when checked again at a later
 *                    position (changes in flight during the run); not counted as differences
 * @param snapshotLsn legacy WAL position of the snapshot the expected rows were read at
 * @param samples     up to a few keys (JSON objects) of each kind of difference
 */
public record TableReport(String table, long processed, long targetRows, long matching, long mismatched, long missing, long extra,
                          long settled, long snapshotLsn, long chunks, long chunksDiffering, long millis, Samples samples) {

    public record Samples(List<String> mismatched, List<String> missing, List<String> extra) {
    }

    public boolean clean() {
        return mismatched == 0 && missing == 0 && extra == 0;
    }

    public long differences() {
        return mismatched + missing + extra;
    }

    public double rowsPerSecond() {
        return millis == 0 ? 0 : (processed + targetRows) * 1000.0 / millis;
    }

    /** e.g. {@code public.users: 1,000,000 processed, 999,970 matching, 10 mismatched, 10 missing in target, 10 extra in target -> DIFFERENT}. */
    public String summary() {
        return String.format("%s: %,d processed, %,d matching, %,d mismatched, %,d missing in target, %,d extra in target%s -> %s",
                table, processed, matching, mismatched, missing, extra,
                settled == 0 ? "" : String.format(" (%,d more differed while in flight and then agreed)", settled),
                clean() ? "CLEAN" : "DIFFERENT");
    }
}

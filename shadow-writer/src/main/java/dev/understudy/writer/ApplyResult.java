package dev.understudy.writer;

import java.util.ArrayList;
import java.util.List;

/**
 * What applying a batch did.
 *
 * @param upserted    changes written as inserts or updates
 * @param deleted     deletes applied (a delete of a row that was already absent still counts: its
 *                    tombstone was recorded)
 * @param stale       changes skipped because the target already holds the same or a newer version
 * @param superseded  changes skipped because a newer change to the same key came later in the same batch
 * @param deadLetters changes the database refused permanently; the rest of the batch was applied
 */
public record ApplyResult(int upserted, int deleted, int stale, int superseded, List<DeadLetter> deadLetters) {

    public static final ApplyResult EMPTY = new ApplyResult(0, 0, 0, 0, List.of());

    public ApplyResult {
        deadLetters = List.copyOf(deadLetters);
    }

    /** Rows changed in the target: upserts plus deletes. */
    public int applied() {
        return upserted + deleted;
    }

    public ApplyResult plus(ApplyResult other) {
        List<DeadLetter> all = new ArrayList<>(deadLetters);
        all.addAll(other.deadLetters);
        return new ApplyResult(upserted + other.upserted, deleted + other.deleted, stale + other.stale,
                superseded + other.superseded, all);
    }
}

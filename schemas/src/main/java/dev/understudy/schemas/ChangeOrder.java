package dev.understudy.schemas;

import org.apache.kafka.common.header.Headers;

/**
 * The order of two changes of one target key, which the writer's guard, its batch collapse, the
 * comparison's expected rows and dead-letter replay all follow: by lineage, then version, then
 * joined version, then generation ({@link ChangeHeaders}), and at a tie a row before a tombstone.
 *
 * <p>Why version before generation: a new generation re-reads the legacy history from its start and
 * replays every key's older states. Ordered by generation first, each replayed state replaced the
 * newer row the previous generation had written, and readers of the target saw rows go back in time
 * until the re-read caught up (and the comparison reported them). Within one lineage the versions of
 * a key mean the same legacy changes in every generation, and the re-read ends, for every key, at or
 * above the version the previous generation applied ({@link ChangeHeaders#LINEAGE}): so an older
 * replayed state is dropped, the equal one replaces the previous generation's row (the new spec's
 * columns arrive), and nothing is lost. A new lineage outranks older ones whatever the versions.
 *
 * <p>Why the last rule: an UPDATE that changes a legacy primary key is one WAL record, which
 * Debezium emits as a delete of the old key and a create of the new key with the same LSN
 * (its "primary key change" events). When the target key is copied from other columns, both name
 * the same target key at the same version: the create is the state after the statement, so it must
 * win whichever of the two arrives last. Nothing else produces a row and a tombstone of one key at
 * one version and generation: a replay repeats the same change.
 *
 * @param delete whether the change is a tombstone
 */
public record ChangeOrder(long lineage, long version, long joinedVersion, long generation, boolean delete)
        implements Comparable<ChangeOrder> {

    /** The order of a record of a new-schema topic, from its headers; {@code Long.MIN_VALUE} for a missing version. */
    public static ChangeOrder of(Headers headers, boolean delete) {
        return new ChangeOrder(ChangeHeaders.getLong(headers, ChangeHeaders.LINEAGE, 0L),
                ChangeHeaders.getLong(headers, ChangeHeaders.VERSION, Long.MIN_VALUE),
                ChangeHeaders.getLong(headers, ChangeHeaders.JOINED_VERSION, 0L),
                ChangeHeaders.getLong(headers, ChangeHeaders.GENERATION, 0L), delete);
    }

    /** Positive when this change is newer than {@code other}. */
    @Override
    public int compareTo(ChangeOrder other) {
        int c = Long.compare(lineage, other.lineage);
        if (c == 0) {
            c = Long.compare(version, other.version);
        }
        if (c == 0) {
            c = Long.compare(joinedVersion, other.joinedVersion);
        }
        if (c == 0) {
            c = Long.compare(generation, other.generation);
        }
        return c != 0 ? c : Boolean.compare(other.delete, delete);
    }

    /** Whether this change is newer than {@code other}. */
    public boolean isAfter(ChangeOrder other) {
        return compareTo(other) > 0;
    }

}

package dev.understudy.schemas;

import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.List;

/**
 * Kafka headers carried by records on the new-schema topics, whose values are plain target rows
 * (or tombstones for deletes) so that any consumer reads them as the target table. The writer
 * needs the source position of each row to apply changes idempotently and never go backwards.
 */
public final class ChangeHeaders {
    /** Source WAL position of the change, 8-byte big-endian long. */
    public static final String LSN = "understudy.lsn";
    /**
     * Ordering version of the change for the target row: the LSN for streamed changes and 0 for
     * rows read by the initial snapshot. A snapshot row must lose against every streamed change:
     * a transaction that began before the snapshot point can write a row at an LSN below the
     * snapshot's yet commit after it, so its change is streamed later and must still win.
     * For one key, streamed LSNs increase in commit order, because PostgreSQL row locks (and the
     * unique-index wait for inserts) make a later writer of the same key wait for the earlier's commit.
     */
    public static final String VERSION = "understudy.version";
    /**
     * Second part of the ordering version, 8-byte big-endian long; absent means 0. Rows of a
     * foreign-key join target are versioned by their driving row's change ({@link #VERSION}) first
     * and by the joined row's change second: which legacy row a target key belongs to is decided
     * by the driving table alone, in its LSN order, so a joined row's later change may only order
     * results of one driving-row state, never outrank a later driving change of another row that
     * took the key over. Single-table rows leave it 0. The writer orders changes by
     * (lineage, version, joined version, generation), see {@link ChangeOrder}.
     */
    public static final String JOINED_VERSION = "understudy.joined_version";
    /**
     * Generation of the migration spec that produced the row, 8-byte big-endian long; absent means 0.
     * Each new spec version (a new {@code migration:} name) runs as the next generation and re-reads
     * the legacy topics from their start. Within one {@link #LINEAGE} its rows replace the earlier
     * generation's at an equal version and lose at a lower one, so the re-read never takes a row back
     * to an older state; across lineages they replace them whatever the versions.
     */
    public static final String GENERATION = "understudy.generation";
    /**
     * Lineage of the row's target key, 8-byte big-endian long; absent means 0. The versions of a
     * target key are comparable across generations only while the key comes from the same legacy
     * rows in the same way: the same source table, key columns copied from the same legacy columns,
     * the same join (joined table, foreign key, referenced column), and a backfill that re-reads the
     * history from the legacy topics rather than by a snapshot, whose reads are versioned 0. Then the
     * new generation replays the same LSNs, and for every key its last row is at or above the
     * (version, joined version) the previous generation applied: the joined version of one driving
     * state is the LSN of a change of the same joined row, the latest of which the re-read ends with.
     * So the writer orders by version before generation, and a backfill never shows a reader an older
     * state of a row than it saw before. A generation that changes any of these starts a new lineage,
     * numbered by itself ({@code MigrationGenerations} decides), and its rows replace every older
     * lineage's whatever their versions. The first lineage of a target is 0.
     */
    public static final String LINEAGE = "understudy.lineage";
    /**
     * Commit order of the source transaction ({@code source.commitOrder} of its change envelope),
     * 8-byte big-endian long; absent for snapshot rows. Equal for all rows one legacy transaction
     * produced, higher for every later commit; for a join row, the higher of its two sides'. It
     * tells which rows belong to transactions committed up to a point.
     */
    public static final String COMMIT_ORDER = "understudy.commit_order";
    /** Source transaction id, 8-byte big-endian long. */
    public static final String TX_ID = "understudy.txid";
    /** c, u, d or r, UTF-8. */
    public static final String OP = "understudy.op";

    private ChangeHeaders() {
    }

    /**
     * The headers of one record of a new-schema topic: every producer of those records builds them
     * here, so that the writer and the comparison read one vocabulary.
     *
     * @param txId        the source transaction id, or null when unknown
     * @param commitOrder the source transaction's commit order, or null for snapshot rows
     * @param op          c, u, d or r
     */
    public static Headers forRow(long version, long joinedVersion, long lsn, Stamp stamp, Long txId, Long commitOrder, String op) {
        Headers headers = new RecordHeaders();
        headers.add(VERSION, encodeLong(version));
        if (joinedVersion != 0) {
            headers.add(JOINED_VERSION, encodeLong(joinedVersion));
        }
        headers.add(LSN, encodeLong(lsn));
        addStamp(headers, stamp);
        if (txId != null) {
            headers.add(TX_ID, encodeLong(txId));
        }
        if (commitOrder != null) {
            headers.add(COMMIT_ORDER, encodeLong(commitOrder));
        }
        headers.add(OP, op.getBytes(StandardCharsets.UTF_8));
        return headers;
    }

    /**
     * The headers of a delete that no source change made: the generation sweep's removal of rows a
     * new generation no longer produces, and repair's removal of extra rows. They carry a version and
     * a generation for the writer's guard, and no LSN or transaction, since no legacy transaction made
     * them.
     */
    public static Headers forSyntheticDelete(long version, long joinedVersion, Stamp stamp) {
        Headers headers = new RecordHeaders();
        headers.add(VERSION, encodeLong(version));
        if (joinedVersion != 0) {
            headers.add(JOINED_VERSION, encodeLong(joinedVersion));
        }
        addStamp(headers, stamp);
        headers.add(OP, "d".getBytes(StandardCharsets.UTF_8));
        return headers;
    }

    /**
     * What a migration stamps on every row it emits for one target: its generation and the target's
     * lineage in that generation ({@link #GENERATION}, {@link #LINEAGE}).
     */
    public record Stamp(long generation, long lineage) {
        /** Generation 0, lineage 0: rows of producers that predate generations. */
        public static final Stamp NONE = new Stamp(0L, 0L);

        /** The stamp of a record, from its headers (0 for each one absent). */
        public static Stamp of(Headers headers) {
            return new Stamp(getLong(headers, GENERATION, 0L), getLong(headers, LINEAGE, 0L));
        }
    }

    private static void addStamp(Headers headers, Stamp stamp) {
        headers.add(GENERATION, encodeLong(stamp.generation()));
        if (stamp.lineage() != 0) {
            headers.add(LINEAGE, encodeLong(stamp.lineage()));
        }
    }

    /**
     * The headers a dead letter keeps of its change and a replay gives back: what orders the change
     * against the others of its key, and its source. Not the commit order: a replayed change is
     * applied on its own, long after its legacy transaction, so the writer must not hold it back
     * waiting for that transaction's other records.
     */
    public static final List<String> KEPT_BY_DEAD_LETTERS = List.of(VERSION, JOINED_VERSION, LSN, GENERATION, LINEAGE, OP, TX_ID);

    /** Adds the {@link #KEPT_BY_DEAD_LETTERS} headers present in {@code from} to {@code to}. */
    public static void copyKeptByDeadLetters(Headers from, Headers to) {
        for (String name : KEPT_BY_DEAD_LETTERS) {
            Header h = from.lastHeader(name);
            if (h != null && h.value() != null) {
                to.add(name, h.value());
            }
        }
    }

    /**
     * Adds to {@code headers} the ordering headers of a decoded change whose original headers are
     * gone: version, joined version, LSN (when known, not negative), generation and lineage.
     */
    public static void addDecodedChange(Headers headers, long version, long joinedVersion, long lsn, Stamp stamp) {
        headers.add(VERSION, encodeLong(version));
        if (joinedVersion != 0) {
            headers.add(JOINED_VERSION, encodeLong(joinedVersion));
        }
        if (lsn >= 0) {
            headers.add(LSN, encodeLong(lsn));
        }
        addStamp(headers, stamp);
    }

    public static byte[] encodeLong(long value) {
        return ByteBuffer.allocate(8).putLong(value).array();
    }

    /** The long in header {@code name}, or {@code fallback} when the header is absent. */
    public static long getLong(Headers headers, String name, long fallback) {
        Header h = headers.lastHeader(name);
        if (h == null || h.value() == null || h.value().length != 8) {
            return fallback;
        }
        return ByteBuffer.wrap(h.value()).getLong();
    }

    public static String getString(Headers headers, String name) {
        Header h = headers.lastHeader(name);
        return h == null || h.value() == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }
}

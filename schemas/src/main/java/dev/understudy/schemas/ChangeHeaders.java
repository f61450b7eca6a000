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
     * (generation, version, joined version).
     */
    public static final String JOINED_VERSION = "understudy.joined_version";
    /**
     * Generation of the migration spec that produced the row, 8-byte big-endian long; absent means 0.
     * Each new spec version (a new {@code migration:} name) runs as the next generation and re-reads
     * the legacy topics from their start, so its rows must replace the earlier generation's rows even
     * at an equal or lower {@link #VERSION}: the writer orders changes by (generation, version).
     * Versions are not comparable across generations, because a join's versions depend on the order
     * in which it happened to read its two topics.
     */
    public static final String GENERATION = "understudy.generation";
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
    public static Headers forRow(long version, long joinedVersion, long lsn, long generation, Long txId, Long commitOrder, String op) {
        Headers headers = new RecordHeaders();
        headers.add(VERSION, encodeLong(version));
        if (joinedVersion != 0) {
            headers.add(JOINED_VERSION, encodeLong(joinedVersion));
        }
        headers.add(LSN, encodeLong(lsn));
        headers.add(GENERATION, encodeLong(generation));
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
    public static Headers forSyntheticDelete(long version, long generation) {
        Headers headers = new RecordHeaders();
        headers.add(VERSION, encodeLong(version));
        headers.add(GENERATION, encodeLong(generation));
        headers.add(OP, "d".getBytes(StandardCharsets.UTF_8));
        return headers;
    }

    /**
     * The headers a dead letter keeps of its change and a replay gives back: what orders the change
     * against the others of its key, and its source. Not the commit order: a replayed change is
     * applied on its own, long after its legacy transaction, so the writer must not hold it back
     * waiting for that transaction's other records.
     */
    public static final List<String> KEPT_BY_DEAD_LETTERS = List.of(VERSION, JOINED_VERSION, LSN, GENERATION, OP, TX_ID);

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
     * gone: version, LSN (when known, not negative) and generation.
     */
    public static void addDecodedChange(Headers headers, long version, long lsn, long generation) {
        headers.add(VERSION, encodeLong(version));
        if (lsn >= 0) {
            headers.add(LSN, encodeLong(lsn));
        }
        headers.add(GENERATION, encodeLong(generation));
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

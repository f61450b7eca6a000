package dev.understudy.writer;

import dev.understudy.schemas.ChangeHeaders;
import org.apache.kafka.common.header.Headers;

/**
 * A record the writer could not apply and hands to the dead-letter topic, with everything needed
 * to find, fix and replay it.
 *
 * @param table           the target table the record was meant for
 * @param topic           the source topic of the record
 * @param partition       its partition
 * @param offset          its offset
 * @param version         its ordering version, or {@code Long.MIN_VALUE} (or -1) when it could not be read
 * @param lsn             its source LSN, or -1 when it could not be read
 * @param keyJson         its key as JSON, or null when the key could not be decoded
 * @param rawKey          the key bytes exactly as read
 * @param rawValue        the value bytes exactly as read (null for a tombstone)
 * @param sqlState        the SQLSTATE of the database error, or null when the record failed before reaching the database
 * @param error           what went wrong and what to do about it
 * @param failedAtMs      when the failure was seen, milliseconds since the epoch
 * @param stamp           its generation and lineage, or null when unknown (the record was not decoded)
 * @param joinedVersion   its joined version (0 for a single-table row or when unknown)
 * @param originalHeaders the headers of the record as read, or null when not at hand; a replay
 *                        re-produces them so the writer orders the change as it would have
 */
public record DeadLetter(String table, String topic, int partition, long offset, long version, long lsn,
                         String keyJson, byte[] rawKey, byte[] rawValue, String sqlState, String error,
                         long failedAtMs, ChangeHeaders.Stamp stamp, long joinedVersion, Headers originalHeaders) {

    /** A dead letter whose generation and original headers are unknown. */
    public DeadLetter(String table, String topic, int partition, long offset, long version, long lsn,
                      String keyJson, byte[] rawKey, byte[] rawValue, String sqlState, String error, long failedAtMs) {
        this(table, topic, partition, offset, version, lsn, keyJson, rawKey, rawValue, sqlState, error, failedAtMs, null, 0L, null);
    }

    /**
     * A change the database refused. Its order (version, joined version, generation, lineage) and LSN are known, so the dead-letter
     * record can carry the change headers a replay needs even without the original headers.
     */
    public static DeadLetter of(RowChange change, String sqlState, String error) {
        return new DeadLetter(change.table(), change.topic(), change.partition(), change.offset(), change.version(),
                change.lsn(), change.keyJson(), change.rawKey(), change.rawValue(), sqlState, error,
                System.currentTimeMillis(), change.stamp(), change.joinedVersion(), null);
    }

    /** This dead letter with the headers of the record it was read as. */
    public DeadLetter withOriginalHeaders(Headers headers) {
        return new DeadLetter(table, topic, partition, offset, version, lsn, keyJson, rawKey, rawValue, sqlState, error,
                failedAtMs, stamp, joinedVersion, headers);
    }

    /** {@code topic[partition]@offset}, for messages. */
    public String coordinates() {
        return topic + "[" + partition + "]@" + offset;
    }

    @Override
    public String toString() {
        return "DeadLetter[" + table + " " + keyJson + " from " + coordinates() + " version " + version
                + (sqlState == null ? "" : " SQLSTATE " + sqlState) + ": " + error + "]";
    }
}

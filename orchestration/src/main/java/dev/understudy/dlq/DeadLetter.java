package dev.understudy.dlq;

import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ChangeOrder;
import dev.understudy.schemas.DeadLetterFields;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;

import java.nio.charset.StandardCharsets;
import java.time.Instant;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.function.Predicate;

/**
 * One record of the dead-letter topic ({@link dev.understudy.schemas.Topics#deadLetter}), with what
 * its {@link DeadLetterFields} headers say, whichever stage wrote it.
 *
 * @param record        the dead-letter record itself: original key, value and change headers
 * @param stage         {@link DeadLetterFields#CAPTURE}, {@link DeadLetterFields#TRANSFORM}, {@link DeadLetterFields#WRITER},
 *                      or {@code unknown} for a record without dead-letter headers
 * @param table         the schema-qualified table, or null
 * @param key           the row's key as JSON, or null
 * @param originTopic   the topic the change was read from (capture: the legacy topic it was bound for), or null
 * @param originPartition its partition there, -1 when unknown or when it never reached that topic
 * @param originOffset  its offset there, -1 when unknown or when it never reached that topic
 * @param lsn           the source LSN, or null
 * @param version       the change's ordering version, or null
 * @param generation    the change's generation ({@link ChangeHeaders#GENERATION}, 0 without one)
 * @param joinedVersion the change's joined version ({@link ChangeHeaders#JOINED_VERSION}, 0 without one)
 * @param sqlState      the SQLSTATE of the target's refusal (writer), or null
 * @param error         the first line of the error, prefixed with the exception's simple name when one is named, or null
 * @param failedAtMs    when it was dead-lettered, epoch milliseconds, or null
 */
public record DeadLetter(ConsumerRecord<byte[], byte[]> record, String stage, String table, String key,
                         String originTopic, int originPartition, long originOffset, Long lsn, Long version,
                         long generation, long joinedVersion, String sqlState, String error, Long failedAtMs) {

    /** {@link #stage} of a record without dead-letter headers: not written by a stage of the pipeline. */
    public static final String UNKNOWN_STAGE = "unknown";

    /** By failure time (the record time for letters without one), then dead-letter partition and offset. */
    public static final Comparator<DeadLetter> CHRONOLOGICAL = Comparator
            .comparingLong((DeadLetter l) -> l.failedAtMs != null ? l.failedAtMs : l.record.timestamp())
            .thenComparingInt(DeadLetter::dlqPartition).thenComparingLong(DeadLetter::dlqOffset);

    /** Decodes a record of the dead-letter topic of pipeline {@code prefix} (the prefix of its topics). */
    public static DeadLetter decode(ConsumerRecord<byte[], byte[]> r, String prefix) {
        Headers h = r.headers();
        long generation = ChangeHeaders.getLong(h, ChangeHeaders.GENERATION, 0);
        long joinedVersion = ChangeHeaders.getLong(h, ChangeHeaders.JOINED_VERSION, 0);
        if (h.lastHeader(DeadLetterFields.TOPIC) == null) {
            return new DeadLetter(r, UNKNOWN_STAGE, null, null, null, -1, -1, null, null, generation, joinedVersion, null, null, null);
        }
        String named = text(h, DeadLetterFields.STAGE);
        // Writer letters from before the stage header was written carry none.
        String stage = named == null ? DeadLetterFields.WRITER : named;
        String table = text(h, DeadLetterFields.TABLE);
        String topic = text(h, DeadLetterFields.TOPIC);
        Long lsn = optional(h, DeadLetterFields.LSN);
        Long version = optional(h, DeadLetterFields.VERSION);
        String error = text(h, DeadLetterFields.ERROR);
        String exception = text(h, DeadLetterFields.EXCEPTION);
        if (exception != null) {
            error = exception.substring(exception.lastIndexOf('.') + 1) + ": " + error;
        }
        if (DeadLetterFields.TRANSFORM.equals(stage)) {
            // The transform keeps the record as it was: its table is the topic's, and its
            // position is in the change headers it carried.
            table = table == null ? tableOf(topic, prefix) : table;
            long v = ChangeHeaders.getLong(h, ChangeHeaders.VERSION, Long.MIN_VALUE);
            if (version == null && v != Long.MIN_VALUE) {
                version = v;
            }
            long lsnValue = ChangeHeaders.getLong(h, ChangeHeaders.LSN, -1);
            if (lsn == null && lsnValue >= 0) {
                lsn = lsnValue;
            }
        }
        if (error != null && error.indexOf('\n') >= 0) {
            // The rest is the stack or the detail; one line per letter keeps the list readable.
            error = error.substring(0, error.indexOf('\n'));
        }
        return new DeadLetter(r, stage, table, text(h, DeadLetterFields.KEY), topic, (int) number(h, DeadLetterFields.PARTITION, -1),
                number(h, DeadLetterFields.OFFSET, -1), lsn, version, generation, joinedVersion, text(h, DeadLetterFields.SQLSTATE),
                error, optional(h, DeadLetterFields.FAILED_AT_MS));
    }

    /**
     * Letters of {@code table} ({@code public.users}, or just {@code users} for that table in any
     * schema); every letter when {@code table} is null.
     */
    public static Predicate<DeadLetter> ofTable(String table) {
        if (table == null) {
            return l -> true;
        }
        return l -> table.equals(l.table) || (l.table != null && !table.contains(".") && l.table.endsWith("." + table));
    }

    /** Its partition of the dead-letter topic. */
    public int dlqPartition() {
        return record.partition();
    }

    /** Its offset in the dead-letter topic. */
    public long dlqOffset() {
        return record.offset();
    }

    /** The same letter with {@code key} as its key. */
    public DeadLetter withKey(String key) {
        return new DeadLetter(record, stage, table, key, originTopic, originPartition, originOffset, lsn, version, generation,
                joinedVersion, sqlState, error, failedAtMs);
    }

    /** The dead-lettered change's order; an unknown version is the oldest. */
    public ChangeOrder order() {
        long lineage = ChangeHeaders.getLong(record.headers(), ChangeHeaders.LINEAGE, 0L);
        return new ChangeOrder(lineage, version == null ? Long.MIN_VALUE : version, joinedVersion, generation, record.value() == null);
    }

    /** Where the change came from, {@code topic[partition]@offset}, or {@code -}. */
    public String origin() {
        return originTopic == null ? "-" : originTopic + "[" + originPartition + "]@" + originOffset;
    }

    /**
     * One line: dlq partition@offset, failure time, stage, table, key, origin, LSN, version (and
     * generation), SQLSTATE and error; {@code -} for what the letter does not say.
     */
    public String line() {
        return String.format("dlq %d@%d  %s  %-7s  %s  key %s  from %s  lsn %s  version %s  sqlstate %s  %s",
                dlqPartition(), dlqOffset(), failedAtMs == null ? "-" : Instant.ofEpochMilli(failedAtMs), stage,
                table == null ? "-" : table, key == null ? "-" : key, origin(), lsn == null ? "-" : lsn,
                version == null ? "-" : version + (generation != 0 ? " (generation " + generation + ")" : ""),
                sqlState == null ? "-" : sqlState, error == null ? "-" : error);
    }

    /** The letter as named fields in a fixed order ({@code "type":"dead_letter"} first), nulls included: one JSON object. */
    public Map<String, Object> fields() {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "dead_letter");
        m.put("dlq_partition", dlqPartition());
        m.put("dlq_offset", dlqOffset());
        m.put("failed_at", failedAtMs == null ? null : Instant.ofEpochMilli(failedAtMs).toString());
        m.put("stage", stage);
        m.put("table", table);
        m.put("key", key);
        m.put("topic", originTopic);
        m.put("partition", originPartition);
        m.put("offset", originOffset);
        m.put("lsn", lsn);
        m.put("version", version);
        m.put("generation", generation);
        m.put("sqlstate", sqlState);
        m.put("error", error);
        return m;
    }

    /** The schema-qualified table in a topic name {@code <prefix>.<kind>.<schema>.<table>}, or null. */
    static String tableOf(String topic, String prefix) {
        if (topic == null || !topic.startsWith(prefix + ".")) {
            return null;
        }
        String rest = topic.substring(prefix.length() + 1);
        int dot = rest.indexOf('.');
        return dot < 0 || rest.indexOf('.', dot + 1) < 0 ? null : rest.substring(dot + 1);
    }

    private static String text(Headers h, String name) {
        Header header = h.lastHeader(name);
        return header == null || header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    /** A number header, or null when absent or not a number (a letter is listed even with a damaged header). */
    private static Long optional(Headers h, String name) {
        String t = text(h, name);
        try {
            return t == null ? null : Long.parseLong(t.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static long number(Headers h, String name, long fallback) {
        Long v = optional(h, name);
        return v == null ? fallback : v;
    }
}

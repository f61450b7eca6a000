package dev.understudy.dlq;

import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.DeadLetterFields;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A dead letter decoded from the headers each stage writes ({@link DeadLetterFields}), and what the
 * replay makes of it; records built by hand, no broker.
 */
class DeadLetterTest {
    private static final String PREFIX = "understudy";
    private static final long FAILED_AT = 1_700_000_000_000L;

    @Test
    void aCaptureLetterNamesTheLegacyChangeAndIsNotReplayable() {
        Headers h = new RecordHeaders();
        text(h, DeadLetterFields.TOPIC, "understudy.legacy.public.events");
        text(h, DeadLetterFields.PARTITION, "-1");
        text(h, DeadLetterFields.OFFSET, "-1");
        text(h, DeadLetterFields.LSN, "4242");
        text(h, DeadLetterFields.TABLE, "public.events");
        text(h, DeadLetterFields.KEY, "{\"id\":\"9\"}");
        text(h, DeadLetterFields.COLUMN, "at");
        text(h, DeadLetterFields.STAGE, DeadLetterFields.CAPTURE);
        text(h, DeadLetterFields.ERROR, "timestamp 294250-01-01 does not fit a long\nat column at");
        text(h, DeadLetterFields.FAILED_AT_MS, Long.toString(FAILED_AT));

        DeadLetter l = DeadLetter.decode(record(0, 3, h), PREFIX);

        assertEquals(DeadLetterFields.CAPTURE, l.stage());
        assertEquals("public.events", l.table());
        assertEquals("{\"id\":\"9\"}", l.key());
        assertEquals("understudy.legacy.public.events[-1]@-1", l.origin());
        assertEquals(4242L, l.lsn());
        assertNull(l.version());
        assertNull(l.sqlState());
        assertEquals("timestamp 294250-01-01 does not fit a long", l.error(), "only the first line");
        assertEquals(FAILED_AT, l.failedAtMs());
        assertTrue(DeadLetterReplay.unreplayable(l, PREFIX).orElseThrow().startsWith("the capture could not convert the legacy change"));
    }

    @Test
    void aTransformLetterTakesItsTableFromTheTopicAndItsPositionFromTheChangeHeaders() {
        Headers h = new RecordHeaders();
        h.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(77));
        h.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(88));
        text(h, DeadLetterFields.STAGE, DeadLetterFields.TRANSFORM);
        text(h, DeadLetterFields.TOPIC, "understudy.legacy.public.users");
        text(h, DeadLetterFields.PARTITION, "0");
        text(h, DeadLetterFields.OFFSET, "7");
        text(h, DeadLetterFields.EXCEPTION, "dev.understudy.transform.internals.MalformedChangeException");
        text(h, DeadLetterFields.ERROR, "envelope has no 'after'\nsecond line");

        DeadLetter l = DeadLetter.decode(record(1, 5, h), PREFIX);

        assertEquals(DeadLetterFields.TRANSFORM, l.stage());
        assertEquals("public.users", l.table());
        assertEquals("understudy.legacy.public.users[0]@7", l.origin());
        assertEquals(77L, l.version());
        assertEquals(88L, l.lsn());
        assertEquals("MalformedChangeException: envelope has no 'after'", l.error());
        assertNull(l.failedAtMs());
        assertEquals(Optional.of(DeadLetterReplay.TRANSFORM_REASON), DeadLetterReplay.unreplayable(l, PREFIX));
        assertTrue(l.line().endsWith("MalformedChangeException: envelope has no 'after'"), l.line());
    }

    @Test
    void aWriterLetterCarriesItsCoordinatesAndIsReplayable() {
        DeadLetter l = DeadLetter.decode(record(2, 11, writerHeaders("understudy.new.public.users", true)), PREFIX);

        assertEquals(DeadLetterFields.WRITER, l.stage());
        assertEquals(2, l.dlqPartition());
        assertEquals(11L, l.dlqOffset());
        assertEquals("public.users", l.table());
        assertEquals("{\"id\":42}", l.key());
        assertEquals("understudy.new.public.users", l.originTopic());
        assertEquals(1, l.originPartition());
        assertEquals(15L, l.originOffset());
        assertEquals(123L, l.lsn());
        assertEquals(123L, l.version());
        assertEquals(2L, l.generation());
        assertEquals("23514", l.sqlState());
        assertEquals("new row violates check constraint \"users_not_rejected\"", l.error());
        assertEquals(Optional.empty(), DeadLetterReplay.unreplayable(l, PREFIX));
        assertEquals("dlq 2@11  " + java.time.Instant.ofEpochMilli(FAILED_AT) + "  writer   public.users  key {\"id\":42}  "
                + "from understudy.new.public.users[1]@15  lsn 123  version 123 (generation 2)  sqlstate 23514  "
                + "new row violates check constraint \"users_not_rejected\"", l.line());
        Map<String, Object> fields = l.fields();
        assertEquals(List.of("type", "dlq_partition", "dlq_offset", "failed_at", "stage", "table", "key", "topic", "partition", "offset",
                "lsn", "version", "generation", "sqlstate", "error"), List.copyOf(fields.keySet()));
        assertEquals("dead_letter", fields.get("type"));
        assertEquals(15L, fields.get("offset"));
    }

    @Test
    void aWriterLetterWithoutAStageHeaderIsTheWritersAsBeforeTheHeaderExisted() {
        Headers h = writerHeaders("understudy.new.public.users", true);
        h.remove(DeadLetterFields.STAGE);
        assertEquals(DeadLetterFields.WRITER, DeadLetter.decode(record(0, 0, h), PREFIX).stage());
    }

    @Test
    void aRecordWithoutDeadLetterHeadersIsListedButNotReplayed() {
        DeadLetter l = DeadLetter.decode(record(0, 1, new RecordHeaders()), PREFIX);

        assertEquals(DeadLetter.UNKNOWN_STAGE, l.stage());
        assertNull(l.table());
        assertNull(l.originTopic());
        assertEquals(-1, l.originPartition());
        assertEquals("-", l.origin());
        assertNull(l.error());
        assertEquals(Optional.of("not written by understudy (no dead-letter headers)"), DeadLetterReplay.unreplayable(l, PREFIX));
    }

    @Test
    void aWriterLetterIsReplayableOnlyToANewSchemaTopicOfThePipelineWithItsChangeHeaders() {
        DeadLetter otherPipeline = DeadLetter.decode(record(0, 0, writerHeaders("other.new.public.users", true)), PREFIX);
        assertEquals(Optional.of("original topic is not a new-schema topic of pipeline understudy"),
                DeadLetterReplay.unreplayable(otherPipeline, PREFIX));

        Headers unknownOffset = writerHeaders("understudy.new.public.users", true);
        unknownOffset.remove(DeadLetterFields.OFFSET);
        assertEquals(Optional.of("original topic is not a new-schema topic of pipeline understudy"),
                DeadLetterReplay.unreplayable(DeadLetter.decode(record(0, 0, unknownOffset), PREFIX), PREFIX));

        DeadLetter headerless = DeadLetter.decode(record(0, 0, writerHeaders("understudy.new.public.users", false)), PREFIX);
        assertEquals(Optional.of("no change headers (dead-lettered before they were kept, or the record had no valid version)"),
                DeadLetterReplay.unreplayable(headerless, PREFIX));
    }

    @Test
    void aLaterRecordOfTheKeyAtTheSameOrAHigherOrderSupersedesTheLetter() {
        DeadLetter l = DeadLetter.decode(record(0, 0, writerHeaders("understudy.new.public.users", true)), PREFIX);
        // The letter: version 123 of generation 2, lineage 0. A later generation's re-read of an older
        // change does not supersede it; a new lineage does, whatever its version.
        var older = new DeadLetterReplay.LaterRecord(16, new dev.understudy.schemas.ChangeOrder(0, 122, 0, 3, false));
        var before = new DeadLetterReplay.LaterRecord(15, l.order());
        var replayOfIt = new DeadLetterReplay.LaterRecord(20, l.order());
        var newer = new DeadLetterReplay.LaterRecord(18, new dev.understudy.schemas.ChangeOrder(3, 1, 0, 3, false));

        assertEquals(Optional.empty(), DeadLetterReplay.supersededAt(l, List.of(before, older)),
                "the letter's own record and an older change do not supersede it");
        assertEquals(Optional.of(20L), DeadLetterReplay.supersededAt(l, List.of(before, older, replayOfIt)));
        assertEquals(Optional.of(18L), DeadLetterReplay.supersededAt(l, List.of(older, newer, replayOfIt)));
    }

    @Test
    void lettersAreSelectedByQualifiedOrBareTableName() {
        DeadLetter l = DeadLetter.decode(record(0, 0, writerHeaders("understudy.new.public.users", true)), PREFIX);
        assertTrue(DeadLetter.ofTable(null).test(l));
        assertTrue(DeadLetter.ofTable("public.users").test(l));
        assertTrue(DeadLetter.ofTable("users").test(l));
        assertFalse(DeadLetter.ofTable("sers").test(l));
        assertFalse(DeadLetter.ofTable("other.users").test(l));
        assertFalse(DeadLetter.ofTable("users").test(DeadLetter.decode(record(0, 0, new RecordHeaders()), PREFIX)));
    }

    @Test
    void lettersOrderByFailureTimeThenTheRecordTimeThenDeadLetterPosition() {
        Headers early = writerHeaders("understudy.new.public.users", true);
        early.remove(DeadLetterFields.FAILED_AT_MS);
        text(early, DeadLetterFields.FAILED_AT_MS, Long.toString(FAILED_AT - 1));
        DeadLetter first = DeadLetter.decode(record(1, 9, early), PREFIX);
        DeadLetter second = DeadLetter.decode(record(0, 4, writerHeaders("understudy.new.public.users", true)), PREFIX);
        DeadLetter third = DeadLetter.decode(record(1, 2, writerHeaders("understudy.new.public.users", true)), PREFIX);
        DeadLetterRange range = new DeadLetterRange("understudy.dlq", List.of(third, second, first), Map.of(0, new OffsetRange(0, 5)));
        assertEquals(List.of(first, second, third), range.chronological());
    }

    @Test
    void fromOffsetsParseAndTheReportNamesTheOffsetThatContinues() {
        assertEquals(StartOffsets.FROM_START, StartOffsets.parse(null));
        assertEquals(12L, StartOffsets.parse("12").startOf(3));
        StartOffsets perPartition = StartOffsets.parse("0:12, 1:7");
        assertEquals(12L, perPartition.startOf(0));
        assertEquals(7L, perPartition.startOf(1));
        assertNull(perPartition.startOf(2));
        IllegalArgumentException e = org.junit.jupiter.api.Assertions.assertThrows(IllegalArgumentException.class,
                () -> StartOffsets.parse("0:x"));
        assertEquals("--from-offset '0:x' is neither N nor P:N[,P:N...] (e.g. 0:12,1:7)", e.getMessage());

        ReplayReport report = new ReplayReport("understudy.dlq", List.of(), List.of(),
                Map.of(1, new OffsetRange(4, 4), 0, new OffsetRange(3, 8)));
        assertEquals("partition 0 offsets 3..7, partition 1 none", report.describeCovered());
        assertEquals("0:8,1:4", report.nextFromOffset());
        assertEquals(StartOffsets.parse(report.nextFromOffset()), StartOffsets.after(report.covered()));
    }

    /** What the writer writes ({@code DeadLetterPublisher.toRecord}): the original change headers, then the dead-letter fields. */
    private static Headers writerHeaders(String topic, boolean changeHeaders) {
        Headers h = new RecordHeaders();
        if (changeHeaders) {
            h.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(123));
            h.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(123));
            h.add(ChangeHeaders.GENERATION, ChangeHeaders.encodeLong(2));
        }
        text(h, DeadLetterFields.STAGE, DeadLetterFields.WRITER);
        text(h, DeadLetterFields.TOPIC, topic);
        text(h, DeadLetterFields.PARTITION, "1");
        text(h, DeadLetterFields.OFFSET, "15");
        text(h, DeadLetterFields.LSN, "123");
        text(h, DeadLetterFields.VERSION, "123");
        text(h, DeadLetterFields.TABLE, "public.users");
        text(h, DeadLetterFields.KEY, "{\"id\":42}");
        text(h, DeadLetterFields.SQLSTATE, "23514");
        text(h, DeadLetterFields.ERROR, "new row violates check constraint \"users_not_rejected\"\nDetail: Failing row contains (42, Rejected one).");
        text(h, DeadLetterFields.FAILED_AT_MS, Long.toString(FAILED_AT));
        return h;
    }

    private static ConsumerRecord<byte[], byte[]> record(int partition, long offset, Headers headers) {
        byte[] key = {1};
        byte[] value = {2};
        return new ConsumerRecord<>("understudy.dlq", partition, offset, FAILED_AT + 5, TimestampType.CREATE_TIME, key.length, value.length,
                key, value, headers, Optional.empty());
    }

    private static void text(Headers h, String name, String value) {
        h.add(name, value.getBytes(StandardCharsets.UTF_8));
    }
}

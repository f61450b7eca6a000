package dev.understudy.writer;

import dev.understudy.schemas.ChangeHeaders;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class DeadLetterPublisherTest {

    private static String header(ProducerRecord<byte[], byte[]> r, String name) {
        Header h = r.headers().lastHeader(name);
        return h == null ? null : new String(h.value(), StandardCharsets.UTF_8);
    }

    @Test
    void carriesTheOriginalBytesAndTheCoordinates() {
        byte[] key = {0, 0, 0, 0, 1, 2};
        byte[] value = {0, 0, 0, 0, 2, 4};
        DeadLetter dl = new DeadLetter("public.users", "understudy.new.public.users", 3, 1234L, 99L, 98L, "{\"id\":1}",
                key, value, "23502", "null value in column \"email\"", 1_700_000_000_000L);
        ProducerRecord<byte[], byte[]> r = DeadLetterPublisher.toRecord("understudy.dlq", dl);
        assertEquals("understudy.dlq", r.topic());
        assertArrayEquals(key, r.key());
        assertArrayEquals(value, r.value());
        assertEquals("understudy.new.public.users", header(r, DeadLetterPublisher.TOPIC));
        assertEquals("3", header(r, DeadLetterPublisher.PARTITION));
        assertEquals("1234", header(r, DeadLetterPublisher.OFFSET));
        assertEquals("98", header(r, DeadLetterPublisher.LSN));
        assertEquals("99", header(r, DeadLetterPublisher.VERSION));
        assertEquals("public.users", header(r, DeadLetterPublisher.TABLE));
        assertEquals("{\"id\":1}", header(r, DeadLetterPublisher.KEY));
        assertEquals("23502", header(r, DeadLetterPublisher.SQLSTATE));
        assertEquals("null value in column \"email\"", header(r, DeadLetterPublisher.ERROR));
        assertEquals("1700000000000", header(r, DeadLetterPublisher.FAILED_AT_MS));
    }

    @Test
    void leavesOutUnknownHeadersAndTruncatesTheError() {
        String longError = "x".repeat(1999) + "\uD83D\uDE00" + "y".repeat(100);
        DeadLetter dl = new DeadLetter("public.users", "t", 0, 5L, -1, -1, null, null, null, null, longError, 1L);
        ProducerRecord<byte[], byte[]> r = DeadLetterPublisher.toRecord("understudy.dlq", dl);
        assertNull(header(r, DeadLetterPublisher.SQLSTATE));
        assertNull(header(r, DeadLetterPublisher.KEY));
        assertNull(header(r, DeadLetterPublisher.LSN));
        assertNull(header(r, DeadLetterPublisher.VERSION));
        String error = header(r, DeadLetterPublisher.ERROR);
        assertEquals(1999, error.length(), "a surrogate pair is not split");
        assertEquals(DeadLetterPublisher.MAX_ERROR_CHARS, DeadLetterPublisher.truncate("z".repeat(5000)).length());
    }

    private static long longHeader(ProducerRecord<byte[], byte[]> r, String name) {
        return ChangeHeaders.getLong(r.headers(), name, Long.MIN_VALUE);
    }

    private static RowChange change(long version, long generation, long lsn) {
        Schema keySchema = SchemaBuilder.record("users_key").fields().requiredLong("id").endRecord();
        GenericRecord key = new GenericData.Record(keySchema);
        key.put("id", 7L);
        return new RowChange("public.users", key, null, version, generation, lsn, "understudy.new.public.users", 1, 42L,
                new byte[]{0, 0, 0, 0, 1, 14}, null);
    }

    @Test
    void aRefusedChangeKeepsItsVersionLsnAndGenerationAsChangeHeaders() {
        ProducerRecord<byte[], byte[]> r = DeadLetterPublisher.toRecord("understudy.dlq",
                DeadLetter.of(change(5000L, 2L, 4999L), "23514", "check constraint"));
        assertEquals(5000L, longHeader(r, ChangeHeaders.VERSION));
        assertEquals(4999L, longHeader(r, ChangeHeaders.LSN));
        assertEquals(2L, longHeader(r, ChangeHeaders.GENERATION));
        assertEquals("5000", header(r, DeadLetterPublisher.VERSION));
        assertEquals("{\"id\":7}", header(r, DeadLetterPublisher.KEY));
    }

    @Test
    void originalHeadersAreCopiedBinaryAsRead() {
        RecordHeaders original = new RecordHeaders();
        original.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(4999L));
        original.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(5000L));
        original.add(ChangeHeaders.GENERATION, ChangeHeaders.encodeLong(3L));
        original.add(ChangeHeaders.TX_ID, ChangeHeaders.encodeLong(777L));
        original.add(ChangeHeaders.OP, "u".getBytes(StandardCharsets.UTF_8));
        original.add("unrelated", new byte[]{1});
        List<DeadLetter> letters = new ArrayList<>(List.of(DeadLetter.of(change(5000L, 3L, 4999L), "23514", "check")));
        ConsumerRecord<byte[], byte[]> read = new ConsumerRecord<>("understudy.new.public.users", 1, 42L, new byte[0], null);
        original.forEach(h -> read.headers().add(h));
        ConsumerRecord<byte[], byte[]> other = new ConsumerRecord<>("understudy.new.public.users", 1, 43L, new byte[0], null);
        DeadLetterPublisher.attachOriginalHeaders(letters, List.of(List.of(read, other)));

        ProducerRecord<byte[], byte[]> r = DeadLetterPublisher.toRecord("understudy.dlq", letters.get(0));
        assertEquals(5000L, longHeader(r, ChangeHeaders.VERSION));
        assertEquals(4999L, longHeader(r, ChangeHeaders.LSN));
        assertEquals(3L, longHeader(r, ChangeHeaders.GENERATION));
        assertEquals(777L, longHeader(r, ChangeHeaders.TX_ID));
        assertEquals("u", header(r, ChangeHeaders.OP));
        assertNull(r.headers().lastHeader("unrelated"), "only change headers are kept");
        assertEquals("check", header(r, DeadLetterPublisher.ERROR));
    }

    @Test
    void anUndecodedRecordWithoutItsHeadersCarriesNoChangeHeaders() {
        // Its generation is unknown: a guessed one could let a replay overwrite a later generation's row.
        DeadLetter dl = new DeadLetter("public.users", "t", 0, 5L, 12L, 11L, null, null, null, null, "bad key", 1L);
        ProducerRecord<byte[], byte[]> r = DeadLetterPublisher.toRecord("understudy.dlq", dl);
        for (String name : ChangeHeaders.KEPT_BY_DEAD_LETTERS) {
            assertNull(r.headers().lastHeader(name), name);
        }
        assertEquals("12", header(r, DeadLetterPublisher.VERSION));
    }
}

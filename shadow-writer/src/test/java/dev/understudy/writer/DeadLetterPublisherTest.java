package dev.understudy.writer;

import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.header.Header;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;

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
}

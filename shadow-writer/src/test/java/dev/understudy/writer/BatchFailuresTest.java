package dev.understudy.writer;

import dev.understudy.schemas.RegistryException;
import org.apache.kafka.common.errors.TimeoutException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.sql.SQLException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BatchFailuresTest {
    private static final String WHERE = " (records t[0] offsets 3..9)";

    private static BatchFailures.Decision decide(Throwable cause, String step, boolean immediate) {
        return BatchFailures.decide(cause, step, WHERE, immediate);
    }

    @Test
    void aSerializationFailureOrALostConnectionIsRetried() {
        BatchFailures.Retry r = assertInstanceOf(BatchFailures.Retry.class,
                decide(new SQLException("could not serialize access", "40001"), "applying public.t", false));
        assertEquals("40001", r.sqlState());
        assertTrue(r.database());
        BatchFailures.Retry io = assertInstanceOf(BatchFailures.Retry.class,
                decide(new SQLException("I/O error", null, new IOException("connection reset")), "committing", false));
        assertTrue(io.database() && io.sqlState() == null, "an error without SQLSTATE may have broken the connection");
        assertInstanceOf(BatchFailures.Retry.class, decide(new SQLException("connection reset", "08006"), "applying public.t", false));
    }

    @Test
    void aRowLevelErrorAtCommitIsIsolatedOnceThenStops() {
        SQLException unique = new SQLException("duplicate key value violates unique constraint \"t_code\"\nDetail: ...", "23505");
        BatchFailures.IsolateRow isolate = assertInstanceOf(BatchFailures.IsolateRow.class, decide(unique, BatchFailures.COMMITTING, false));
        assertEquals("SQLSTATE 23505: duplicate key value violates unique constraint \"t_code\"", isolate.what());
        BatchFailures.Stop stop = assertInstanceOf(BatchFailures.Stop.class, decide(unique, BatchFailures.COMMITTING, true));
        assertTrue(stop.error().getMessage().startsWith("Permanent database error committing" + WHERE), stop.error().getMessage());
        assertInstanceOf(BatchFailures.Stop.class, decide(unique, "applying public.t", false));
    }

    @Test
    void anErrorEveryRowWouldMeetStopsTheWriterSayingSo() {
        BatchFailures.Stop stop = assertInstanceOf(BatchFailures.Stop.class,
                decide(new SQLException("permission denied for table t", "42501"), BatchFailures.COMMITTING, false));
        assertTrue(stop.error().getMessage().contains("Every row would fail the same way"), stop.error().getMessage());
    }

    @Test
    void theRegistryKafkaAndTheMappingEachGetTheirRule() {
        assertInstanceOf(BatchFailures.Retry.class, decide(new RegistryException("registry down", 503, -1, null), "decoding records", false));
        assertInstanceOf(BatchFailures.Stop.class, decide(new RegistryException("no schema 7", 404, 40403, null), "decoding records", false));
        assertInstanceOf(BatchFailures.Retry.class, decide(new IllegalStateException("publish", new TimeoutException("t")), "publishing", false));
        BatchFailures.Stop stop = assertInstanceOf(BatchFailures.Stop.class,
                decide(new TableMappingException("no table mapping for topic x"), "decoding records", false));
        assertEquals("no table mapping for topic x" + WHERE, stop.error().getMessage());
        assertInstanceOf(BatchFailures.Stop.class, decide(new IllegalArgumentException("bad"), "applying public.t", false));
    }
}

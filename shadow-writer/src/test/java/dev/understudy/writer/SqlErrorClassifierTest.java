package dev.understudy.writer;

import dev.understudy.writer.SqlErrorClassifier.Kind;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

import java.io.EOFException;
import java.net.SocketException;
import java.sql.SQLException;
import java.sql.SQLNonTransientConnectionException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientConnectionException;
import java.sql.SQLTransientException;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class SqlErrorClassifierTest {

    private static SQLException state(String sqlState) {
        return new SQLException("error " + sqlState, sqlState);
    }

    @ParameterizedTest(name = "{0} is retriable")
    @ValueSource(strings = {
            "08000", "08001", "08003", "08004", "08006", "08007", "08P01", // connection exception
            "40000", "40001", "40003", "40P01",                             // transaction rollback
            "53000", "53100", "53200", "53300", "53400",                    // insufficient resources
            "57P01", "57P02", "57P03", "57P05", "57014",                    // shutdown, cannot connect now, timeouts
            "55P03",                                                        // lock_not_available
            "58000", "58030", "58P01",                                      // system error
            "25P03", "25P04"                                                // connection ended by a server timeout
    })
    void retriableStates(String sqlState) {
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify(state(sqlState)));
        assertFalse(SqlErrorClassifier.affectsEveryRow(state(sqlState)));
    }

    @ParameterizedTest(name = "{0} is permanent and row-level")
    @ValueSource(strings = {
            "22000", "22001", "22003", "22007", "22008", "22012", "22021", "22P02", // data exception
            "23000", "23502", "23503", "23505", "23514", "23P01",                   // integrity constraint violation
            "40002",                                                                 // integrity violation at commit
            "P0001", "2F000", "21000", "55000", "55006", "57P04", "HV000"
    })
    void permanentRowLevelStates(String sqlState) {
        assertEquals(Kind.PERMANENT, SqlErrorClassifier.classify(state(sqlState)));
        assertFalse(SqlErrorClassifier.affectsEveryRow(state(sqlState)));
    }

    @ParameterizedTest(name = "{0} is permanent for every row")
    @ValueSource(strings = {
            "42601", "42501", "42703", "42P01", "42804", "42883", // syntax error or access rule violation
            "0A000", "25P02", "28000", "28P01", "2B000", "3D000", "3F000", "26000", "34000", "XX000", "XX001"
    })
    void permanentStatementLevelStates(String sqlState) {
        assertEquals(Kind.PERMANENT, SqlErrorClassifier.classify(state(sqlState)));
        assertTrue(SqlErrorClassifier.affectsEveryRow(state(sqlState)));
    }

    @Test
    void nullStateWithIoCauseIsRetriable() {
        SQLException e = new SQLException("An I/O error occurred while sending to the backend.", (String) null,
                new SocketException("Connection reset"));
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify(e));
        SQLException wrapped = new SQLException("outer", null, new RuntimeException(new EOFException()));
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify(wrapped));
    }

    @Test
    void nullStateTransientAndRecoverableAreRetriable() {
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify(new SQLTransientException("busy")));
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify(new SQLTransientConnectionException("refused")));
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify(new SQLRecoverableException("gone")));
    }

    @Test
    void nullStateOtherwiseIsPermanent() {
        assertEquals(Kind.PERMANENT, SqlErrorClassifier.classify(new SQLException("no state")));
        assertEquals(Kind.PERMANENT, SqlErrorClassifier.classify(new SQLNonTransientConnectionException("bad url")));
        assertNull(SqlErrorClassifier.sqlState(new SQLException("no state")));
    }

    @Test
    void stateIsFoundOnTheNextExceptionChain() {
        SQLException batch = new SQLException("Batch entry 0 was aborted");
        batch.setNextException(state("40P01"));
        assertEquals("40P01", SqlErrorClassifier.sqlState(batch));
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify(batch));
    }

    @Test
    void throwablesAreClassifiedByTheirSqlCause() {
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify((Throwable) new RuntimeException(state("40001"))));
        assertEquals(Kind.PERMANENT, SqlErrorClassifier.classify((Throwable) new RuntimeException(state("23505"))));
        assertEquals(Kind.PERMANENT, SqlErrorClassifier.classify((Throwable) new IllegalStateException("no sql")));
        assertEquals(Kind.RETRIABLE, SqlErrorClassifier.classify((Throwable) new RuntimeException(new SocketException())));
    }
}

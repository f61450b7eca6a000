package dev.understudy.writer;

import java.io.IOException;
import java.sql.SQLException;
import java.sql.SQLRecoverableException;
import java.sql.SQLTransientException;
import java.util.Set;

/**
 * The single place that decides whether a database error is worth retrying.
 * <p>
 * Decisions follow the SQLSTATE classes of PostgreSQL Appendix A
 * (https://www.postgresql.org/docs/current/errcodes-appendix.html): the first two characters of a
 * SQLSTATE name its class, and the class says whether the same statement can succeed later
 * (the connection dropped, a deadlock or serialization conflict rolled the transaction back, the
 * server is short of resources or restarting) or will fail the same way every time (the data or the
 * statement is wrong).
 * <ul>
 *   <li>{@link Kind#RETRIABLE}: roll back, back off, reconnect if needed and apply the same records again;</li>
 *   <li>{@link Kind#PERMANENT}: retrying cannot help; a row-level permanent error dead-letters the row,
 *   a {@linkplain #affectsEveryRow statement-level} one stops the writer.</li>
 * </ul>
 */
public final class SqlErrorClassifier {

    /** What to do about an error. */
    public enum Kind {
        RETRIABLE,
        PERMANENT
    }

    /**
     * Whole classes that are transient: 08 connection exception, 40 transaction rollback
     * (40001 serialization_failure, 40P01 deadlock_detected, 40003 statement_completion_unknown),
     * 53 insufficient resources (disk full, out of memory, too many connections), 58 system error (I/O).
     */
    private static final Set<String> RETRIABLE_CLASSES = Set.of("08", "40", "53", "58");

    /**
     * Single transient codes from otherwise permanent classes.
     * <ul>
     *   <li>57P01 admin_shutdown, 57P02 crash_shutdown, 57P03 cannot_connect_now: the server is
     *   stopping or starting; a new connection will work once it is up;</li>
     *   <li>57P05 idle_session_timeout, 25P03 idle_in_transaction_session_timeout and 25P04
     *   transaction_timeout: the server closed the connection on a timer; a new connection repeats the work;</li>
     *   <li>57014 query_canceled: statement_timeout or an operator cancelled the statement; the data
     *   was never judged, so dead-lettering it would be wrong;</li>
     *   <li>55P03 lock_not_available: lock_timeout or NOWAIT hit a lock held by someone else.</li>
     * </ul>
     */
    private static final Set<String> RETRIABLE_CODES = Set.of(
            "57P01", "57P02", "57P03", "57P05", "57014", "25P03", "25P04", "55P03");

    /**
     * 40002 transaction_integrity_constraint_violation is in the rollback class but reports a
     * constraint violated by the data: the same data violates it again.
     */
    private static final Set<String> PERMANENT_CODES = Set.of("40002");

    /**
     * Permanent classes whose errors do not depend on a row's values, so every row sent through
     * the same statement fails alike: 0A feature_not_supported, 25 invalid transaction state,
     * 26 invalid SQL statement name, 28 invalid authorization, 2B dependent privilege descriptors,
     * 34 invalid cursor name, 3D invalid catalog name, 3F invalid schema name, 42 syntax error or
     * access rule violation (undefined table or column, insufficient privilege), XX internal error.
     * Dead-lettering row by row on these would empty the topic into the DLQ; stopping is right.
     */
    private static final Set<String> STATEMENT_LEVEL_CLASSES = Set.of(
            "0A", "25", "26", "28", "2B", "34", "3D", "3F", "42", "XX");

    private SqlErrorClassifier() {
    }

    /** Classifies a database error; see the class comment for the rules. */
    public static Kind classify(SQLException e) {
        String state = sqlState(e);
        if (state == null) {
            return isTransientWithoutState(e) ? Kind.RETRIABLE : Kind.PERMANENT;
        }
        if (PERMANENT_CODES.contains(state)) {
            return Kind.PERMANENT;
        }
        if (RETRIABLE_CODES.contains(state) || state.length() >= 2 && RETRIABLE_CLASSES.contains(state.substring(0, 2))) {
            return Kind.RETRIABLE;
        }
        return Kind.PERMANENT;
    }

    /** Classifies any failure: the first {@link SQLException} in the cause chain decides; anything else is permanent. */
    public static Kind classify(Throwable t) {
        SQLException sql = firstSqlException(t);
        if (sql != null) {
            return classify(sql);
        }
        return hasCause(t, IOException.class) ? Kind.RETRIABLE : Kind.PERMANENT;
    }

    /**
     * Whether an error with {@code sqlState} means the connection itself is gone or unusable, so a
     * retry must reconnect: no SQLSTATE at all (an I/O failure), class 08 connection exception, 57P
     * operator intervention (admin shutdown, crash shutdown, cannot connect now), 25P03 idle in
     * transaction session timeout and 25P04 transaction timeout (the server closed the session).
     */
    public static boolean connectionLost(String sqlState) {
        return sqlState == null || sqlState.startsWith("08") || sqlState.startsWith("57P")
                || sqlState.equals("25P03") || sqlState.equals("25P04");
    }

    /**
     * True for a permanent error that the statement would raise whatever the row, such as a missing
     * column or privilege (see {@link #STATEMENT_LEVEL_CLASSES}). Such an error is a deployment
     * problem to fix, not a poison record to dead-letter.
     */
    public static boolean affectsEveryRow(SQLException e) {
        if (classify(e) != Kind.PERMANENT) {
            return false;
        }
        String state = sqlState(e);
        return state != null && state.length() >= 2 && STATEMENT_LEVEL_CLASSES.contains(state.substring(0, 2));
    }

    /**
     * The SQLSTATE of {@code e}, or of the first exception chained to it (JDBC's next-exception
     * chain, then the cause chain) that carries one; null when none does.
     */
    public static String sqlState(SQLException e) {
        for (SQLException s = e; s != null; s = s.getNextException()) {
            if (s.getSQLState() != null && !s.getSQLState().isBlank()) {
                return s.getSQLState();
            }
        }
        for (Throwable t = e.getCause(); t != null && t != t.getCause(); t = t.getCause()) {
            if (t instanceof SQLException s && s.getSQLState() != null && !s.getSQLState().isBlank()) {
                return s.getSQLState();
            }
        }
        return null;
    }

    /** The first SQLException in the cause chain of {@code t}, or null. */
    public static SQLException firstSqlException(Throwable t) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (c instanceof SQLException s) {
                return s;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return null;
    }

    /**
     * Without a SQLSTATE the driver did not get an answer from the server: JDBC marks transient
     * conditions with {@link SQLTransientException} (the same operation may succeed on retry) and
     * {@link SQLRecoverableException} (it may succeed on a new connection), and a broken socket
     * shows as an {@link IOException} cause.
     */
    private static boolean isTransientWithoutState(SQLException e) {
        return e instanceof SQLTransientException || e instanceof SQLRecoverableException
                || hasCause(e, IOException.class);
    }

    /** Whether {@code t} or any of its causes is a {@code type}. */
    static boolean hasCause(Throwable t, Class<? extends Throwable> type) {
        for (Throwable c = t; c != null; c = c.getCause()) {
            if (type.isInstance(c)) {
                return true;
            }
            if (c.getCause() == c) {
                break;
            }
        }
        return false;
    }
}

package dev.understudy.writer;

import dev.understudy.schemas.RegistryException;
import org.apache.kafka.common.errors.RetriableException;

import java.sql.SQLException;

/**
 * What the writer does about a failed attempt at a batch: the one place that decides between
 * retrying the batch, retrying it with every constraint checked per statement, and stopping.
 * {@link SqlErrorClassifier} decides for database errors; this adds the writer's own causes (a
 * mapping that cannot work, the schema registry, Kafka) and the steps of an attempt.
 */
final class BatchFailures {
    /** The step of an attempt at which a deferred constraint is checked (PostgreSQL checks them at COMMIT). */
    static final String COMMITTING = "committing";

    private BatchFailures() {
    }

    /** What to do; {@code what} describes the failure for the log. */
    sealed interface Decision permits Retry, IsolateRow, Stop {
    }

    /**
     * Roll back and try the same batch again after a backoff. {@code database}: the database raised
     * it, with {@code sqlState} (null when the error carried none, as an I/O failure does), so the
     * connection may be broken.
     */
    record Retry(String what, boolean database, String sqlState) implements Decision {
    }

    /**
     * A deferred constraint failed at commit, outside every savepoint, so the row to blame is not
     * known: run the batch again with {@code SET CONSTRAINTS ALL IMMEDIATE}, which makes the constraint
     * fail at its statement inside the appliers' savepoints, where the row is dead-lettered.
     */
    record IsolateRow(String what) implements Decision {
    }

    /** Stop the writer with {@code error}: the batch is rolled back and its offsets stay uncommitted. */
    record Stop(ShadowWriterException error) implements Decision {
    }

    /**
     * @param cause                the failure
     * @param step                 the step of the attempt that failed, e.g. {@value #COMMITTING}
     * @param where                the records concerned, for messages (may be empty)
     * @param immediateConstraints whether this attempt already checked constraints per statement
     */
    static Decision decide(Throwable cause, String step, String where, boolean immediateConstraints) {
        if (cause instanceof TableMappingException) {
            return new Stop(new ShadowWriterException(cause.getMessage() + where, cause));
        }
        SQLException sql = SqlErrorClassifier.firstSqlException(cause);
        if (sql != null) {
            String state = SqlErrorClassifier.sqlState(sql);
            String what = "SQLSTATE " + state + ": " + firstLine(sql.getMessage());
            if (SqlErrorClassifier.classify(sql) == SqlErrorClassifier.Kind.RETRIABLE) {
                return new Retry(what, true, state);
            }
            boolean everyRow = SqlErrorClassifier.affectsEveryRow(sql);
            if (COMMITTING.equals(step) && !immediateConstraints && !everyRow) {
                return new IsolateRow(what);
            }
            return new Stop(new ShadowWriterException("Permanent database error " + step + where + " (" + what + "). "
                    + (everyRow ? "Every row would fail the same way, so the writer stopped instead of dead-lettering them. " : "")
                    + "The batch was rolled back and its offsets were not committed; fix the cause "
                    + "(grants, target migrations, the table mapping) and restart the writer, which resumes from the last committed offset",
                    cause));
        }
        if (cause instanceof RegistryException r && r.isTransient()) {
            return new Retry("schema registry unavailable: " + r.getMessage(), false, null);
        }
        if (SqlErrorClassifier.hasCause(cause, RetriableException.class)) {
            return new Retry(cause.getMessage(), false, null);
        }
        return new Stop(new ShadowWriterException("Permanent error " + step + where + ": " + cause.getMessage()
                + ". The batch was rolled back and its offsets were not committed; fix the cause and restart the writer", cause));
    }

    static String firstLine(String s) {
        if (s == null) {
            return "";
        }
        int nl = s.indexOf('\n');
        return nl < 0 ? s : s.substring(0, nl);
    }
}

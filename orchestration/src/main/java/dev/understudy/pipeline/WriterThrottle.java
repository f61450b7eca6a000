package dev.understudy.pipeline;

import dev.understudy.schemas.Topics;
import dev.understudy.writer.WriterBookkeeping;
import dev.understudy.writer.WriterBookkeeping.Control;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.function.UnaryOperator;

/**
 * Pauses, resumes or rate-limits every shadow writer of a pipeline while they run
 * ({@code understudy throttle}). The controls are a row in the target database, which each writer
 * reads about once a second; a paused or throttled writer stays in its group, and its lag shows the
 * backpressure.
 */
public final class WriterThrottle {
    private final PipelineConfig config;
    private final String group;

    public WriterThrottle(PipelineConfig config) {
        this.config = config;
        this.group = Topics.writerGroup(config.get(PipelineConfig.PIPELINE_NAME));
    }

    /** The writer group the controls apply to. */
    public String group() {
        return group;
    }

    /** Where the controls are kept, to name in messages. */
    public String table() {
        return WriterBookkeeping.controlTable();
    }

    /** The controls the writers run with now. */
    public Control current() throws SQLException {
        try (Connection c = connect()) {
            return WriterBookkeeping.controls(c, group);
        }
    }

    /** Stops applying after the current batch; keeps any rate limit. */
    public Control pause() throws SQLException {
        return change(now -> now.withPaused(true));
    }

    /** Applies again; keeps any rate limit. */
    public Control resume() throws SQLException {
        return change(now -> now.withPaused(false));
    }

    /** At most {@code recordsPerSecond} per writer; 0 lifts every limit, the writers' own settings too. */
    public Control limitRate(double recordsPerSecond) throws SQLException {
        if (recordsPerSecond < 0) {
            throw new IllegalArgumentException("A rate limit is 0 (no limit) or more records per second, was " + recordsPerSecond);
        }
        return change(now -> now.withMaxRecordsPerSecond(recordsPerSecond));
    }

    /** Drops the rate set here: each writer falls back to its own writer.max.records.per.second. */
    public Control dropRate() throws SQLException {
        return change(now -> now.withMaxRecordsPerSecond(null));
    }

    private Control change(UnaryOperator<Control> change) throws SQLException {
        try (Connection c = connect()) {
            return WriterBookkeeping.changeControls(c, group, change);
        }
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                config.get(PipelineConfig.TARGET_PASSWORD));
    }
}

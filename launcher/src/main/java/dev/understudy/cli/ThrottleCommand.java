package dev.understudy.cli;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.writer.WriterControl;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * Pauses, resumes or rate-limits every shadow writer of a pipeline while they run. The controls are
 * a row in the target database ({@link WriterControl}), which each writer reads about once a second;
 * a paused or throttled writer stays in its group, and its lag shows the backpressure.
 */
@Command(name = "throttle", mixinStandardHelpOptions = true,
        description = "Pause, resume or rate-limit the running shadow writers of a pipeline (all members of its writer group); without an action, show the current controls.")
final class ThrottleCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Properties file with the pipeline settings (see README, Configuration).")
    Path config;

    @ArgGroup(exclusive = true)
    Action action;

    static final class Action {
        @Option(names = "--pause", description = "Stop applying after the current batch.")
        boolean pause;

        @Option(names = "--resume", description = "Apply again (keeps any rate limit).")
        boolean resume;

        @Option(names = "--rate", paramLabel = "RECORDS_PER_SECOND", description = "At most this many records per second per writer (0: no limit).")
        Double rate;

        @Option(names = "--no-rate", description = "Drop the rate set here; each writer falls back to writer.max.records.per.second.")
        boolean noRate;
    }

    @Override
    public Integer call() throws Exception {
        PipelineConfig cfg = PipelineConfig.load(config);
        String group = cfg.get(PipelineConfig.PIPELINE_NAME) + "-shadow-writer";
        if (action != null && action.rate != null && action.rate < 0) {
            System.err.println("understudy: --rate must be 0 (no limit) or more, was " + action.rate);
            return 2;
        }
        try (Connection c = DriverManager.getConnection(cfg.get(PipelineConfig.TARGET_JDBC_URL), cfg.get(PipelineConfig.TARGET_USER),
                cfg.get(PipelineConfig.TARGET_PASSWORD))) {
            WriterControl.ensureTable(c);
            Optional<WriterControl.Control> current = WriterControl.read(c, group);
            WriterControl.Control now = current.orElse(new WriterControl.Control(false, null));
            if (action != null) {
                if (action.pause) {
                    now = new WriterControl.Control(true, now.maxRecordsPerSecond());
                } else if (action.resume) {
                    now = new WriterControl.Control(false, now.maxRecordsPerSecond());
                } else if (action.rate != null) {
                    now = new WriterControl.Control(now.paused(), action.rate);
                } else if (action.noRate) {
                    now = new WriterControl.Control(now.paused(), null);
                }
                WriterControl.write(c, group, now);
            }
            System.out.printf("Writer group %s: %s, %s (read by each writer within about a second; table %s)%n", group,
                    now.paused() ? "paused" : "running",
                    now.maxRecordsPerSecond() == null ? "rate from writer.max.records.per.second"
                            : now.maxRecordsPerSecond() == 0 ? "no rate limit" : "at most " + now.maxRecordsPerSecond() + " records/s per writer",
                    WriterControl.TABLE);
            return 0;
        }
    }
}

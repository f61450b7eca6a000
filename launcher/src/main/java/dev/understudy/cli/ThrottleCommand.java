package dev.understudy.cli;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.pipeline.WriterThrottle;
import dev.understudy.writer.WriterBookkeeping.Control;
import picocli.CommandLine.ArgGroup;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;

/**
 * Pauses, resumes or rate-limits every shadow writer of a pipeline while they run ({@link WriterThrottle}).
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
        WriterThrottle throttle = new WriterThrottle(PipelineConfig.load(config));
        if (action != null && action.rate != null && action.rate < 0) {
            System.err.println("understudy: --rate must be 0 (no limit) or more, was " + action.rate);
            return 2;
        }
        Control now;
        if (action == null) {
            now = throttle.current();
        } else if (action.pause) {
            now = throttle.pause();
        } else if (action.resume) {
            now = throttle.resume();
        } else if (action.rate != null) {
            now = throttle.limitRate(action.rate);
        } else {
            now = throttle.dropRate();
        }
        System.out.printf("Writer group %s: %s, %s (read by each writer within about a second; table %s)%n", throttle.group(),
                now.paused() ? "paused" : "running",
                now.maxRecordsPerSecond() == null ? "rate from writer.max.records.per.second"
                        : now.maxRecordsPerSecond() == 0 ? "no rate limit" : "at most " + now.maxRecordsPerSecond() + " records/s per writer",
                throttle.table());
        return 0;
    }
}

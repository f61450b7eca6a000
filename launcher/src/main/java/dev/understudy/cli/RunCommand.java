package dev.understudy.cli;

import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.transform.spec.MigrationSpec;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.lang.management.ManagementFactory;
import java.nio.file.Path;
import java.util.Locale;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/** Runs the pipeline against external PostgreSQL, Kafka and schema registry named in a config file. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the pipeline against the databases, Kafka and registry named in a config file, until interrupted.")
final class RunCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Properties file with the pipeline settings (see README, Configuration).")
    Path config;

    @Option(names = "--spec", required = true, description = "Migration spec (YAML, see docs/spec-format.md).")
    Path spec;

    @Option(names = "--status-interval", defaultValue = "5", description = "Seconds between progress lines (default: ${DEFAULT-VALUE}).")
    int statusSeconds;

    @Override
    public Integer call() throws Exception {
        PipelineConfig cfg = PipelineConfig.load(config);
        // Before the shutdown hook: a spec with problems throws SpecException, listing every problem
        // with its file and line (Main prints it), and the process must then exit at once.
        MigrationSpec loaded = MigrationSpec.load(spec);
        System.out.println("Starting pipeline with:\n" + cfg.describe());
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        // The JVM halts once its shutdown hooks return, so on Ctrl-C or SIGTERM the hook wakes the
        // main thread and then waits until it has closed the pipeline: captures stop after their last
        // acknowledged batch and Streams and the writer commit their offsets.
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                closed.await(60, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "understudy-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        System.out.println("Migration " + loaded.migration() + " from " + spec);
        // A bulk initial load runs inside the start, before any status line: its progress comes from there.
        Pipeline configured = new Pipeline(cfg, loaded).onInitialLoadProgress(line -> System.out.println("[initial load] " + line));
        try (Pipeline pipeline = configured.start()) {
            // How long a (re)start takes is an operator's question after every crash: answer it once.
            StringBuilder phases = new StringBuilder();
            pipeline.startupTimes().forEach((phase, took) -> phases.append(phases.isEmpty() ? "" : ", ").append(phase).append(' ')
                    .append(String.format(Locale.ROOT, "%.1f s", took.toMillis() / 1000.0)));
            System.out.printf(Locale.ROOT, "Pipeline started %.1f s after the process did (%s); Kafka Streams restores its state and the "
                    + "writer starts applying from here%n", ManagementFactory.getRuntimeMXBean().getUptime() / 1000.0, phases);
            StatusLine status = new StatusLine(pipeline, 0);
            while (!stop.await(statusSeconds, TimeUnit.SECONDS)) {
                // While a new spec generation backfills, its progress and ETA ride on the status line.
                System.out.println(status.next(pipeline.backfill() == null || pipeline.backfill().complete() ? null : pipeline.backfill().describe()));
                Throwable failure = pipeline.failure();
                if (failure != null) {
                    System.err.println("understudy: pipeline stage failed: " + failure.getMessage());
                    return 1;
                }
            }
            System.out.println("Stopping the pipeline ...");
        } finally {
            closed.countDown();
        }
        return 0;
    }
}

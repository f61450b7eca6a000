package dev.understudy.cli;

import dev.understudy.pipeline.Pipeline;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.transform.Migrations;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** Runs the pipeline against external PostgreSQL, Kafka and schema registry named in a config file. */
@Command(name = "run", mixinStandardHelpOptions = true,
        description = "Run the pipeline against the databases, Kafka and registry named in a config file, until interrupted.")
final class RunCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Properties file with the pipeline settings (see README, Configuration).")
    Path config;

    @Option(names = "--status-interval", defaultValue = "5", description = "Seconds between progress lines (default: ${DEFAULT-VALUE}).")
    int statusSeconds;

    @Override
    public Integer call() throws Exception {
        PipelineConfig cfg = PipelineConfig.load(config);
        System.out.println("Starting pipeline with:\n" + cfg.describe());
        CountDownLatch stop = new CountDownLatch(1);
        try (Pipeline pipeline = new Pipeline(cfg, Migrations.defaultMappings()).start()) {
            Thread hook = new Thread(stop::countDown, "understudy-shutdown");
            Runtime.getRuntime().addShutdownHook(hook);
            StatusLine status = new StatusLine(pipeline);
            while (!stop.await(statusSeconds, java.util.concurrent.TimeUnit.SECONDS)) {
                System.out.println(status.next(null));
                Throwable failure = pipeline.failure();
                if (failure != null) {
                    System.err.println("understudy: pipeline stage failed: " + failure.getMessage());
                    return 1;
                }
            }
        }
        return 0;
    }
}

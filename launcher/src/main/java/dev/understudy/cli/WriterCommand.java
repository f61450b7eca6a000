package dev.understudy.cli;

import dev.understudy.pipeline.MigrationGenerations;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.pipeline.TransactionWatermarks;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.MigrationTopology;
import dev.understudy.transform.TableMapping;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.writer.ShadowWriter;
import dev.understudy.writer.ShadowWriterConfig;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * The shadow writer alone, as a member of the pipeline's writer group: more processes running it
 * share the new-schema topics' partitions (Kafka consumer-group assignment), which is how writes
 * scale out. Each resumes every partition it is assigned from the position stored in the target
 * database, so members may come, go or be killed at any point.
 */
@Command(name = "writer", mixinStandardHelpOptions = true,
        description = "Run only the shadow writer of a pipeline (one more member of its writer group), until interrupted.")
public final class WriterCommand implements Callable<Integer> {
    @Option(names = "--config", required = true, description = "Properties file with the pipeline settings (see README, Configuration).")
    Path config;

    @Option(names = "--spec", required = true, description = "Migration spec whose target tables to write (YAML, see docs/spec-format.md).")
    Path spec;

    @Option(names = "--status-interval", defaultValue = "5", description = "Seconds between progress lines (default: ${DEFAULT-VALUE}).")
    int statusSeconds;

    @Option(names = "--instance-id", description = "Static group membership (group.instance.id): a member restarted with the same id"
            + " takes its partitions back at once instead of waiting for the group to drop its previous incarnation.")
    String instanceId;

    /** Entry point for running the writer as its own process without the launcher's other commands. */
    public static void main(String[] args) {
        System.exit(new CommandLine(new WriterCommand()).execute(args));
    }

    @Override
    public Integer call() throws Exception {
        PipelineConfig cfg = PipelineConfig.load(config);
        List<? extends TableMapping> mappings = MigrationSpec.load(spec).mappings();
        String prefix = cfg.get(PipelineConfig.PIPELINE_NAME);
        Map<String, String> topics = new LinkedHashMap<>();
        for (TableMapping m : mappings) {
            topics.put(Topics.newSchema(prefix, m.targetTable()), m.targetTable());
        }
        ShadowWriter writer = new ShadowWriter(ShadowWriterConfig.of(cfg.get(PipelineConfig.KAFKA_BOOTSTRAP), Topics.writerGroup(prefix),
                        topics, cfg.get(PipelineConfig.TARGET_JDBC_URL), cfg.get(PipelineConfig.TARGET_USER),
                        cfg.get(PipelineConfig.TARGET_PASSWORD), prefix).withMaxBatchRecords(cfg.get(ShadowWriterConfig.MAX_BATCH_RECORDS))
                        .withKafkaProperties(instanceId == null ? Map.of() : Map.of("group.instance.id", instanceId)),
                new ConfluentRegistryClient(cfg.get(PipelineConfig.REGISTRY_URL), cfg.serdeConfig()));
        writer.setMaxRecordsPerSecond(cfg.get(ShadowWriterConfig.MAX_RECORDS_PER_SECOND));
        TransactionWatermarks watermarks = null;
        if (cfg.get(ShadowWriterConfig.TRANSACTION_BOUNDARIES)) {
            // The pipeline may move to a new spec generation while this writer runs: the migration whose
            // progress proves transactions complete is the newest generation's, looked up at each probe.
            MigrationGenerations generations = new MigrationGenerations(cfg.get(PipelineConfig.TARGET_JDBC_URL),
                    cfg.get(PipelineConfig.TARGET_USER), cfg.get(PipelineConfig.TARGET_PASSWORD));
            List<String> legacyTopics = MigrationTopology.legacyTables(List.copyOf(mappings)).stream()
                    .map(t -> Topics.legacy(prefix, t)).toList();
            watermarks = new TransactionWatermarks(cfg.get(PipelineConfig.KAFKA_BOOTSTRAP), Topics.commits(prefix),
                    () -> Topics.migrationApplication(prefix, generations.newest(prefix)), legacyTopics).start();
            writer.alignTransactions(watermarks);
        }
        CountDownLatch stop = new CountDownLatch(1);
        CountDownLatch closed = new CountDownLatch(1);
        Thread hook = new Thread(() -> {
            stop.countDown();
            try {
                closed.await(30, TimeUnit.SECONDS);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }, "understudy-writer-shutdown");
        Runtime.getRuntime().addShutdownHook(hook);
        writer.start();
        System.out.println("Shadow writer started: group " + prefix + "-shadow-writer, topics " + topics.keySet());
        try {
            while (!stop.await(statusSeconds, TimeUnit.SECONDS)) {
                var m = writer.metrics();
                System.out.printf("written %,d rows | dead-lettered %,d | lag %,d%n", m.rowsApplied(), m.deadLettered(), m.lag());
                if (writer.failure().isPresent()) {
                    System.err.println("understudy: the shadow writer stopped: " + writer.failure().get().getMessage());
                    return 1;
                }
            }
            return 0;
        } finally {
            writer.close();
            if (watermarks != null) {
                watermarks.close();
            }
            closed.countDown();
        }
    }
}

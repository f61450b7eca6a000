package dev.understudy.cli;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.pipeline.SourceTables;
import dev.understudy.schemas.SubjectNameStrategy;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.MigrationTopology;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.transform.spec.SpecTableMapping;
import org.apache.avro.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.nio.file.Path;
import java.util.List;
import java.util.Map;
import java.util.concurrent.Callable;

/** What the pipeline would do with a migration spec, without running anything. */
@Command(name = "plan", mixinStandardHelpOptions = true,
        description = "Validate a migration spec and print what the pipeline will do with it: tables, columns, topics, subjects, contracts.")
final class PlanCommand implements Callable<Integer> {
    @Option(names = "--spec", required = true, description = "Migration spec (YAML); see docs/spec-format.md.")
    Path spec;

    @Option(names = "--pipeline-name", defaultValue = "understudy", description = "Pipeline name, the prefix of its topics (default: ${DEFAULT-VALUE}).")
    String pipelineName;

    @Option(names = "--subject-strategy", defaultValue = "topic", description = "topic, record or topic_record (default: ${DEFAULT-VALUE}).")
    String subjectStrategy;

    @Option(names = "--config", description = "Pipeline config (properties, see README, Configuration): also check the spec's legacy "
            + "tables on the legacy database it names, as run does before it starts (existence, primary key, column types the "
            + "capture cannot carry exactly, see docs/types.md). Exit 1 when one is refused.")
    Path config;

    @Override
    public Integer call() {
        // A spec with problems throws SpecException, listing every problem with its file and line (Main prints it).
        MigrationSpec loaded = MigrationSpec.load(spec);
        SubjectNameStrategy strategy = SubjectNameStrategy.parse(subjectStrategy);
        System.out.printf("Migration %s (spec %s)%n", loaded.migration(), spec);
        System.out.printf("Target schema: Flyway version %s (the pipeline refuses a target at any other version)%n%n", loaded.flyway());
        System.out.println("Sources (legacy tables, captured from the WAL):");
        for (Map.Entry<String, String> s : loaded.sources().entrySet()) {
            System.out.printf("  %-16s %-28s -> topic %s%n", s.getKey(), s.getValue(), Topics.legacy(pipelineName, s.getValue()));
        }
        System.out.println();
        System.out.println("Targets:");
        for (SpecTableMapping m : loaded.mappings()) {
            String topic = Topics.newSchema(pipelineName, m.targetTable());
            Schema contract = m.targetValueSchema();
            System.out.printf("  %s (%s) from %s%n", m.targetTable(), m.name(), m.sourceTable());
            System.out.printf("    key:        %s%n", m.targetKeySchema().getFields().stream().map(Schema.Field::name).toList());
            System.out.printf("    contract:   %s, fields %s%n", contract.getFullName(), contract.getFields().stream().map(Schema.Field::name).toList());
            System.out.printf("    rows:       topic %s, subjects %s / %s%n", topic, strategy.subject(topic, true, m.targetKeySchema()),
                    strategy.subject(topic, false, contract));
            System.out.printf("    written to: %s by the shadow writer%n", m.targetTable());
            System.out.printf("    compared:   with topic %s (the target's own WAL)%n", Topics.target(pipelineName, m.targetTable()));
        }
        System.out.println();
        System.out.printf("Comparison events: topic %s (subject %s), drift: topic %s, dead letters: topic %s%n",
                Topics.divergence(pipelineName), Topics.divergence(pipelineName) + "-value", Topics.drift(pipelineName),
                Topics.deadLetter(pipelineName));
        if (config == null) {
            System.out.println("Legacy tables are checked (existence, primary key, column types) by `plan --config F` and when `run` starts;"
                    + " source columns against the spec when the pipeline starts reading them.");
            return 0;
        }
        PipelineConfig cfg = PipelineConfig.load(config);
        List<String> tables = MigrationTopology.legacyTables(List.copyOf(loaded.mappings()));
        List<String> problems = SourceTables.problems(cfg, tables);
        System.out.println();
        if (problems.isEmpty()) {
            System.out.printf("Legacy tables %s on %s: every one exists, has a primary key and only columns the capture carries exactly.%n",
                    tables, cfg.get(PipelineConfig.LEGACY_JDBC_URL));
            return 0;
        }
        System.out.printf("Legacy tables on %s: %d problem(s); run refuses to start until they are fixed:%n",
                cfg.get(PipelineConfig.LEGACY_JDBC_URL), problems.size());
        problems.forEach(p -> System.out.println("  - " + p));
        return 1;
    }
}

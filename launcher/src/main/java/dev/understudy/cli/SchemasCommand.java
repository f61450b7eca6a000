package dev.understudy.cli;

import dev.understudy.pipeline.ContractCheck;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.SerdeConfig;
import dev.understudy.schemas.SubjectNameStrategy;
import org.apache.avro.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.nio.file.Path;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * The Avro contracts in schemas/ against the registry, or against their previous committed version
 * ({@link ContractCheck} checks them; this prints the outcome).
 */
@Command(name = "schemas", mixinStandardHelpOptions = true,
        description = "Check, list and show the Avro contracts (schemas/src/main/resources/contracts).",
        subcommands = {SchemasCommand.Check.class, SchemasCommand.ListContracts.class, SchemasCommand.Show.class})
final class SchemasCommand implements Runnable {
    static final Path DEFAULT_DIR = Path.of("schemas", "src", "main", "resources", "contracts");

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Options shared by the subcommands. */
    static class Common {
        @Option(names = "--dir", description = "Directory of the .avsc contracts (default: ${DEFAULT-VALUE}).")
        Path dir = DEFAULT_DIR;

        @Option(names = "--registry", description = "Schema registry URL; without it, contracts are checked against git history.")
        String registry;

        @Option(names = "--pipeline-name", defaultValue = "understudy", description = "Pipeline name, the prefix of its topics (default: ${DEFAULT-VALUE}).")
        String pipelineName;

        @Option(names = "--subject-strategy", defaultValue = "topic", description = "topic, record or topic_record (default: ${DEFAULT-VALUE}).")
        String subjectStrategy;

        Map<Path, Schema> contracts() {
            return ContractCheck.contracts(dir);
        }

        Optional<String> subjectOf(Schema contract) {
            return ContractCheck.subjectOf(contract, pipelineName, SubjectNameStrategy.parse(subjectStrategy));
        }

        RegistryClient client() {
            return new ConfluentRegistryClient(registry, new SerdeConfig(SubjectNameStrategy.parse(subjectStrategy), true, false));
        }
    }

    @Command(name = "check", mixinStandardHelpOptions = true,
            description = "Check every contract: against the registry (--registry), or against its previous committed version in git. Exits 1 on any incompatibility.")
    static final class Check extends Common implements Callable<Integer> {
        @Option(names = "--level", defaultValue = "BACKWARD",
                description = "Compatibility level for the git check (default: ${DEFAULT-VALUE}); with --registry, each subject's own level applies.")
        String level;

        @Option(names = "--against", description = "Git revision to compare with (default: the previous committed version of each file).")
        String against;

        @Override
        public Integer call() {
            ContractCheck check = registry != null
                    ? ContractCheck.againstRegistry(client(), registry, pipelineName, SubjectNameStrategy.parse(subjectStrategy))
                    : ContractCheck.againstGit(level, against);
            int incompatible = 0;
            for (Map.Entry<Path, Schema> e : contracts().entrySet()) {
                ContractCheck.Outcome o = check.check(e.getKey(), e.getValue());
                String what = o.file().getFileName() + " (" + o.contract().getFullName() + ")";
                switch (o.verdict()) {
                    case UNPUBLISHED -> System.out.printf("SKIP  %s: not published under a subject of its own%n", what);
                    case NEW -> System.out.printf("OK    %s: new, nothing to compare with%n", what);
                    case COMPATIBLE -> System.out.printf("OK    %s: compatible with %s%n", what, o.basis());
                    case INCOMPATIBLE -> {
                        incompatible++;
                        System.out.printf("FAIL  %s: incompatible with %s%n", what, o.basis());
                        for (String r : o.reasons()) {
                            System.out.println("        " + r);
                        }
                    }
                }
            }
            if (incompatible > 0) {
                System.out.printf("%d contract(s) incompatible.%n", incompatible);
                return 1;
            }
            return 0;
        }
    }

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = "List the contracts and the subjects they are published under (with --registry: their latest version and id).")
    static final class ListContracts extends Common implements Callable<Integer> {
        @Override
        public Integer call() {
            RegistryClient client = registry != null ? client() : null;
            for (Map.Entry<Path, Schema> e : contracts().entrySet()) {
                Optional<String> subject = subjectOf(e.getValue());
                String where = subject.map(s -> "subject " + s).orElse("part of change envelopes");
                if (client != null && subject.isPresent()) {
                    where += client.latest(subject.get()).map(r -> ", latest version " + r.version() + " (id " + r.id() + ")")
                            .orElse(", not registered");
                }
                System.out.printf("%-26s %-40s %s%n", e.getKey().getFileName(), e.getValue().getFullName(), where);
            }
            return 0;
        }
    }

    @Command(name = "show", mixinStandardHelpOptions = true,
            description = "Print a contract (by file name or record name), or with --registry the latest schema of a subject.")
    static final class Show extends Common implements Callable<Integer> {
        @Parameters(index = "0", description = "Contract file name or record full name; with --registry, a subject.")
        String name;

        @Override
        public Integer call() {
            if (registry != null) {
                Optional<RegistryClient.Registered> r = client().latest(name);
                if (r.isEmpty()) {
                    System.err.println("understudy: subject '" + name + "' not found at " + registry);
                    return 1;
                }
                System.out.printf("subject %s, version %d, id %d%n%s%n", name, r.get().version(), r.get().id(), r.get().schema().toString(true));
                return 0;
            }
            for (Map.Entry<Path, Schema> e : contracts().entrySet()) {
                if (e.getKey().getFileName().toString().equals(name) || e.getValue().getFullName().equals(name)) {
                    System.out.println(e.getValue().toString(true));
                    return 0;
                }
            }
            System.err.println("understudy: no contract named '" + name + "' in " + dir.toAbsolutePath());
            return 1;
        }
    }
}

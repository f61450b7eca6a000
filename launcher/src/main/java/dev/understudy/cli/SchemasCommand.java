package dev.understudy.cli;

import dev.understudy.schemas.Compatibility;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.SerdeConfig;
import dev.understudy.schemas.SubjectNameStrategy;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.TableMapping;
import org.apache.avro.Schema;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/** The Avro contracts in schemas/ against the registry, or against their previous committed version. */
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

        /** Contract file -> parsed schema, sorted by file name. */
        Map<Path, Schema> contracts() {
            if (!Files.isDirectory(dir)) {
                throw new IllegalArgumentException("No contracts directory at " + dir.toAbsolutePath()
                        + "; run from the repository root or pass --dir");
            }
            Map<Path, Schema> out = new LinkedHashMap<>();
            try (Stream<Path> files = Files.list(dir)) {
                for (Path f : files.filter(p -> p.toString().endsWith(".avsc")).sorted().toList()) {
                    out.put(f, parse(Files.readString(f), f.toString()));
                }
            } catch (IOException e) {
                throw new IllegalArgumentException("Cannot read contracts in " + dir + ": " + e.getMessage(), e);
            }
            return out;
        }

        /**
         * The subject a contract is published under, if the pipeline writes it on its own: table
         * contracts on the new-schema topics, and the divergence and drift events.
         */
        Optional<String> subjectOf(Schema contract) {
            SubjectNameStrategy strategy = SubjectNameStrategy.parse(subjectStrategy);
            for (TableMapping m : Migrations.defaultMappings()) {
                if (m.targetValueSchema().getFullName().equals(contract.getFullName())) {
                    return Optional.of(strategy.subject(Topics.newSchema(pipelineName, m.targetTable()), false, contract));
                }
            }
            if (Contracts.DIVERGENCE_EVENT.getFullName().equals(contract.getFullName())) {
                return Optional.of(strategy.subject(Topics.divergence(pipelineName), false, contract));
            }
            if (Contracts.DRIFT.getFullName().equals(contract.getFullName())) {
                return Optional.of(strategy.subject(Topics.drift(pipelineName), false, contract));
            }
            return Optional.empty();
        }

        RegistryClient client() {
            return new ConfluentRegistryClient(registry, new SerdeConfig(SubjectNameStrategy.parse(subjectStrategy), true, false));
        }
    }

    static Schema parse(String json, String where) {
        try {
            return new Schema.Parser().parse(json);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("Invalid Avro schema in " + where + ": " + e.getMessage(), e);
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
            int incompatible = 0;
            for (Map.Entry<Path, Schema> e : contracts().entrySet()) {
                Path file = e.getKey();
                Schema schema = e.getValue();
                List<String> reasons;
                String basis;
                if (registry != null) {
                    Optional<String> subject = subjectOf(schema);
                    if (subject.isEmpty()) {
                        System.out.printf("SKIP  %s (%s): not published under a subject of its own%n", file.getFileName(), schema.getFullName());
                        continue;
                    }
                    RegistryClient client = client();
                    Schema latest = client.latest(subject.get()).map(RegistryClient.Registered::schema).orElse(null);
                    reasons = Compatibility.explain(client.incompatibilities(subject.get(), schema), schema, latest);
                    basis = "subject '" + subject.get() + "' at " + registry;
                } else {
                    List<Schema> previous = previousVersions(file);
                    if (previous.isEmpty()) {
                        System.out.printf("OK    %s (%s): new, nothing to compare with%n", file.getFileName(), schema.getFullName());
                        continue;
                    }
                    boolean transitive = level.toUpperCase(Locale.ROOT).endsWith("_TRANSITIVE");
                    reasons = Compatibility.explain(Compatibility.check(level, schema, transitive ? previous : previous.subList(0, 1)),
                            schema, previous.get(0));
                    basis = level.toUpperCase(Locale.ROOT) + " against " + (against != null ? against : "its previous committed version");
                }
                if (reasons.isEmpty()) {
                    System.out.printf("OK    %s (%s): compatible with %s%n", file.getFileName(), schema.getFullName(), basis);
                } else {
                    incompatible++;
                    System.out.printf("FAIL  %s (%s): incompatible with %s%n", file.getFileName(), schema.getFullName(), basis);
                    for (String r : reasons) {
                        System.out.println("        " + r);
                    }
                }
            }
            if (incompatible > 0) {
                System.out.printf("%d contract(s) incompatible.%n", incompatible);
                return 1;
            }
            return 0;
        }

        /** Earlier committed versions of {@code file}, newest first. */
        private List<Schema> previousVersions(Path file) {
            Path dirOfFile = file.toAbsolutePath().getParent();
            String name = "./" + file.getFileName();
            List<String> revisions = new ArrayList<>();
            if (against != null) {
                revisions.add(against);
            } else {
                List<String> commits = git(dirOfFile, "log", "--format=%H", "--", name);
                boolean changedSinceHead = !git(dirOfFile, "status", "--porcelain", "--", name).isEmpty();
                // Unchanged working copy: the newest commit holds this very version, so history starts one further back.
                revisions.addAll(changedSinceHead ? commits : commits.subList(Math.min(1, commits.size()), commits.size()));
            }
            List<Schema> out = new ArrayList<>();
            for (String rev : revisions) {
                List<String> text = git(dirOfFile, "show", rev + ":" + name);
                if (!text.isEmpty()) {
                    out.add(parse(String.join("\n", text), file.getFileName() + " at " + rev));
                }
            }
            return out;
        }

        private static List<String> git(Path cwd, String... args) {
            List<String> command = new ArrayList<>(List.of("git", "-C", cwd.toString()));
            command.addAll(List.of(args));
            try {
                Process p = new ProcessBuilder(command).redirectErrorStream(false).start();
                String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
                String err = new String(p.getErrorStream().readAllBytes(), StandardCharsets.UTF_8);
                if (!p.waitFor(30, TimeUnit.SECONDS) || p.exitValue() != 0) {
                    if (err.contains("exists on disk, but not in") || err.contains("does not exist in")) {
                        return List.of(); // the file is newer than that revision
                    }
                    throw new IllegalStateException("git " + String.join(" ", args) + " failed in " + cwd + ": " + err.strip()
                            + " (the git check needs the contracts inside a git repository; or pass --registry)");
                }
                return out.isEmpty() ? List.of() : List.of(out.split("\n"));
            } catch (IOException e) {
                throw new IllegalStateException("Cannot run git (" + e.getMessage() + "); install git or pass --registry", e);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("Interrupted while running git", e);
            }
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

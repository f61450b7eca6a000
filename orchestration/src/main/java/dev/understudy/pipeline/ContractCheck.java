package dev.understudy.pipeline;

import dev.understudy.schemas.Compatibility;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.SubjectNameStrategy;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.Migrations;
import dev.understudy.transform.TableMapping;
import org.apache.avro.Schema;

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
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;

/**
 * The Avro contracts of a directory ({@code schemas/src/main/resources/contracts}), checked before
 * they ship: against the subject each is published under in a schema registry, at that subject's own
 * level (what {@link ContractRegistration} will meet at the start), or without a registry against the
 * contract's earlier committed versions in git, at a given level (what CI can check on every change).
 */
public final class ContractCheck {
    /** What a check found for one contract. */
    public enum Verdict {
        /** Compatible with what it was compared with. */
        COMPATIBLE,
        /** Not in git history before: nothing to compare with. */
        NEW,
        /** Not published under a subject of its own (part of the change envelopes): nothing to check at the registry. */
        UNPUBLISHED,
        /** Incompatible: {@link Outcome#reasons()} name the field, the rule and the fix. */
        INCOMPATIBLE
    }

    /**
     * The check of one contract file.
     *
     * @param basis   what it was compared with ({@code subject 'x' at URL}, {@code BACKWARD against ...}); null for NEW and UNPUBLISHED
     * @param reasons the incompatibilities, explained; empty unless INCOMPATIBLE
     */
    public record Outcome(Path file, Schema contract, Verdict verdict, String basis, List<String> reasons) {
    }

    private final RegistryClient registry;
    private final String registryUrl;
    private final String pipelineName;
    private final SubjectNameStrategy strategy;
    private final String level;
    private final String against;

    private ContractCheck(RegistryClient registry, String registryUrl, String pipelineName, SubjectNameStrategy strategy, String level,
                          String against) {
        this.registry = registry;
        this.registryUrl = registryUrl;
        this.pipelineName = pipelineName;
        this.strategy = strategy;
        this.level = level;
        this.against = against;
    }

    /**
     * Each contract against the latest schema of its subject at {@code registry} (at {@code url}),
     * under the subject names of pipeline {@code pipelineName} with {@code strategy}.
     */
    public static ContractCheck againstRegistry(RegistryClient registry, String url, String pipelineName, SubjectNameStrategy strategy) {
        return new ContractCheck(registry, url, pipelineName, strategy, null, null);
    }

    /**
     * Each contract against its version at git revision {@code against}, or when null against its
     * previous committed versions (all of them for a {@code *_TRANSITIVE} level), at {@code level}.
     */
    public static ContractCheck againstGit(String level, String against) {
        return new ContractCheck(null, null, null, null, level, against);
    }

    /** Checks {@code contract}, read from {@code file}. */
    public Outcome check(Path file, Schema contract) {
        if (registry != null) {
            Optional<String> subject = subjectOf(contract, pipelineName, strategy);
            if (subject.isEmpty()) {
                return new Outcome(file, contract, Verdict.UNPUBLISHED, null, List.of());
            }
            Schema latest = registry.latest(subject.get()).map(RegistryClient.Registered::schema).orElse(null);
            List<String> reasons = Compatibility.explain(registry.incompatibilities(subject.get(), contract), contract, latest);
            return outcome(file, contract, "subject '" + subject.get() + "' at " + registryUrl, reasons);
        }
        List<Schema> previous = previousVersions(file);
        if (previous.isEmpty()) {
            return new Outcome(file, contract, Verdict.NEW, null, List.of());
        }
        String upper = level.toUpperCase(Locale.ROOT);
        boolean transitive = upper.endsWith("_TRANSITIVE");
        List<String> reasons = Compatibility.explain(Compatibility.check(level, contract, transitive ? previous : previous.subList(0, 1)),
                contract, previous.get(0));
        return outcome(file, contract, upper + " against " + (against != null ? against : "its previous committed version"), reasons);
    }

    private static Outcome outcome(Path file, Schema contract, String basis, List<String> reasons) {
        return new Outcome(file, contract, reasons.isEmpty() ? Verdict.COMPATIBLE : Verdict.INCOMPATIBLE, basis, List.copyOf(reasons));
    }

    /** The {@code .avsc} contracts of {@code dir}: file to parsed schema, sorted by file name. */
    public static Map<Path, Schema> contracts(Path dir) {
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
     * The subject a contract is published under by pipeline {@code pipelineName}, if the pipeline
     * writes it on its own: table contracts on the new-schema topics, and the divergence and drift
     * events (the subjects {@link ContractRegistration} registers).
     */
    public static Optional<String> subjectOf(Schema contract, String pipelineName, SubjectNameStrategy strategy) {
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

    private static Schema parse(String json, String where) {
        try {
            return new Schema.Parser().parse(json);
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("Invalid Avro schema in " + where + ": " + e.getMessage(), e);
        }
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

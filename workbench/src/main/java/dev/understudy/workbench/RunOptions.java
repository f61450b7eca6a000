package dev.understudy.workbench;

import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/** Options of the benchmarks that run a pipeline as a process of its own ({@link BenchProcess}) on the embedded stack. */
final class RunOptions {
    @Option(names = "--timezone", defaultValue = "America/Sao_Paulo", description = "PostgreSQL server time zone (default: ${DEFAULT-VALUE}).")
    String timeZone;

    @Option(names = "--heap", defaultValue = "2g",
            description = "Maximum heap of each pipeline process, as -Xmx takes it (default: ${DEFAULT-VALUE}).")
    String heap;

    @Option(names = "--jvm", paramLabel = "OPTION",
            description = "A JVM option for each Understudy pipeline process (repeatable), e.g. --jvm=-XX:+UseParallelGC; printed with the results.")
    List<String> jvm = new ArrayList<>();

    @Option(names = "--set", paramLabel = "KEY=VALUE",
            description = "A pipeline setting for the run process (repeatable), e.g. --set streams.threads=3; printed with the results.")
    Map<String, String> overrides = new TreeMap<>();

    /** The settings as printed with the results. */
    String describeOverrides() {
        return (overrides.isEmpty() ? "(defaults)" : overrides.toString()) + (jvm.isEmpty() ? "" : ", JVM options " + jvm);
    }

    /** The pipeline process's JVM options: the heap, then {@code --jvm}'s. */
    List<String> jvmOptions() {
        List<String> out = new ArrayList<>(List.of("-Xmx" + heap));
        out.addAll(jvm);
        return out;
    }
}

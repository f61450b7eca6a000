package dev.understudy.workbench;

import picocli.CommandLine.Command;

/** Benchmarks that print figures next to a baseline measured in the same run. */
@Command(name = "bench", mixinStandardHelpOptions = true,
        description = "Measure a stage on this machine against a baseline measured in the same run.",
        subcommands = {CaptureBenchmark.class, WriterBenchmark.class, TransactionBenchmark.class, VerifyBenchmark.class, LoadBenchmark.class, StreamBenchmark.class, RestartBenchmark.class})
final class BenchCommand implements Runnable {
    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

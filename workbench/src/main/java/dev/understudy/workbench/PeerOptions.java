package dev.understudy.workbench;

import picocli.CommandLine.Option;

import java.util.ArrayList;
import java.util.List;

/** The {@code --peer} option of the benchmarks that run the peer pipeline ({@link PeerProcess}) next to Understudy. */
final class PeerOptions {
    @Option(names = "--peer", split = ",", defaultValue = "batch,unnest",
            description = "Sink configurations of the peer pipeline to run after Understudy, in order: batch (JDBC batches of upserts), "
                    + "unnest (one UNNEST upsert per batch), or none (default: ${DEFAULT-VALUE}).")
    List<String> peer = List.of();

    /**
     * The configurations asked for; when there are any, their built parts are checked first, so that a
     * missing part is said before the benchmark loads anything.
     *
     * @throws IllegalArgumentException for an unknown configuration
     * @throws IllegalStateException    when the peer's parts are not built
     */
    List<PeerProcess.Sink> sinks() {
        List<PeerProcess.Sink> sinks = new ArrayList<>();
        for (String option : peer) {
            if (!option.equals("none")) {
                sinks.add(PeerProcess.Sink.of(option));
            }
        }
        if (!sinks.isEmpty()) {
            PeerProcess.peerHome();
        }
        return sinks;
    }
}

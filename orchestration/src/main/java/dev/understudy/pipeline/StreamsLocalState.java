package dev.understudy.pipeline;

import org.apache.kafka.streams.StreamsConfig;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.Properties;
import java.util.stream.Stream;

/**
 * The local state of one Kafka Streams application of the pipeline ({@code <state.dir>/<application.id>},
 * Kafka Streams' layout), and whether the process that used it last stopped cleanly: a marker file
 * {@code <state.dir>/<application.id>.running} exists from {@link #open} until {@link #closedCleanly}.
 * <p>
 * Why: under {@code exactly_once_v2} Kafka Streams keeps no checkpoint of a task's stores while the
 * task runs and writes one on a clean close only. After an unclean stop (SIGKILL, a crash) the next
 * instance finds stores without a checkpoint while opening them in its constructor, declares the tasks
 * corrupted ({@code TaskCorruptedException}), wipes them, restores them from their changelogs from the
 * start and rebalances once more. Deleting the application's local state before the instance opens it
 * leads to the same full restore without the detour and the extra rebalance. After a clean stop the
 * state is kept, and only the changelogs' tails are restored.
 */
final class StreamsLocalState {
    private static final Logger LOG = LoggerFactory.getLogger(StreamsLocalState.class);

    private final Path marker;

    private StreamsLocalState(Path marker) {
        this.marker = marker;
    }

    /** Before the application's {@code KafkaStreams} instance is created: wipes state an unclean stop left, and marks it in use. */
    static StreamsLocalState open(Properties streamsProperties) {
        String applicationId = streamsProperties.getProperty(StreamsConfig.APPLICATION_ID_CONFIG);
        Path stateDir = Path.of(streamsProperties.getProperty(StreamsConfig.STATE_DIR_CONFIG));
        Path marker = stateDir.resolve(applicationId + ".running");
        try {
            if (Files.exists(marker)) {
                Path state = stateDir.resolve(applicationId);
                LOG.info("Kafka Streams application {} did not stop cleanly last time: its local state in {} is restored from its "
                        + "changelogs", applicationId, state);
                deleteRecursively(state);
            }
            Files.createDirectories(stateDir);
            Files.writeString(marker, Long.toString(ProcessHandle.current().pid()), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot prepare the Kafka Streams state directory " + stateDir + " (streams.state.dir): "
                    + e.getMessage() + "; make it writable by this process", e);
        }
        return new StreamsLocalState(marker);
    }

    /** After the instance closed within its timeout: the state it leaves is consistent with its checkpoints. */
    void closedCleanly() {
        try {
            Files.deleteIfExists(marker);
        } catch (IOException e) {
            LOG.warn("Cannot delete {} ({}); the next start restores that application's state from its changelogs", marker, e.toString());
        }
    }

    private static void deleteRecursively(Path root) throws IOException {
        if (!Files.exists(root)) {
            return;
        }
        try (Stream<Path> paths = Files.walk(root)) {
            for (Path p : paths.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}

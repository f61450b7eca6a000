package dev.understudy.transform;

import dev.understudy.schemas.config.ConfigKey;

import java.nio.file.Path;
import java.util.List;

/**
 * The keys the Streams stage reads: how the comparison decides a disagreement is real
 * ({@link ComparisonSettings}) and how the Streams applications run ({@link StreamsProperties}).
 * Declared here, next to what reads them; the pipeline composes {@link #KEYS} into its configuration.
 */
public final class TransformConfig {
    private TransformConfig() {
    }

    /** The {@link #COMPARISON_MODE} in which no shadow writer runs: the comparison gets no {@link WriterProgress}. */
    public static final String DUAL_WRITE = "dual-write";

    public static final ConfigKey<String> COMPARISON_MODE = ConfigKey.choice("comparison.mode", "lsn", List.of("lsn", DUAL_WRITE),
            "lsn: the shadow writer fills the target, and a key that disagrees stays pending while the writer has not applied the change"
                    + " behind its expected row (its position, read from the target), however slow it is. dual-write: no shadow writer runs,"
                    + " an application writes both databases, and a disagreement is reported once it outlives comparison.settle.ms.");
    public static final ConfigKey<Long> SETTLE_MS = ConfigKey.positiveLong("comparison.settle.ms", 5000,
            "Milliseconds a disagreement must last before it is reported as diverged: in lsn mode counted from when the target capture"
                    + " delivered the writer's application of the key's change, in dual-write mode from the first disagreement.");
    public static final ConfigKey<Integer> STREAMS_THREADS = ConfigKey.positiveInt("streams.threads", 1,
            "Kafka Streams threads in this process.");
    /**
     * Under the temporary directory by default, so a first run needs no setting; a stable directory
     * lets a restarted instance reuse its RocksDB state (see {@link StreamsProperties}).
     */
    public static final ConfigKey<String> STATE_DIR = ConfigKey.string("streams.state.dir",
            Path.of(System.getProperty("java.io.tmpdir"), "understudy-streams").toString(),
            "Directory of Kafka Streams state stores (RocksDB).");

    /** Every key the Streams stage reads, for the pipeline to compose into its configuration. */
    public static final List<ConfigKey<?>> KEYS = List.of(COMPARISON_MODE, SETTLE_MS, STREAMS_THREADS, STATE_DIR);

    /** Whether {@code mode} (a {@link #COMPARISON_MODE} value, any case) is dual-write. */
    public static boolean dualWrite(String mode) {
        return DUAL_WRITE.equalsIgnoreCase(mode);
    }
}

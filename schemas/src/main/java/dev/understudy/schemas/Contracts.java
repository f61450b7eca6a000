package dev.understudy.schemas;

import org.apache.avro.Schema;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;

/** The Avro contracts shipped in {@code schemas/src/main/resources/contracts}. */
public final class Contracts {
    /** Divergence events on the divergence topic. */
    public static final Schema DIVERGENCE_EVENT = load("divergence-event.avsc");
    /** Per-table, per-partition drift counts on the drift topic. */
    public static final Schema DRIFT = load("drift.avsc");
    public static final Schema VERIFY_RESULT = load("verify-result.avsc");
    public static final Schema CUTOVER_DECISION = load("cutover-decision.avsc");
    /** The {@code source} block of every change event. */
    public static final Schema SOURCE = load("source.avsc");

    private Contracts() {
    }

    /** Loads {@code contracts/<file>} from the classpath; fails naming the file. */
    public static Schema load(String file) {
        String path = "contracts/" + file;
        try (InputStream in = Contracts.class.getClassLoader().getResourceAsStream(path)) {
            if (in == null) {
                throw new IllegalStateException("Avro contract '" + path + "' is not on the classpath");
            }
            return new Schema.Parser().parse(in);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot read Avro contract '" + path + "'", e);
        }
    }
}

package dev.understudy.transform.internals;

import org.apache.kafka.common.serialization.Serde;

/**
 * Processors here forward records of different types to different named sinks
 * ({@code ProcessorContext#forward(Record, String childName)}), so their output stream is typed
 * {@code <Object, Object>}; each sink's serde sees only the type its processor sends it.
 */
public final class Sinks {
    private Sinks() {
    }

    @SuppressWarnings("unchecked")
    public static Serde<Object> widen(Serde<?> serde) {
        return (Serde<Object>) serde;
    }
}

package dev.understudy.transform;

import java.time.Duration;
import java.util.Objects;

/**
 * Timing of the comparison.
 *
 * @param settleWindow      how long a key must stay in disagreement before it is reported. With
 *                          {@code writerProgress}, counted from when the target capture delivered the
 *                          writer's application of the change that produced the key's expected row (the
 *                          comparison's own reading delay is all it has to cover); without (dual-write
 *                          mode: the application writes both databases),
 *                          from when the key first disagreed, so it must exceed the whole in-flight delay.
 * @param punctuateInterval how often each task looks for keys that outlived the settle window (and
 *                          publishes drift counts); bounds how late past the window a report can be.
 * @param writerProgress    the shadow writer's applied and delivered positions, or null in dual-write mode
 */
public record ComparisonSettings(Duration settleWindow, Duration punctuateInterval, WriterProgress writerProgress) {
    public static final Duration DEFAULT_SETTLE_WINDOW = Duration.ofSeconds(2);
    public static final Duration DEFAULT_PUNCTUATE_INTERVAL = Duration.ofMillis(500);

    public ComparisonSettings {
        Objects.requireNonNull(settleWindow, "settleWindow");
        Objects.requireNonNull(punctuateInterval, "punctuateInterval");
        if (settleWindow.isNegative()) {
            throw new IllegalArgumentException("settleWindow must not be negative, was " + settleWindow);
        }
        // Kafka Streams rejects punctuation intervals below one millisecond.
        if (punctuateInterval.toMillis() < 1) {
            throw new IllegalArgumentException("punctuateInterval must be at least 1 ms, was " + punctuateInterval);
        }
    }

    /** Dual-write mode: the settle window counts from when a key first disagreed. */
    public ComparisonSettings(Duration settleWindow, Duration punctuateInterval) {
        this(settleWindow, punctuateInterval, null);
    }

    /** These settings aligned with the shadow writer's applied positions. */
    public ComparisonSettings withWriterProgress(WriterProgress progress) {
        return new ComparisonSettings(settleWindow, punctuateInterval, progress);
    }

    /** A 2 s settle window checked every 500 ms, dual-write mode. */
    public static ComparisonSettings defaults() {
        return new ComparisonSettings(DEFAULT_SETTLE_WINDOW, DEFAULT_PUNCTUATE_INTERVAL);
    }
}

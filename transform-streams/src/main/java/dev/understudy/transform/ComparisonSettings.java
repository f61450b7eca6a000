package dev.understudy.transform;

import java.time.Duration;
import java.util.Objects;

/**
 * Timing of the comparison.
 *
 * @param settleWindow      how long a key must stay in disagreement before it is reported. The writer
 *                          and the target capture trail the expected stream, so every change is briefly
 *                          "missing" from the target; the window must exceed that normal in-flight delay.
 * @param punctuateInterval how often each task looks for keys that outlived the settle window (and
 *                          publishes drift counts); bounds how late past the window a report can be.
 */
public record ComparisonSettings(Duration settleWindow, Duration punctuateInterval) {
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

    /** A 2 s settle window checked every 500 ms. */
    public static ComparisonSettings defaults() {
        return new ComparisonSettings(DEFAULT_SETTLE_WINDOW, DEFAULT_PUNCTUATE_INTERVAL);
    }
}

package dev.understudy.transform.internals;

/**
 * Store names of one table's comparison; their changelogs are {@code <application.id>-<store>-changelog}.
 * All are keyed by the target key's serialized bytes.
 *
 * @param expected key → the expected row, as on the new-schema topic (wire-format Avro); absent once deleted
 * @param actual   key → the latest target change envelope holding the row (wire-format Avro); absent once deleted
 * @param pending  key → wall-clock ms when the key started to disagree, while inside the settle window
 * @param open     key → the divergence last reported for the key and since when it has been open
 * @param expectedSource key → where the latest expected change came from: its new-schema offset, source LSN
 *                 and generation (kept for deletes too), for LSN alignment and the events
 * @param actualRead {@value ComparisonProcessor#ACTUAL_READ_KEY} → the offset of the last target change the task
 *                 read, so that a restarted task knows how far it has read
 */
public record ComparisonStoreNames(String expected, String actual, String pending, String open, String expectedSource, String actualRead) {
    /** The stores of the comparison processor named {@code node}. */
    public static ComparisonStoreNames of(String node) {
        return new ComparisonStoreNames(node + "-expected", node + "-actual", node + "-pending", node + "-open", node + "-expected-source",
                node + "-actual-read");
    }
}

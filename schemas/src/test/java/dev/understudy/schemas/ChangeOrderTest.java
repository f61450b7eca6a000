package dev.understudy.schemas;

import org.apache.kafka.common.header.Headers;
import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ChangeOrderTest {

    private static ChangeOrder row(long lineage, long version, long joinedVersion, long generation) {
        return new ChangeOrder(lineage, version, joinedVersion, generation, false);
    }

    private static ChangeOrder tombstone(long lineage, long version, long joinedVersion, long generation) {
        return new ChangeOrder(lineage, version, joinedVersion, generation, true);
    }

    @Test
    void withinALineageTheVersionDecidesBeforeTheGeneration() {
        // Generation 2 re-reading history below what generation 1 applied loses ...
        assertFalse(row(0, 100, 0, 2).isAfter(row(0, 500, 0, 1)));
        // ... and at the same change it wins, so the new spec's row replaces the old one.
        assertTrue(row(0, 500, 0, 2).isAfter(row(0, 500, 0, 1)));
        assertTrue(tombstone(0, 500, 0, 2).isAfter(row(0, 500, 0, 1)));
        // A later change wins whichever generation made it.
        assertTrue(row(0, 600, 0, 1).isAfter(row(0, 500, 0, 2)));
    }

    @Test
    void theJoinedVersionOrdersOneDrivingStateBeforeTheGenerationDoes() {
        // Generation 1 applied the order joined with the customer's newer state: generation 2's result for
        // an older customer state is older, its result for the same state replaces it.
        assertFalse(row(0, 500, 700, 2).isAfter(row(0, 500, 900, 1)));
        assertTrue(row(0, 500, 900, 2).isAfter(row(0, 500, 900, 1)));
        assertTrue(row(0, 501, 0, 1).isAfter(row(0, 500, 900, 2)));
    }

    @Test
    void aNewLineageOutranksOlderOnesWhateverTheVersions() {
        assertTrue(row(2, 0, 0, 2).isAfter(row(0, 9_000, 9_000, 1)));
        assertTrue(tombstone(2, -1, 0, 2).isAfter(row(0, 9_000, 0, 1)));
        assertFalse(row(0, 9_000, 0, 3).isAfter(row(2, 0, 0, 2)));
    }

    @Test
    void atATieARowWinsOverATombstone() {
        assertTrue(row(0, 500, 0, 1).isAfter(tombstone(0, 500, 0, 1)));
        assertFalse(tombstone(0, 500, 0, 1).isAfter(row(0, 500, 0, 1)));
        assertEquals(0, row(0, 500, 0, 1).compareTo(row(0, 500, 0, 1)));
    }

    @Test
    void theHeadersCarryTheOrderAndAbsentOnesMeanZero() {
        Headers headers = ChangeHeaders.forRow(500, 900, 500, new ChangeHeaders.Stamp(3, 2), 7L, 480L, "u");
        assertEquals(row(2, 500, 900, 3), ChangeOrder.of(headers, false));
        assertEquals(new ChangeHeaders.Stamp(3, 2), ChangeHeaders.Stamp.of(headers));

        Headers plain = ChangeHeaders.forRow(500, 0, 500, ChangeHeaders.Stamp.NONE, null, null, "c");
        assertEquals(row(0, 500, 0, 0), ChangeOrder.of(plain, false));
        assertEquals(null, plain.lastHeader(ChangeHeaders.LINEAGE));
        assertEquals(null, plain.lastHeader(ChangeHeaders.JOINED_VERSION));

        Headers sweep = ChangeHeaders.forSyntheticDelete(500, 900, new ChangeHeaders.Stamp(3, 0));
        assertEquals(tombstone(0, 500, 900, 3), ChangeOrder.of(sweep, true));
        assertTrue(ChangeOrder.of(sweep, true).isAfter(row(0, 500, 900, 2)));
        assertFalse(ChangeOrder.of(sweep, true).isAfter(row(0, 500, 900, 3)));
    }
}

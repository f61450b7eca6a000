package dev.understudy.transform.internals;

import org.junit.jupiter.api.Test;

import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;

class OpenDivergenceTest {
    @Test
    void roundTripsThroughItsStoreFormat() {
        OpenDivergence open = new OpenDivergence(new Divergence(Divergence.Kind.MISMATCH, List.of(
                new Divergence.FieldDifference("full_name", "Ada Lovelace", null),
                new Divergence.FieldDifference("email", null, "é@example.com"))), 1_893_456_000_000L);
        assertEquals(open, OpenDivergence.decode(open.encode()));
    }

    @Test
    void roundTripsKindsWithoutFields() {
        OpenDivergence open = new OpenDivergence(new Divergence(Divergence.Kind.MISSING, List.of()), 7L);
        assertEquals(open, OpenDivergence.decode(open.encode()));
    }
}

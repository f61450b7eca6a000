package dev.understudy.testkit;

import org.junit.jupiter.api.Test;

import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ProjectionCheckTest {
    @Test
    void equalSidesMatch() {
        Map<String, List<String>> rows = rows("PO-1", "Ada|100|1", "PO-2", "Bob|200|2");
        ProjectionCheck.Result r = ProjectionCheck.compare(false, rows, new TreeMap<>(rows));
        assertTrue(r.matches());
        assertEquals("legacy join 2 rows, target 2 rows: 2 matching, 0 mismatched, 0 missing in target, 0 extra in target", r.counts());
        assertTrue(r.samples().isEmpty());
    }

    @Test
    void countsEachKindOfDifferenceWithSampleKeys() {
        Map<String, List<String>> legacy = rows("PO-1", "Ada|100|1", "PO-2", "Bob|200|2", "PO-3", "Cy|300|3");
        Map<String, List<String>> target = rows("PO-1", "Ada|100|1", "PO-2", "Bob|201|2", "PO-9", "Zed|900|9");
        ProjectionCheck.Result r = ProjectionCheck.compare(false, legacy, target);
        assertFalse(r.matches());
        assertEquals(1, r.matching());
        assertEquals(1, r.mismatched());
        assertEquals(1, r.missing());
        assertEquals(1, r.extra());
        assertEquals(List.of("mismatched: PO-2", "missing in target: PO-3", "extra in target: PO-9"), r.samples());
    }

    @Test
    void nullCountryDiffersFromAnEmptyOne() {
        Map<String, List<String>> legacy = new TreeMap<>(Map.of("PO-1", Arrays.asList("Ada", "100", "1", null)));
        Map<String, List<String>> target = new TreeMap<>(Map.of("PO-1", Arrays.asList("Ada", "100", "1", "")));
        assertEquals(1, ProjectionCheck.compare(true, legacy, target).mismatched());
        assertTrue(ProjectionCheck.compare(true, legacy, new TreeMap<>(legacy)).matches());
    }

    @Test
    void keepsAtMostFiveSampleKeys() {
        Map<String, List<String>> legacy = new TreeMap<>();
        for (int i = 0; i < 20; i++) {
            legacy.put("PO-" + i, List.of("x"));
        }
        ProjectionCheck.Result r = ProjectionCheck.compare(false, legacy, new TreeMap<>());
        assertEquals(20, r.missing());
        assertEquals(5, r.missingSamples().size());
    }

    private static Map<String, List<String>> rows(String... keyAndColumns) {
        Map<String, List<String>> out = new TreeMap<>();
        for (int i = 0; i + 1 < keyAndColumns.length; i += 2) {
            out.put(keyAndColumns[i], List.of(keyAndColumns[i + 1].split("\\|")));
        }
        return out;
    }
}

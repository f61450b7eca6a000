package dev.understudy.dlq;

import java.util.Collections;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;

/**
 * Counts of dead letters by stage, table and SQLSTATE, each sorted by name.
 *
 * @param total      how many letters
 * @param byStage    letters per {@link DeadLetter#stage()}
 * @param byTable    letters per table, {@code (unknown)} for letters that name none
 * @param bySqlState letters per SQLSTATE, {@code (none)} for letters without one (all but the writer's)
 */
public record DeadLetterSummary(long total, Map<String, Long> byStage, Map<String, Long> byTable, Map<String, Long> bySqlState) {
    public static DeadLetterSummary of(List<DeadLetter> letters) {
        Map<String, Long> byStage = new TreeMap<>();
        Map<String, Long> byTable = new TreeMap<>();
        Map<String, Long> bySqlState = new TreeMap<>();
        for (DeadLetter l : letters) {
            byTable.merge(l.table() == null ? "(unknown)" : l.table(), 1L, Long::sum);
            bySqlState.merge(l.sqlState() == null ? "(none)" : l.sqlState(), 1L, Long::sum);
            byStage.merge(l.stage(), 1L, Long::sum);
        }
        return new DeadLetterSummary(letters.size(), Collections.unmodifiableMap(byStage), Collections.unmodifiableMap(byTable),
                Collections.unmodifiableMap(bySqlState));
    }

    /**
     * The summary of the letters read from {@code topic}, of which {@code shown} were printed, as
     * named fields in a fixed order ({@code "type":"summary"} first): one JSON object.
     */
    public Map<String, Object> fields(String topic, long shown) {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("type", "summary");
        m.put("topic", topic);
        m.put("dead_letters", total);
        m.put("shown", shown);
        m.put("by_stage", byStage);
        m.put("by_table", byTable);
        m.put("by_sqlstate", bySqlState);
        return m;
    }
}

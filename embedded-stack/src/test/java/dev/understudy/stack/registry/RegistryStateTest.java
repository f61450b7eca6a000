package dev.understudy.stack.registry;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Records as a Confluent registry writes them to {@code _schemas} (extra properties, null subjects,
 * tombstones, key types this registry does not use) rebuild the same state.
 */
class RegistryStateTest {
    private static final String SCHEMA = "{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}";

    private static RegistryRecord schema(String subject, int version, int id, boolean deleted) {
        return new RegistryRecord("{\"keytype\":\"SCHEMA\",\"subject\":\"" + subject + "\",\"version\":" + version + ",\"magic\":1}",
                "{\"subject\":\"" + subject + "\",\"version\":" + version + ",\"id\":" + id + ",\"references\":[],"
                        + "\"schema\":" + RegistryRecord.JSON.createObjectNode().textNode(SCHEMA) + ",\"deleted\":" + deleted + "}");
    }

    @Test
    void appliesConfluentRecordsInOrder() {
        RegistryState state = new RegistryState();
        List<RegistryRecord> records = List.of(
                new RegistryRecord("{\"keytype\":\"NOOP\",\"magic\":0}", null),
                new RegistryRecord("{\"keytype\":\"CONFIG\",\"subject\":null,\"magic\":0}",
                        "{\"compatibilityLevel\":\"FULL\",\"alias\":null,\"normalize\":null}"),
                new RegistryRecord("{\"keytype\":\"CONTEXT\",\"tenant\":\"default\",\"context\":\".\",\"magic\":0}", "{}"),
                schema("a-value", 1, 7, false),
                schema("a-value", 2, 9, false),
                schema("b-value", 1, 7, false),
                new RegistryRecord("{\"keytype\":\"MODE\",\"subject\":\"b-value\",\"magic\":0}", "{\"mode\":\"READONLY\"}"),
                new RegistryRecord("{\"keytype\":\"DELETE_SUBJECT\",\"subject\":\"a-value\",\"magic\":0}",
                        "{\"subject\":\"a-value\",\"version\":1}"),
                new RegistryRecord("{\"keytype\":\"SCHEMA\",\"subject\":\"b-value\",\"version\":1,\"magic\":1}", null),
                new RegistryRecord("not json", "{}"));
        records.forEach(state::apply);

        assertEquals(10, state.appliedRecords());
        assertEquals(List.of("a-value"), state.subjects(true));
        assertEquals(List.of(2), state.versions("a-value", false).stream().map(RegistryState.Version::version).toList(),
                "DELETE_SUBJECT marks versions up to its version deleted, not later ones");
        assertTrue(state.version("a-value", 1).orElseThrow().deleted());
        assertEquals(Optional.of("FULL"), state.compatibility(null));
        assertEquals(Optional.of("READONLY"), state.mode("b-value"));
        assertEquals(9, state.maxId());
        assertEquals(Optional.of(7), state.idOf("AVRO", SCHEMA), "the id survives while a deleted version holds it");
        assertEquals(List.of(), state.versions("b-value", true), "the tombstone removed b-value's version");

        state.apply(new RegistryRecord("{\"keytype\":\"CLEAR_SUBJECT\",\"subject\":\"a-value\",\"magic\":0}",
                "{\"subject\":\"a-value\"}"));
        assertEquals(List.of(2), state.versions("a-value", true).stream().map(RegistryState.Version::version).toList(),
                "CLEAR_SUBJECT drops the soft-deleted versions");
        state.apply(new RegistryRecord("{\"keytype\":\"CONFIG\",\"subject\":null,\"magic\":0}", null));
        assertEquals(Optional.empty(), state.compatibility(null));
        assertEquals(9, state.maxId(), "deletes never lower the id counter");
    }
}

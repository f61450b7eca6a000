package dev.understudy.stack.registry;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Ids, versions, deletes and settings as Confluent's KafkaSchemaRegistry assigns them, and replay of the log. */
class LogSchemaStoreTest {
    private static final String AVRO = "AVRO";
    private static final String A = "{\"type\":\"record\",\"name\":\"A\",\"fields\":[{\"name\":\"x\",\"type\":\"int\"}]}";
    private static final String B = "{\"type\":\"record\",\"name\":\"B\",\"fields\":[{\"name\":\"y\",\"type\":\"int\"}]}";
    private static final String C = "{\"type\":\"record\",\"name\":\"C\",\"fields\":[{\"name\":\"z\",\"type\":\"int\"}]}";

    private final InMemoryRegistryLog log = new InMemoryRegistryLog();
    private final LogSchemaStore store = new LogSchemaStore(log);

    @Test
    void idsAreGlobalAndNeverReused() {
        store.setCompatibility(null, "NONE");
        assertEquals(1, store.register("s", AVRO, A).id());
        assertEquals(2, store.register("s", AVRO, B).id());
        assertEquals(1, store.register("t", AVRO, A).id(), "same schema, other subject: same id");
        store.deleteSubject("s", false);
        store.deleteSubject("s", true);
        store.deleteSubject("t", false);
        store.deleteSubject("t", true);
        assertEquals(Optional.empty(), store.schemaById(1));
        assertEquals(3, store.register("s", AVRO, C).id(), "ids survive permanent deletes");
        assertEquals(4, store.register("s", AVRO, A).id(), "a permanently deleted schema gets a new id");
    }

    @Test
    void versionsAreNotReusedAfterSoftDeletes() {
        store.setCompatibility(null, "NONE");
        store.register("s", AVRO, A);
        store.register("s", AVRO, B);
        assertEquals(2, store.deleteVersion("s", "latest", false));
        RegisteredSchema again = store.register("s", AVRO, B);
        assertEquals(3, again.version(), "re-registering a soft-deleted schema makes a new version");
        assertEquals(2, again.id(), "with the same id");
        assertEquals(again, store.register("s", AVRO, B), "re-registering a live schema changes nothing");
        assertEquals(List.of(1, 3), store.versions("s", false));
        assertEquals(List.of(1, 2, 3), store.versions("s", true));

        assertEquals(List.of(1, 3), store.deleteSubject("s", false));
        assertEquals(List.of(1, 2, 3), store.deleteSubject("s", true));
        assertEquals(1, store.register("s", AVRO, C).version(), "after a permanent delete versions restart at 1");
    }

    @Test
    void deleteRules() {
        store.register("s", AVRO, A);
        assertEquals(40407, assertThrows(ApiError.class, () -> store.deleteVersion("s", "1", true)).errorCode());
        assertEquals(40405, assertThrows(ApiError.class, () -> store.deleteSubject("s", true)).errorCode());
        store.deleteVersion("s", "1", false);
        assertEquals(40406, assertThrows(ApiError.class, () -> store.deleteVersion("s", "1", false)).errorCode());
        assertEquals(40404, assertThrows(ApiError.class, () -> store.deleteSubject("s", false)).errorCode());
        assertEquals(40401, assertThrows(ApiError.class, () -> store.deleteSubject("nope", false)).errorCode());
        assertEquals(1, store.deleteVersion("s", "1", true));
        assertEquals(List.of(), store.subjects(true));
    }

    @Test
    void readOnlyRefusesWrites() {
        store.register("s", AVRO, A);
        store.setMode("s", "READONLY");
        assertEquals(42205, assertThrows(ApiError.class, () -> store.register("s", AVRO, B)).errorCode());
        assertEquals(42205, assertThrows(ApiError.class, () -> store.deleteSubject("s", false)).errorCode());
        store.register("t", AVRO, B);
        store.setMode(null, "READONLY");
        assertEquals(42205, assertThrows(ApiError.class, () -> store.register("t", AVRO, C)).errorCode());
        assertEquals(42204, assertThrows(ApiError.class, () -> store.setMode(null, "SLEEPY")).errorCode());
        assertEquals(42203, assertThrows(ApiError.class, () -> store.setCompatibility(null, "SIDEWAYS")).errorCode());
    }

    @Test
    void replayingTheLogRebuildsTheSameState() {
        store.setCompatibility(null, "FULL");
        store.setCompatibility("s", "NONE");
        store.setMode("t", "READONLY");
        store.register("s", AVRO, A);
        store.register("s", AVRO, B);
        store.register("u", AVRO, C);
        store.deleteVersion("s", "1", false);
        store.deleteSubject("u", false);

        LogSchemaStore replayed = new LogSchemaStore(new InMemoryRegistryLog(log.records()));
        assertEquals(store.subjects(true), replayed.subjects(true));
        assertEquals(store.subjects(false), replayed.subjects(false));
        for (String subject : List.of("s", "t", "u")) {
            assertEquals(store.versions(subject, true), replayed.versions(subject, true), subject);
            assertEquals(store.versions(subject, false), replayed.versions(subject, false), subject);
            assertEquals(store.compatibility(subject), replayed.compatibility(subject), subject);
            assertEquals(store.mode(subject), replayed.mode(subject), subject);
        }
        assertEquals(Optional.of("FULL"), replayed.compatibility(null));
        assertEquals(store.version("s", 2, false), replayed.version("s", 2, false));
        assertEquals(4, replayed.register("v", AVRO,
                "{\"type\":\"record\",\"name\":\"D\",\"fields\":[]}").id(), "the id counter is rebuilt too");
    }

    @Test
    void recordsUseConfluentsLayout() {
        store.register("s", AVRO, A);
        store.setCompatibility(null, "FULL");
        store.setMode("s", "READONLY");
        List<RegistryRecord> records = log.records();
        assertEquals("{\"keytype\":\"SCHEMA\",\"subject\":\"s\",\"version\":1,\"magic\":1}", records.get(0).key());
        assertTrue(records.get(0).value().startsWith("{\"subject\":\"s\",\"version\":1,\"id\":1,\"schema\":"), records.get(0).value());
        assertTrue(records.get(0).value().endsWith(",\"deleted\":false}"), records.get(0).value());
        assertEquals(new RegistryRecord("{\"keytype\":\"CONFIG\",\"subject\":null,\"magic\":0}", "{\"compatibilityLevel\":\"FULL\"}"),
                records.get(1));
        assertEquals(new RegistryRecord("{\"keytype\":\"MODE\",\"subject\":\"s\",\"magic\":0}", "{\"mode\":\"READONLY\"}"),
                records.get(2));
    }
}

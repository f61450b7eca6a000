package dev.understudy.capture;

import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CaptureSettingsTest {
    private static CaptureSettings settings(String name) {
        return new CaptureSettings(name, "legacy", "jdbc:postgresql://localhost:5432/app", "u", "p", List.of("public.users"),
                "understudy", "localhost:9092", "understudy_legacy", "understudy_legacy", "understudy.offsets.legacy", 1,
                CaptureConfig.of(Map.of(CaptureConfig.MAX_BATCH_SIZE.name(), "2048")));
    }

    @Test
    void defaultSignalTableIsDerivedFromTheCaptureName() {
        assertEquals("public.understudy_legacy_signal", settings("understudy-legacy").signalTable());
        assertEquals("public.my_app_v2_legacy_signal", CaptureSettings.defaultSignalTable("My App.v2-legacy"));
        assertEquals("public.c_9lives_signal", CaptureSettings.defaultSignalTable("9lives"));
        assertEquals("public.c__signal", CaptureSettings.defaultSignalTable(""));
        String longName = CaptureSettings.defaultSignalTable("x".repeat(100));
        assertTrue(longName.endsWith("_signal"));
        // The heartbeat table shares the stem and has the longer suffix: it uses the whole 63 bytes.
        String heartbeat = CaptureSettings.defaultHeartbeatTable("x".repeat(100));
        assertEquals(63, heartbeat.length() - "public.".length());
        assertEquals(longName.replace("_signal", "_heartbeat"), heartbeat);
        assertEquals("public.understudy_legacy_heartbeat", settings("understudy-legacy").heartbeatTable());
        assertNull(settings("understudy-legacy").withSignalTable(null).heartbeatTable());
    }

    @Test
    void signalTableMustBeQualifiedAndLowerCase() {
        CaptureSettings s = settings("understudy-legacy");
        assertEquals("audit.signals", s.withSignalTable("audit.signals").signalTable());
        assertNull(s.withSignalTable(null).signalTable());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> s.withSignalTable("signals"));
        assertTrue(e.getMessage().contains("public.understudy_legacy_signal"), e.getMessage());
        assertThrows(IllegalArgumentException.class, () -> s.withSignalTable("public.Signals"));
        assertThrows(IllegalArgumentException.class, () -> s.withSignalTable("public.x; DROP TABLE y"));
    }

    @Test
    void debeziumPropertiesEnableSourceSignalsAndSinkNotifications() {
        Properties p = settings("understudy-legacy").debeziumProperties();
        assertEquals("public.understudy_legacy_signal", p.getProperty("signal.data.collection"));
        assertEquals("source", p.getProperty("signal.enabled.channels"));
        assertEquals("4096", p.getProperty("incremental.snapshot.chunk.size"));
        assertEquals("sink", p.getProperty("notification.enabled.channels"));
        assertEquals("understudy.legacy.__notifications", p.getProperty("notification.sink.topic.name"));

        Properties off = settings("understudy-legacy").withSignalTable(null).debeziumProperties();
        assertNull(off.getProperty("signal.data.collection"));
        assertNull(off.getProperty("incremental.snapshot.chunk.size"));
    }

    @Test
    void executeSnapshotPayloadIsDebeziumsJson() {
        assertEquals("{\"data-collections\": [\"public.customers\", \"public.orders\"], \"type\": \"incremental\"}",
                Signals.executeSnapshotData(List.of("public.customers", "public.orders"), Map.of()));
        assertEquals("{\"data-collections\": [\"a.\\\"b\\\\\"], \"type\": \"incremental\"}",
                Signals.executeSnapshotData(List.of("a.\"b\\"), Map.of()));
        assertEquals("{\"data-collections\": [\"public.orders\"], \"type\": \"incremental\", \"additional-conditions\": "
                        + "[{\"data-collection\": \"public.orders\", \"filter\": \"(id) IN ('1', 'a\\\"b')\"}]}",
                Signals.executeSnapshotData(List.of("public.orders"), Map.of("public.orders", "(id) IN ('1', 'a\"b')")));
    }
}

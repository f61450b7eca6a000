package dev.understudy.workbench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.Reader;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PeerProcessTest {
    @Test
    void settingsFilesReadBackAsKafkaConnectReadsThem(@TempDir Path dir) throws Exception {
        Map<String, String> settings = new LinkedHashMap<>();
        settings.put("transforms.rename.renames", "name:full_name");
        settings.put("transforms.rename.type", "org.apache.kafka.connect.transforms.ReplaceField$Value");
        settings.put("offset.storage.file.filename", "C:\\work\\offsets = here");
        settings.put("plugin.path", "/a/plugins,/b/plugins");
        Path file = PeerProcess.write(dir.resolve("sink.properties"), settings);
        // Kafka Connect standalone reads its files with java.util.Properties (Utils.loadProps).
        Properties read = new Properties();
        try (Reader in = Files.newBufferedReader(file, StandardCharsets.UTF_8)) {
            read.load(in);
        }
        assertEquals(settings.size(), read.size());
        settings.forEach((k, v) -> assertEquals(v, read.getProperty(k), k));
    }

    @Test
    void theDatabaseIsTakenFromTheJdbcUrl() {
        assertEquals("legacy", PeerProcess.databaseOf("jdbc:postgresql://localhost:5432/legacy"));
        assertEquals("bench_load_peer_batch", PeerProcess.databaseOf("jdbc:postgresql://127.0.0.1:1/bench_load_peer_batch?sslmode=disable"));
    }

    @Test
    void sinkConfigurationsAreNamedByTheirOption() {
        assertEquals(PeerProcess.Sink.UNNEST, PeerProcess.Sink.of("unnest"));
        assertEquals("batch", PeerProcess.Sink.BATCH.option());
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PeerProcess.Sink.of("bulk"));
        assertTrue(e.getMessage().contains("'bulk'") && e.getMessage().contains("batch or unnest"), e.getMessage());
    }
}

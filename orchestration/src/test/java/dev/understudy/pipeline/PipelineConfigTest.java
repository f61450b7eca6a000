package dev.understudy.pipeline;

import dev.understudy.capture.CaptureConfig;
import dev.understudy.schemas.config.ConfigKey;
import dev.understudy.transform.TransformConfig;
import dev.understudy.writer.ShadowWriterConfig;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipelineConfigTest {
    private static Map<String, String> valid() {
        Map<String, String> m = new HashMap<>();
        m.put("legacy.jdbc.url", "jdbc:postgresql://localhost:5432/legacy");
        m.put("legacy.user", "postgres");
        m.put("legacy.password", "s3cret-legacy");
        m.put("target.jdbc.url", "jdbc:postgresql://localhost:5433/target");
        m.put("target.user", "postgres");
        m.put("target.password", "s3cret-target");
        m.put("kafka.bootstrap.servers", "localhost:9092");
        m.put("registry.url", "http://localhost:8081");
        return m;
    }

    @Test
    void validConfigGetsDefaults() {
        PipelineConfig c = PipelineConfig.parse(valid(), "test");
        assertEquals("understudy", c.get(PipelineConfig.PIPELINE_NAME));
        assertEquals(3, c.get(PipelineConfig.TOPIC_PARTITIONS));
        assertEquals(10L, c.get(CaptureConfig.POLL_INTERVAL_MS));
    }

    @Test
    void stageKeysAreComposedAndReadThroughThePipelineConfig() {
        for (List<ConfigKey<?>> stage : List.of(PipelineConfig.OWN_KEYS, CaptureConfig.KEYS, TransformConfig.KEYS, ShadowWriterConfig.KEYS)) {
            assertTrue(PipelineConfig.KEYS.containsAll(stage), stage.toString());
        }
        Map<String, String> m = valid();
        m.put("capture.incremental.snapshot.chunk.size", "512");
        m.put("writer.max.batch.records", "200");
        m.put("comparison.mode", "dual-write");
        PipelineConfig c = PipelineConfig.parse(m, "test");
        assertEquals(512, c.get(CaptureConfig.INCREMENTAL_SNAPSHOT_CHUNK_SIZE));
        assertEquals(200, c.get(ShadowWriterConfig.MAX_BATCH_RECORDS));
        assertTrue(TransformConfig.dualWrite(c.get(TransformConfig.COMPARISON_MODE)));
        assertEquals(5000L, c.get(TransformConfig.SETTLE_MS));
        // Defaults users' files rely on; the writer's batch default is the one constant it is defined by.
        assertEquals(ShadowWriterConfig.DEFAULT_MAX_BATCH_RECORDS, PipelineConfig.parse(valid(), "test").get(ShadowWriterConfig.MAX_BATCH_RECORDS));
        assertEquals(4096, PipelineConfig.parse(valid(), "test").get(CaptureConfig.MAX_BATCH_SIZE));
        CaptureConfig capture = CaptureConfig.from(c.values());
        assertEquals(512, capture.incrementalSnapshotChunkSize());
        assertEquals(CaptureConfig.DEFAULTS.pollIntervalMs(), capture.pollIntervalMs());
    }

    @Test
    void instanceIdIsEmptyByDefaultAndRefusesSpaces() {
        assertEquals("", PipelineConfig.parse(valid(), "test").get(PipelineConfig.INSTANCE_ID));
        Map<String, String> m = valid();
        m.put("pipeline.instance.id", "host a");
        ConfigException e = assertThrows(ConfigException.class, () -> PipelineConfig.parse(m, "my.properties"));
        assertTrue(e.getMessage().contains("key 'pipeline.instance.id' has value 'host a': must be at most 200 printable ASCII characters"),
                e.getMessage());
    }

    @Test
    void problemsBetweenStageKeysAreReportedWithTheOthers() {
        Map<String, String> m = valid();
        m.put("capture.max.batch.size", "1000");
        m.put("capture.max.queue.size", "1000");
        m.put("streams.threads", "0");
        ConfigException e = assertThrows(ConfigException.class, () -> PipelineConfig.parse(m, "my.properties"));
        assertEquals(2, e.problems().size(), e.getMessage());
        assertTrue(e.getMessage().contains("key 'streams.threads' has value '0': must be greater than 0"), e.getMessage());
        assertTrue(e.getMessage().contains("key 'capture.max.queue.size' has value '1000': must be greater than capture.max.batch.size (1000)"),
                e.getMessage());
    }

    @Test
    void everyProblemIsReportedAtOnceNamingTheKey() {
        Map<String, String> m = valid();
        m.remove("legacy.jdbc.url");
        m.remove("kafka.bootstrap.servers");
        m.put("target.jdbc.url", "postgres://nope");
        m.put("topic.partitions", "many");
        m.put("capture.poll.interval.ms", "0");
        m.put("registry.ulr", "http://x");
        m.put("pipeline.name", "Bad-Name");
        ConfigException e = assertThrows(ConfigException.class, () -> PipelineConfig.parse(m, "my.properties"));
        String msg = e.getMessage();
        assertEquals(7, e.problems().size(), msg);
        assertTrue(msg.contains("my.properties"), msg);
        assertTrue(msg.contains("missing required key 'legacy.jdbc.url'"), msg);
        assertTrue(msg.contains("missing required key 'kafka.bootstrap.servers'"), msg);
        assertTrue(msg.contains("key 'target.jdbc.url' has value 'postgres://nope'"), msg);
        assertTrue(msg.contains("key 'topic.partitions' has value 'many': expects an integer"), msg);
        assertTrue(msg.contains("key 'capture.poll.interval.ms' has value '0': must be greater than 0"), msg);
        assertTrue(msg.contains("unknown key 'registry.ulr'; did you mean 'registry.url'?"), msg);
        assertTrue(msg.contains("key 'pipeline.name' has value 'Bad-Name'"), msg);
    }

    /**
     * The README's configuration table is the users' reference: it lists every key of {@link PipelineConfig#KEYS}
     * (whichever module declares it) with its default, and no key that does not exist. The module's
     * directory is the working directory, so the README is {@code ../README.md}.
     */
    @Test
    void readmeConfigurationTableListsEveryKeyWithItsDefault() throws Exception {
        Path readme = Path.of("..", "README.md");
        Map<String, String> defaults = new LinkedHashMap<>();
        boolean inSection = false;
        for (String line : Files.readAllLines(readme, StandardCharsets.UTF_8)) {
            if (line.startsWith("## ")) {
                inSection = line.equals("## Configuration");
            } else if (inSection && line.startsWith("| `")) {
                String[] cells = line.split("\\|");
                defaults.put(cells[1].trim().replace("`", ""), cells[3].trim().replace("`", ""));
            }
        }
        assertFalse(defaults.isEmpty(), "no configuration table found under '## Configuration' in " + readme.toAbsolutePath().normalize());
        List<String> problems = new ArrayList<>();
        String tmp = Path.of(System.getProperty("java.io.tmpdir")).toString();
        for (ConfigKey<?> key : PipelineConfig.KEYS) {
            String listed = defaults.remove(key.name());
            Object d = key.defaultValue();
            String expected = key.required() ? "required" : "".equals(d) ? "empty" : String.valueOf(d).replace(tmp, "<tmp>");
            if (listed == null) {
                problems.add("key '" + key.name() + "' is missing: add a row | `" + key.name() + "` | type | " + expected + " | " + key.doc() + " |");
            } else if (!listed.equals(expected)) {
                problems.add("key '" + key.name() + "' is listed with default '" + listed + "', but its default is '" + expected + "'");
            }
        }
        defaults.keySet().forEach(k -> problems.add("key '" + k + "' is listed but not declared in PipelineConfig.KEYS: remove the row"));
        assertTrue(problems.isEmpty(), "README.md, section Configuration:\n  " + String.join("\n  ", problems));
    }

    @Test
    void describeHidesPasswords() {
        String text = PipelineConfig.parse(valid(), "test").describe();
        assertFalse(text.contains("s3cret"), text);
        assertTrue(text.contains("legacy.password = ******"), text);
    }

    @Test
    void missingFileIsNamed(@TempDir Path dir) {
        ConfigException e = assertThrows(ConfigException.class, () -> PipelineConfig.load(dir.resolve("absent.properties")));
        assertTrue(e.getMessage().contains("absent.properties"), e.getMessage());
    }

    @Test
    void loadsPropertiesFile(@TempDir Path dir) throws Exception {
        Path f = dir.resolve("u.properties");
        StringBuilder sb = new StringBuilder();
        valid().forEach((k, v) -> sb.append(k).append('=').append(v).append('\n'));
        Files.writeString(f, sb.toString());
        assertEquals("localhost:9092", PipelineConfig.load(f).get(PipelineConfig.KAFKA_BOOTSTRAP));
    }
}

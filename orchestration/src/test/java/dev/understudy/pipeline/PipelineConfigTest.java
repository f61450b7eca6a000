package dev.understudy.pipeline;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
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
        assertEquals(10L, c.get(PipelineConfig.CAPTURE_POLL_MS));
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

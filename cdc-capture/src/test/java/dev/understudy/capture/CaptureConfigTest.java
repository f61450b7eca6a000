package dev.understudy.capture;

import dev.understudy.schemas.config.ConfigKey;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.junit.jupiter.api.Test;

import java.util.List;
import java.util.Map;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class CaptureConfigTest {
    private static CaptureSettings settings(CaptureConfig config) {
        return new CaptureSettings("understudy-legacy", "legacy", "jdbc:postgresql://localhost:5432/app", "u", "p", List.of("public.users"),
                "understudy", "localhost:9092", "understudy_legacy", "understudy_legacy", "understudy.offsets.legacy", 1, config);
    }

    @Test
    void everyKeyIsACaptureKeyWithDocumentation() {
        for (ConfigKey<?> key : CaptureConfig.KEYS) {
            assertTrue(key.name().startsWith("capture."), key.name());
            assertFalse(key.required(), key.name() + " must have a default: users' files without it keep working");
            assertFalse(key.doc().isBlank(), key.name());
        }
    }

    /** The defaults are the values the capture used before they were keys: unset, nothing changes. */
    @Test
    void defaultsGiveTheDebeziumAndProducerPropertiesTheCaptureAlwaysUsed() {
        Properties p = settings(CaptureConfig.DEFAULTS).debeziumProperties();
        assertEquals("10", p.getProperty("poll.interval.ms"));
        assertEquals("4096", p.getProperty("max.batch.size"));
        assertEquals("16384", p.getProperty("max.queue.size"));
        assertEquals("5000", p.getProperty("heartbeat.interval.ms"));
        assertEquals("10240", p.getProperty("snapshot.fetch.size"));
        assertEquals("4096", p.getProperty("incremental.snapshot.chunk.size"));
        assertEquals("1000", p.getProperty("offset.flush.interval.ms"));
        assertEquals("10000", p.getProperty("offset.flush.timeout.ms"));
        Map<String, Object> producer = CdcCapture.producerProperties(settings(CaptureConfig.DEFAULTS));
        assertEquals(5, producer.get(ProducerConfig.LINGER_MS_CONFIG));
        assertEquals(262_144, producer.get(ProducerConfig.BATCH_SIZE_CONFIG));
        assertEquals("lz4", producer.get(ProducerConfig.COMPRESSION_TYPE_CONFIG));
        assertEquals("all", producer.get(ProducerConfig.ACKS_CONFIG));
    }

    @Test
    void debeziumAndProducerPropertiesCarryTheConfiguredTunables() {
        CaptureConfig config = CaptureConfig.of(Map.ofEntries(
                Map.entry("capture.poll.interval.ms", "250"),
                Map.entry("capture.max.batch.size", "1000"),
                Map.entry("capture.max.queue.size", "3000"),
                Map.entry("capture.heartbeat.interval.ms", "60000"),
                Map.entry("capture.snapshot.fetch.size", "2000"),
                Map.entry("capture.incremental.snapshot.chunk.size", "512"),
                Map.entry("capture.offset.flush.interval.ms", "15000"),
                Map.entry("capture.offset.flush.timeout.ms", "20000"),
                Map.entry("capture.producer.linger.ms", "0"),
                Map.entry("capture.producer.batch.size", "65536"),
                Map.entry("capture.producer.compression.type", "ZSTD")));
        CaptureSettings settings = settings(config);
        Properties p = settings.debeziumProperties();
        assertEquals("250", p.getProperty("poll.interval.ms"));
        assertEquals("1000", p.getProperty("max.batch.size"));
        assertEquals("3000", p.getProperty("max.queue.size"));
        assertEquals("60000", p.getProperty("heartbeat.interval.ms"));
        assertEquals("2000", p.getProperty("snapshot.fetch.size"));
        assertEquals("512", p.getProperty("incremental.snapshot.chunk.size"));
        assertEquals("15000", p.getProperty("offset.flush.interval.ms"));
        assertEquals("20000", p.getProperty("offset.flush.timeout.ms"));
        Map<String, Object> producer = CdcCapture.producerProperties(settings);
        assertEquals(0, producer.get(ProducerConfig.LINGER_MS_CONFIG));
        assertEquals(65_536, producer.get(ProducerConfig.BATCH_SIZE_CONFIG));
        assertEquals("zstd", producer.get(ProducerConfig.COMPRESSION_TYPE_CONFIG));

        // The tunables travel with the settings through their copies.
        assertEquals(config, settings.withSignalTable(null).withCommitsTopic("understudy.commits").config());
        // Without a queue size, the queue holds four batches, as Debezium needs it larger than a batch.
        assertEquals("4000", settings(CaptureConfig.of(Map.of("capture.max.batch.size", "1000"))).debeziumProperties()
                .getProperty("max.queue.size"));
    }

    @Test
    void everyProblemIsReportedNamingTheKey() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> CaptureConfig.of(Map.of(
                "capture.heartbeat.interval.ms", "0",
                "capture.snapshot.fetch.size", "lots",
                "capture.incremental.snapshot.chunk", "512",
                "capture.producer.compression.type", "brotli")));
        String msg = e.getMessage();
        assertTrue(msg.contains("key 'capture.heartbeat.interval.ms' has value '0': must be greater than 0"), msg);
        assertTrue(msg.contains("key 'capture.snapshot.fetch.size' has value 'lots': expects an integer"), msg);
        assertTrue(msg.contains("unknown key 'capture.incremental.snapshot.chunk'; did you mean 'capture.incremental.snapshot.chunk.size'?"), msg);
        assertTrue(msg.contains("key 'capture.producer.compression.type' has value 'brotli': must be one of none, gzip, snappy, lz4, zstd"), msg);
    }

    @Test
    void queueMustExceedTheBatchAsDebeziumRequires() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> CaptureConfig.of(Map.of("capture.max.batch.size", "1000", "capture.max.queue.size", "1000")));
        assertTrue(e.getMessage().contains("key 'capture.max.queue.size' has value '1000': must be greater than capture.max.batch.size (1000)"),
                e.getMessage());
        e = assertThrows(IllegalArgumentException.class, () -> CaptureConfig.of(Map.of("capture.max.batch.size", "600000000")));
        assertTrue(e.getMessage().contains("key 'capture.max.batch.size' has value '600000000': must be at most 536870911"), e.getMessage());
        assertEquals(1001, CaptureConfig.of(Map.of("capture.max.batch.size", "1000", "capture.max.queue.size", "1001")).maxQueueSize());
    }
}

package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.Topics;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.streams.StreamsConfig;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.Topology;
import org.apache.kafka.streams.TopologyDescription;
import org.apache.kafka.streams.TopologyTestDriver;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.List;
import java.util.Properties;
import java.util.Set;
import java.util.stream.Collectors;

import static dev.understudy.transform.Fixtures.PREFIX;
import static dev.understudy.transform.Fixtures.TABLE;
import static dev.understudy.transform.Fixtures.key;
import static dev.understudy.transform.Fixtures.legacyChange;
import static dev.understudy.transform.Fixtures.legacyRow;
import static dev.understudy.transform.Fixtures.targetChange;
import static dev.understudy.transform.Fixtures.targetRow;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PipelineTopologyTest {
    @TempDir
    Path stateDir;

    @Test
    void expectedAndActualTopicsFeedOneSubTopology() {
        Topology topology = PipelineTopology.build(PREFIX, Migrations.defaultMappings(), new InMemoryRegistryClient(),
                ComparisonSettings.defaults());
        Set<String> expectedAndActual = Set.copyOf(ComparisonTopology.inputTopics(PREFIX, new UsersMapping()));
        long containing = topology.describe().subtopologies().stream()
                .filter(s -> sourceTopics(s).containsAll(expectedAndActual))
                .count();
        assertEquals(1, containing, topology.describe().toString());
        assertEquals(2, topology.describe().subtopologies().size(), "migration and comparison are independent sub-topologies");
    }

    @Test
    void legacyChangesAreComparedWithTheTargetEndToEnd() {
        InMemoryRegistryClient registry = new InMemoryRegistryClient();
        Topology topology = PipelineTopology.build(PREFIX, Migrations.defaultMappings(), registry, ComparisonSettings.defaults());
        try (TopologyTestDriver driver = new TopologyTestDriver(topology, Fixtures.driverProperties(stateDir),
                Instant.parse("2030-01-01T00:00:00Z"))) {
            TestInputTopic<GenericRecord, GenericRecord> legacy = driver.createInputTopic(Topics.legacy(PREFIX, TABLE),
                    AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
            TestInputTopic<GenericRecord, GenericRecord> target = driver.createInputTopic(Topics.target(PREFIX, TABLE),
                    AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
            TestOutputTopic<String, GenericRecord> divergences = driver.createOutputTopic(Topics.divergence(PREFIX),
                    new StringDeserializer(), AvroSerde.values(registry).deserializer());

            // The test driver feeds records written to the new-schema topic back into the comparison.
            legacy.pipeInput(key(1), legacyChange(null, legacyRow(1L, "Ada", "ada@example.com", 1L), "c", 100, 1L, false));
            target.pipeInput(key(1), targetChange(null, targetRow(1, "Ada", "ada@example.com", null, 1L, null), "c", 10));
            driver.advanceWallClockTime(Duration.ofSeconds(3));
            assertTrue(divergences.isEmpty(), "the writer's copy matches the migrated row");

            legacy.pipeInput(key(1), legacyChange(null, legacyRow(1L, "Ada Lovelace", "ada@example.com", 1L), "u", 200, 2L, false));
            driver.advanceWallClockTime(Duration.ofSeconds(3));
            GenericRecord mismatch = divergences.readValue();
            assertEquals("MISMATCH", mismatch.get("kind").toString());
            @SuppressWarnings("unchecked")
            List<GenericRecord> fields = (List<GenericRecord>) mismatch.get("fields");
            assertEquals(1, fields.size());
            assertEquals("full_name", fields.get(0).get("name").toString());
            assertEquals("Ada Lovelace", fields.get(0).get("expected").toString());
            assertEquals("Ada", fields.get(0).get("actual").toString());

            legacy.pipeInput(key(1), legacyChange(legacyRow(1L, null, null, null), null, "d", 300, 3L, false));
            driver.advanceWallClockTime(Duration.ofSeconds(3));
            assertEquals("UNEXPECTED", divergences.readValue().get("kind").toString());

            target.pipeInput(key(1), targetChange(targetRow(1, null, null, null, null, null), null, "d", 20));
            assertEquals("RESOLVED", divergences.readValue().get("kind").toString());
            assertTrue(divergences.isEmpty());
        }
    }

    @Test
    void streamsPropertiesFavourPromptDelivery() {
        Properties p = StreamsProperties.of("understudy", "localhost:9092", stateDir, 2);
        assertEquals("understudy", p.get(StreamsConfig.APPLICATION_ID_CONFIG));
        // Exactly once: store, outputs and input offsets commit together (see StreamsProperties).
        assertEquals(StreamsConfig.EXACTLY_ONCE_V2, p.get(StreamsConfig.PROCESSING_GUARANTEE_CONFIG));
        assertEquals(50, p.get(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG));
        assertEquals(0L, p.get(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG));
        assertEquals(2, p.get(StreamsConfig.NUM_STREAM_THREADS_CONFIG));
        assertEquals(stateDir.toAbsolutePath().toString(), p.get(StreamsConfig.STATE_DIR_CONFIG));
        new StreamsConfig(p); // every value is accepted by Kafka Streams' own validation
    }

    private static Set<String> sourceTopics(TopologyDescription.Subtopology subtopology) {
        return subtopology.nodes().stream()
                .filter(n -> n instanceof TopologyDescription.Source)
                .flatMap(n -> ((TopologyDescription.Source) n).topicSet().stream())
                .collect(Collectors.toSet());
    }
}

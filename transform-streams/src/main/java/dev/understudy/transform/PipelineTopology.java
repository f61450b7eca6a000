package dev.understudy.transform;

import dev.understudy.schemas.RegistryClient;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.Topology;

import java.util.List;
import java.util.Map;

/**
 * The whole stream-processing side of the pipeline in one application: {@link MigrationTopology}
 * (legacy changes to new-schema rows) and {@link ComparisonTopology} (new-schema rows against the
 * target's captured changes). They share no state and form separate sub-topologies; the comparison
 * reads the new-schema topic back from Kafka like any other consumer.
 */
public final class PipelineTopology {
    private PipelineTopology() {
    }

    public static Topology build(String prefix, List<TableMapping> mappings, RegistryClient registry, ComparisonSettings settings) {
        if (mappings.isEmpty()) {
            throw new IllegalArgumentException("No table mappings: nothing to migrate or compare. Pass Migrations.defaultMappings().");
        }
        StreamsBuilder builder = new StreamsBuilder();
        MigrationTopology.addTo(builder, prefix, mappings, registry);
        ComparisonTopology.addTo(builder, prefix, mappings, registry, settings);
        return builder.build();
    }

    /**
     * The migration alone. The pipeline runs it as its own application so that rows on their way
     * to the writer never queue behind the comparison's state-store work on a shared stream thread.
     */
    public static Topology migration(String prefix, List<TableMapping> mappings, RegistryClient registry) {
        return migration(prefix, mappings, registry, 0L, Map.of());
    }

    /**
     * The migration of one spec generation: every row it emits carries {@code generation} and its
     * target's lineage, which order it against rows of earlier generations (see
     * {@link dev.understudy.schemas.ChangeHeaders#LINEAGE}).
     *
     * @param lineages each target table's lineage in this generation; 0 for a table not named
     */
    public static Topology migration(String prefix, List<TableMapping> mappings, RegistryClient registry, long generation,
                                     Map<String, Long> lineages) {
        requireMappings(mappings);
        StreamsBuilder builder = new StreamsBuilder();
        MigrationTopology.addTo(builder, prefix, mappings, registry, generation, lineages);
        return builder.build();
    }

    /** The comparison alone, as its own application (see {@link #migration}). */
    public static Topology comparison(String prefix, List<TableMapping> mappings, RegistryClient registry, ComparisonSettings settings) {
        requireMappings(mappings);
        StreamsBuilder builder = new StreamsBuilder();
        ComparisonTopology.addTo(builder, prefix, mappings, registry, settings);
        return builder.build();
    }

    private static void requireMappings(List<TableMapping> mappings) {
        if (mappings.isEmpty()) {
            throw new IllegalArgumentException("No table mappings: nothing to migrate or compare. Pass Migrations.defaultMappings().");
        }
    }
}

package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.internals.MigrationProcessor;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static dev.understudy.transform.internals.Sinks.widen;

/**
 * The migration: for each {@link TableMapping}, legacy change events in, rows of the new schema out.
 * <pre>
 *   legacy topic ──▶ migrate-&lt;table&gt; ──▶ new-schema topic   (target key, target row | tombstone)
 *                                      └──▶ dead-letter topic (original bytes + error headers)
 * </pre>
 * Records on the new-schema topic carry {@link dev.understudy.schemas.ChangeHeaders} (version, LSN,
 * transaction id, op) so that the writer can apply them idempotently and in order.
 *
 * <p>Stateless: each legacy partition maps independently, and per key the output keeps the input's
 * order, because the target key is a function of the legacy key and a partition is processed in
 * offset order. The output key is built with {@link TableMapping#targetKey}, i.e. through
 * {@link dev.understudy.schemas.KeySchemas}, so it is byte-identical to the target capture's key:
 * the default partitioner then puts a key in the same partition of the new-schema and target change
 * topics, which {@link ComparisonTopology} relies on.
 */
public final class MigrationTopology {
    private MigrationTopology() {
    }

    public static void addTo(StreamsBuilder builder, String prefix, List<TableMapping> mappings, RegistryClient registry) {
        // Several targets may read one legacy table (a split). Kafka Streams subscribes a topic from
        // one source node only, so mappings are grouped by legacy table and share its stream.
        Map<String, List<TableMapping>> bySource = new LinkedHashMap<>();
        for (TableMapping mapping : mappings) {
            bySource.computeIfAbsent(mapping.sourceTable(), t -> new ArrayList<>()).add(mapping);
        }
        for (List<TableMapping> group : bySource.values()) {
            String legacyTopic = Topics.legacy(prefix, group.get(0).sourceTable());
            // A single mapping keeps the source name it always had; a shared source is named after the table.
            String sourceName = group.size() == 1 ? nodeName(group.get(0)) + "-source" : "read-" + group.get(0).sourceTable();
            // Raw bytes in: the processor decodes with the Avro serde itself so that undecodable records
            // keep their original bytes on the way to the dead-letter topic.
            KStream<byte[], byte[]> legacy = builder.stream(legacyTopic,
                    Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName(sourceName));
            for (TableMapping mapping : group) {
                addTo(legacy, legacyTopic, prefix, mapping, registry);
            }
        }
    }

    private static void addTo(KStream<byte[], byte[]> legacy, String legacyTopic, String prefix, TableMapping mapping,
                              RegistryClient registry) {
        String newTopic = Topics.newSchema(prefix, mapping.targetTable());
        String deadLetterTopic = Topics.deadLetter(prefix);
        String name = nodeName(mapping);
        String rowSink = name + "-rows";
        String deadLetterSink = name + "-dead-letters";

        KStream<Object, Object> out = legacy.process(
                () -> new MigrationProcessor(mapping, registry, legacyTopic, deadLetterTopic, rowSink, deadLetterSink),
                Named.as(name));
        // Sinks write each forwarded Record's headers to Kafka as they are (header propagation in
        // the Processor API is explicit), which is how the ChangeHeaders reach the writer.
        out.to(newTopic, Produced.with(widen(AvroSerde.keys(registry)), widen(AvroSerde.values(registry))).withName(rowSink));
        out.to(deadLetterTopic, Produced.with(widen(Serdes.ByteArray()), widen(Serdes.ByteArray())).withName(deadLetterSink));
    }

    /** Processor name of a mapping's migration; sinks and source are named after it. */
    public static String nodeName(TableMapping mapping) {
        return "migrate-" + mapping.sourceTable() + "-to-" + mapping.targetTable();
    }
}

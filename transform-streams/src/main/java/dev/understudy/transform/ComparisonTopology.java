package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.internals.ComparisonProcessorSupplier;
import dev.understudy.transform.internals.ComparisonProcessor;
import dev.understudy.transform.internals.ComparisonStoreNames;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;

import java.util.List;

import static dev.understudy.transform.internals.Sinks.widen;

/**
 * The comparison: for each target table, what the target should hold (the new-schema topic, written
 * by {@link MigrationTopology}) against what it holds (the target change topic, captured from the
 * target database's WAL), key by key.
 * <pre>
 *   new-schema topic    ──▶ ┐
 *                           ├─ merge ──▶ compare-&lt;table&gt; ──▶ divergence topic  ("&lt;table&gt; &lt;keyJson&gt;" → DivergenceEvent)
 *   target change topic ──▶ ┘          [5 stores]         ├──▶ drift topic       ("&lt;table&gt;#&lt;partition&gt;" → Drift)
 *                                                          └──▶ dead-letter topic
 * </pre>
 *
 * <p><b>Co-partitioning.</b> Both topics are read with byte keys into one processor, so they belong
 * to one sub-topology and Kafka Streams gives partition <i>p</i> of both to the same task, which owns
 * the stores for those keys. That pairs a key's expected and actual rows only because the key bytes
 * are identical on both topics (both built by {@link dev.understudy.schemas.KeySchemas}) and the
 * default partitioner hashes them the same way, <b>and</b> the two topics have the same number of
 * partitions: Kafka Streams enforces that only for DSL joins, not here, so whoever creates the topics
 * must create {@link #inputTopics the pair} with equal partition counts.
 *
 * <p><b>Pending, then diverged.</b> Every change is briefly absent from the target while the writer
 * and the target capture catch up. A key that disagrees is pending. With the writer's progress
 * ({@link ComparisonSettings#writerProgress()}), it stays pending for as long as the writer has not
 * applied the new-schema record that produced its expected row (its offset on the new-schema topic,
 * against the writer's position stored in the target) and the target capture has delivered that
 * position, after the rows it covers, however slow either is; then it is reported if it still disagrees
 * {@link ComparisonSettings#settleWindow()} later, the time this application gets to read the change
 * from the target topic. Without it (dual-write mode), the window counts from the first
 * disagreement. A wall-clock punctuator promotes due keys. Wall-clock
 * ({@code PunctuationType.WALL_CLOCK_TIME}) rather than stream-time punctuation, because stream time
 * advances only when records arrive: a divergence on a table that then goes quiet would never be
 * reported, and it is exactly the quiet table whose target lost a write.
 *
 * <p><b>Outputs.</b> A {@code DivergenceEvent} when a key is first reported (MISSING, UNEXPECTED or
 * MISMATCH with the differing fields), when a reported key's kind or differing fields change, and
 * RESOLVED as soon as the two sides agree again. A {@code Drift} record per task with its open and
 * pending counts, whenever they changed and at least every {@link ComparisonProcessor#DRIFT_HEARTBEAT}.
 */
public final class ComparisonTopology {

    private ComparisonTopology() {
    }

    public static void addTo(StreamsBuilder builder, String prefix, List<TableMapping> mappings, RegistryClient registry,
                             ComparisonSettings settings) {
        for (TableMapping mapping : mappings) {
            addTo(builder, prefix, mapping, registry, settings);
        }
    }

    private static void addTo(StreamsBuilder builder, String prefix, TableMapping mapping, RegistryClient registry,
                              ComparisonSettings settings) {
        String table = mapping.targetTable();
        String expectedTopic = Topics.newSchema(prefix, table);
        String actualTopic = Topics.target(prefix, table);
        String name = nodeName(mapping);
        String divergenceSink = name + "-divergences";
        String driftSink = name + "-drift";
        String deadLetterSink = name + "-dead-letters";

        // Keys stay bytes: equal rows on the two topics have equal key bytes, and store lookups by
        // those bytes need no decoding. Values are decoded only to compare.
        KStream<Bytes, byte[]> expected = builder.stream(expectedTopic,
                Consumed.with(Serdes.Bytes(), Serdes.ByteArray()).withName(name + "-expected-source"));
        KStream<Bytes, byte[]> actual = builder.stream(actualTopic,
                Consumed.with(Serdes.Bytes(), Serdes.ByteArray()).withName(name + "-actual-source"));
        // Merging the two sources into one processor puts them in one sub-topology, hence one task per
        // partition number across both topics. Within a task, records of the two partitions are
        // interleaved by timestamp; every record re-evaluates the key against the latest state of both,
        // and a disagreement is judged only once both sides are read as far as the writer's delivered
        // position covers (ComparisonProcessor#applied).
        ComparisonProcessorSupplier supplier = new ComparisonProcessorSupplier(mapping, registry, settings, ComparisonStoreNames.of(nodeName(mapping)),
                expectedTopic, actualTopic, Topics.deadLetter(prefix), divergenceSink, driftSink, deadLetterSink);
        KStream<Object, Object> out = expected.merge(actual, Named.as(name + "-merge")).process(supplier, Named.as(name));

        out.to(Topics.divergence(prefix),
                Produced.with(widen(Serdes.String()), widen(AvroSerde.values(registry))).withName(divergenceSink));
        out.to(Topics.drift(prefix),
                Produced.with(widen(Serdes.String()), widen(AvroSerde.values(registry))).withName(driftSink));
        out.to(Topics.deadLetter(prefix),
                Produced.with(widen(Serdes.ByteArray()), widen(Serdes.ByteArray())).withName(deadLetterSink));
    }

    /**
     * The two topics compared for a mapping, expected then actual. They must have the same number of
     * partitions (see the class comment on co-partitioning).
     */
    public static List<String> inputTopics(String prefix, TableMapping mapping) {
        return List.of(Topics.newSchema(prefix, mapping.targetTable()), Topics.target(prefix, mapping.targetTable()));
    }

    /** Processor name of a table's comparison. */
    public static String nodeName(TableMapping mapping) {
        return "compare-" + mapping.targetTable();
    }
}

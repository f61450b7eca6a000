package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.internals.JoinChange;
import dev.understudy.transform.internals.JoinEmitter;
import dev.understudy.transform.internals.JoinInputProcessor;
import dev.understudy.transform.internals.MigrationProcessor;
import dev.understudy.transform.internals.ToastFillProcessor;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.kstream.Consumed;
import org.apache.kafka.streams.kstream.KStream;
import org.apache.kafka.streams.kstream.KTable;
import org.apache.kafka.streams.kstream.Materialized;
import org.apache.kafka.streams.kstream.Named;
import org.apache.kafka.streams.kstream.Produced;
import org.apache.kafka.streams.kstream.TableJoined;
import org.apache.kafka.streams.kstream.ValueJoiner;
import org.apache.kafka.streams.state.KeyValueStore;
import org.apache.kafka.streams.state.Stores;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.Function;

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
 * <p>A target with a join ({@link JoinedTableMapping}) runs as a foreign-key table join instead,
 * with state; see {@link #addJoin}. Every other target takes the path below.
 *
 * <p>Every legacy table first passes {@link #fillToast}, which keeps the table's last row images
 * in a store to fill unchanged TOAST values. The mapping itself is stateless: each legacy partition maps independently, and per key the output keeps the input's
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
        addTo(builder, prefix, mappings, registry, 0L, Map.of());
    }

    /**
     * @param generation the spec generation stamped on every row this topology emits
     *                   ({@link dev.understudy.schemas.ChangeHeaders#GENERATION})
     * @param lineages   each target table's lineage, stamped on its rows
     *                   ({@link dev.understudy.schemas.ChangeHeaders#LINEAGE}); 0 for a table not named
     */
    public static void addTo(StreamsBuilder builder, String prefix, List<TableMapping> mappings, RegistryClient registry,
                             long generation, Map<String, Long> lineages) {
        Function<TableMapping, ChangeHeaders.Stamp> stamps = m -> new ChangeHeaders.Stamp(generation,
                lineages.getOrDefault(m.targetTable(), 0L));
        // Several targets may read one legacy table (a split, or a table that is both a target's
        // source and another's joined table). Kafka Streams subscribes a topic from one source node
        // only, so every reader of a legacy table shares its stream.
        Map<String, List<TableMapping>> bySource = new LinkedHashMap<>();
        Map<String, Boolean> joinedReads = new LinkedHashMap<>();
        for (TableMapping mapping : mappings) {
            bySource.computeIfAbsent(mapping.sourceTable(), t -> new ArrayList<>()).add(mapping);
            if (mapping instanceof JoinedTableMapping joined) {
                joinedReads.put(mapping.sourceTable(), true);
                joinedReads.put(joined.joinedTable(), true);
                bySource.computeIfAbsent(joined.joinedTable(), t -> new ArrayList<>());
            }
        }
        Map<String, KStream<byte[], byte[]>> streams = new LinkedHashMap<>();
        for (Map.Entry<String, List<TableMapping>> e : bySource.entrySet()) {
            List<TableMapping> group = e.getValue();
            String legacyTopic = Topics.legacy(prefix, e.getKey());
            // A table read by one single-table mapping alone keeps the source name it always had; a
            // shared source is named after the table.
            String sourceName = group.size() == 1 && !joinedReads.containsKey(e.getKey())
                    ? nodeName(group.get(0)) + "-source" : "read-" + e.getKey();
            // Raw bytes in: the processor decodes with the Avro serde itself so that undecodable records
            // keep their original bytes on the way to the dead-letter topic.
            KStream<byte[], byte[]> raw = builder.stream(legacyTopic,
                    Consumed.with(Serdes.ByteArray(), Serdes.ByteArray()).withName(sourceName));
            KStream<byte[], byte[]> legacy = fillToast(builder, raw, e.getKey(), legacyTopic, prefix, registry);
            streams.put(e.getKey(), legacy);
            for (TableMapping mapping : group) {
                if (!(mapping instanceof JoinedTableMapping)) {
                    addTo(legacy, legacyTopic, prefix, mapping, registry, stamps.apply(mapping));
                }
            }
        }
        for (TableMapping mapping : mappings) {
            if (mapping instanceof JoinedTableMapping joined) {
                addJoin(builder, streams.get(joined.sourceTable()), streams.get(joined.joinedTable()), prefix, joined, registry,
                        stamps.apply(mapping));
            }
        }
    }

    /**
     * Fills Debezium's placeholders for unchanged TOASTed values of one legacy table from the row's
     * prior state ({@link ToastFillProcessor}), ahead of every reader of the table, so that no
     * mapping, join table or target ever sees a placeholder:
     * <pre>
     *   legacy topic ──▶ toast-fill-&lt;table&gt; ──▶ toast-fill-&lt;table&gt;-filled ──▶ readers
     *                    (store toast-prior-rows-&lt;table&gt;) └──▶ dead-letter topic
     * </pre>
     * The store and nodes are named after the legacy table alone, so they stay the same when
     * mappings are added or removed. The store is persistent and changelogged (the Kafka Streams
     * default for a store builder), so prior rows survive restarts and task migration.
     */
    @SuppressWarnings("unchecked")
    private static KStream<byte[], byte[]> fillToast(StreamsBuilder builder, KStream<byte[], byte[]> raw, String table,
                                                     String legacyTopic, String prefix, RegistryClient registry) {
        String name = toastFillName(table);
        String store = toastStoreName(table);
        String filled = name + "-filled";
        String deadLetterSink = name + "-dead-letters";
        String deadLetterTopic = Topics.deadLetter(prefix);
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(store), Serdes.String(), Serdes.ByteArray()));
        KStream<Object, Object> out = raw.process(() -> new ToastFillProcessor(table, store, registry, legacyTopic, deadLetterTopic,
                filled, deadLetterSink), Named.as(name), store);
        out.to(deadLetterTopic, Produced.with(widen(Serdes.ByteArray()), widen(Serdes.ByteArray())).withName(deadLetterSink));
        // A pass-through node, so that the processor can forward filled records to the readers alone
        // (forwarding to no named child would also reach the dead-letter sink).
        return (KStream<byte[], byte[]>) (KStream<?, ?>) out.mapValues(v -> v, Named.as(filled));
    }

    /** Name of the processor that fills unchanged TOAST values of a legacy table. */
    public static String toastFillName(String legacyTable) {
        return "toast-fill-" + legacyTable;
    }

    /** Name of the store of a legacy table's last full row images, per legacy key. */
    public static String toastStoreName(String legacyTable) {
        return "toast-prior-rows-" + legacyTable;
    }

    /**
     * A target fed by two legacy tables through a foreign key, as a Kafka Streams foreign-key table
     * join (KIP-213, {@link KTable#leftJoin(KTable, Function, ValueJoiner, TableJoined)}):
     * <pre>
     *   driving topic ──▶ -driving-input ──▶ (legacy key, envelope) table ─┐
     *   joined topic  ──▶ -joined-input  ──▶ (referenced key, envelope) table ─┴▶ -fk-join ──▶ -emit ──▶ new-schema topic
     * </pre>
     * The foreign-key join re-joins every driving row subscribed to a joined key when that joined
     * row changes (the subscription store of KIP-213), so a customer update re-emits all of its
     * orders' rows; a driving row whose foreign key changes unsubscribes from the old key and
     * subscribes to the new one, and a response computed for an older driving value is dropped by
     * the join's hash check, so results per key follow the driving table's order, though not every
     * driving change gets a result. The tombstone of a target key a driving row leaves therefore
     * comes from the driving side's input, which sees every change ({@code -driving-left-keys}).
     *
     * <p>Left join, inner semantics: the left join calls the joiner even when no joined row exists
     * (or the foreign key is null, KIP-962), which lets the joiner produce a tombstone that carries
     * a version; the inner join would instead emit a bare null for those cases.
     */
    private static void addJoin(StreamsBuilder builder, KStream<byte[], byte[]> drivingStream, KStream<byte[], byte[]> joinedStream,
                                String prefix, JoinedTableMapping mapping, RegistryClient registry, ChangeHeaders.Stamp stamp) {
        String name = nodeName(mapping);
        String drivingTopic = Topics.legacy(prefix, mapping.sourceTable());
        String joinedTopic = Topics.legacy(prefix, mapping.joinedTable());
        String newTopic = Topics.newSchema(prefix, mapping.targetTable());
        String deadLetterTopic = Topics.deadLetter(prefix);
        Produced<Object, Object> deadLetters = Produced.with(widen(Serdes.ByteArray()), widen(Serdes.ByteArray()));

        KTable<String, byte[]> driving = table(drivingStream, JoinInputProcessor.Side.DRIVING, mapping, registry, drivingTopic,
                deadLetterTopic, name + "-driving", Serdes.String(), deadLetters, newTopic, stamp);
        KTable<String, byte[]> joined = table(joinedStream, JoinInputProcessor.Side.JOINED, mapping, registry, joinedTopic,
                deadLetterTopic, name + "-joined", Serdes.String(), deadLetters, null, stamp);

        JoinChange.Functions functions = new JoinChange.Functions(mapping, registry, drivingTopic, joinedTopic);
        Function<byte[], String> foreignKey = functions::foreignKey;
        ValueJoiner<byte[], byte[], JoinChange> joiner = functions::join;
        // TableJoined names the join's processors, subscription/response topics and subscription
        // store after the target, so that they stay the same when other targets are added.
        KTable<String, JoinChange> results = driving.leftJoin(joined, foreignKey, joiner, TableJoined.as(name + "-fk-join"));

        String store = name + "-emitted-versions";
        builder.addStateStore(Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(store), Serdes.String(), Serdes.ByteArray()));
        String rowSink = name + "-rows";
        String deadLetterSink = name + "-join-dead-letters";
        KStream<Object, Object> out = results.toStream(Named.as(name + "-join-results"))
                .process(() -> new JoinEmitter(mapping.targetTable(), registry, store, drivingTopic, newTopic, deadLetterTopic,
                        rowSink, deadLetterSink, stamp),
                        Named.as(name + "-emit"), store);
        // The key is already the new-schema topic's key bytes (JoinEmitter serialized it for that topic).
        out.to(newTopic, Produced.with(widen(Serdes.ByteArray()), widen(AvroSerde.values(registry))).withName(rowSink));
        out.to(deadLetterTopic, deadLetters.withName(deadLetterSink));
    }

    @SuppressWarnings("unchecked")
    private static <K> KTable<K, byte[]> table(KStream<byte[], byte[]> legacy, JoinInputProcessor.Side side, JoinedTableMapping mapping,
                                               RegistryClient registry, String legacyTopic, String deadLetterTopic, String name,
                                               Serde<K> keySerde, Produced<Object, Object> deadLetters, String newTopic,
                                               ChangeHeaders.Stamp stamp) {
        String tableInput = name + "-rekeyed";
        String deadLetterSink = name + "-dead-letters";
        // The driving side writes the tombstones of target keys its rows leave straight to the
        // new-schema topic (see JoinInputProcessor); the joined side has none.
        String leftKeySink = newTopic == null ? null : name + "-left-keys";
        KStream<Object, Object> out = legacy.process(() -> new JoinInputProcessor(mapping, side, registry, legacyTopic,
                deadLetterTopic, tableInput, deadLetterSink, leftKeySink, stamp), Named.as(name + "-input"));
        out.to(deadLetterTopic, deadLetters.withName(deadLetterSink));
        if (leftKeySink != null) {
            out.to(newTopic, Produced.with(widen(AvroSerde.keys(registry)), widen(AvroSerde.values(registry))).withName(leftKeySink));
        }
        // The key changed (legacy key as JSON, or referenced key), so toTable repartitions by it: the join
        // needs each table partitioned by its own key. Caching is off so that every change reaches
        // the join as its own update, as on the single-table path.
        KStream<K, byte[]> rekeyed = (KStream<K, byte[]>) (KStream<?, ?>) out.mapValues(v -> v, Named.as(tableInput));
        return rekeyed.toTable(Named.as(name + "-table"),
                Materialized.<K, byte[], KeyValueStore<Bytes, byte[]>>as(name + "-store")
                        .withKeySerde(keySerde).withValueSerde(Serdes.ByteArray()).withCachingDisabled());
    }

    private static void addTo(KStream<byte[], byte[]> legacy, String legacyTopic, String prefix, TableMapping mapping,
                              RegistryClient registry, ChangeHeaders.Stamp stamp) {
        String newTopic = Topics.newSchema(prefix, mapping.targetTable());
        String deadLetterTopic = Topics.deadLetter(prefix);
        String name = nodeName(mapping);
        String rowSink = name + "-rows";
        String deadLetterSink = name + "-dead-letters";

        KStream<Object, Object> out = legacy.process(
                () -> new MigrationProcessor(mapping, registry, legacyTopic, deadLetterTopic, rowSink, deadLetterSink, stamp),
                Named.as(name));
        // Sinks write each forwarded Record's headers to Kafka as they are (header propagation in
        // the Processor API is explicit), which is how the ChangeHeaders reach the writer.
        out.to(newTopic, Produced.with(widen(AvroSerde.keys(registry)), widen(AvroSerde.values(registry))).withName(rowSink));
        out.to(deadLetterTopic, Produced.with(widen(Serdes.ByteArray()), widen(Serdes.ByteArray())).withName(deadLetterSink));
    }

    /**
     * Every legacy table the mappings read, in first-use order: each mapping's source table and, for
     * a {@link JoinedTableMapping}, its joined table. These are the tables to capture and the legacy
     * topics to create.
     */
    public static List<String> legacyTables(List<? extends TableMapping> mappings) {
        Set<String> tables = new LinkedHashSet<>();
        for (TableMapping m : mappings) {
            tables.add(m.sourceTable());
            if (m instanceof JoinedTableMapping joined) {
                tables.add(joined.joinedTable());
            }
        }
        return List.copyOf(tables);
    }

    /** Processor name of a mapping's migration; sinks and source are named after it. */
    public static String nodeName(TableMapping mapping) {
        return "migrate-" + mapping.sourceTable() + "-to-" + mapping.targetTable();
    }
}

package dev.understudy.transform.internals;

import dev.understudy.schemas.RegistryClient;
import dev.understudy.transform.ComparisonSettings;
import dev.understudy.transform.TableMapping;
import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.common.utils.Bytes;
import org.apache.kafka.streams.processor.api.Processor;
import org.apache.kafka.streams.processor.api.ProcessorSupplier;
import org.apache.kafka.streams.state.StoreBuilder;
import org.apache.kafka.streams.state.Stores;

import java.util.Set;

/**
 * Supplies one {@link ComparisonProcessor} per task, with its stores. Returning the store builders
 * from {@link #stores()} lets the DSL add them to the topology and connect them to this processor
 * only; each task gets its own instance of every store, for its partition.
 */
public final class ComparisonProcessorSupplier implements ProcessorSupplier<Bytes, byte[], Object, Object> {
    private final TableMapping mapping;
    private final RegistryClient registry;
    private final ComparisonSettings settings;
    private final ComparisonStoreNames stores;
    private final String expectedTopic;
    private final String actualTopic;
    private final String deadLetterTopic;
    private final String divergenceSink;
    private final String driftSink;
    private final String deadLetterSink;

    public ComparisonProcessorSupplier(TableMapping mapping, RegistryClient registry, ComparisonSettings settings,
                                       ComparisonStoreNames stores, String expectedTopic, String actualTopic,
                                       String deadLetterTopic, String divergenceSink, String driftSink, String deadLetterSink) {
        this.mapping = mapping;
        this.registry = registry;
        this.settings = settings;
        this.stores = stores;
        this.expectedTopic = expectedTopic;
        this.actualTopic = actualTopic;
        this.deadLetterTopic = deadLetterTopic;
        this.divergenceSink = divergenceSink;
        this.driftSink = driftSink;
        this.deadLetterSink = deadLetterSink;
    }

    @Override
    public Processor<Bytes, byte[], Object, Object> get() {
        return new ComparisonProcessor(mapping, registry, settings, stores, expectedTopic, actualTopic, deadLetterTopic,
                divergenceSink, driftSink, deadLetterSink);
    }

    @Override
    public Set<StoreBuilder<?>> stores() {
        // Persistent (RocksDB) and change-logged (the default for store builders): a restarted or
        // migrated task restores the comparison state from the changelogs instead of re-reading both
        // topics from the beginning. Caching stays off (the default for store builders): the
        // processor reads back what it just wrote, and nothing downstream depends on cache flushes.
        return Set.of(
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(stores.expected()), Serdes.Bytes(), Serdes.ByteArray()),
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(stores.actual()), Serdes.Bytes(), Serdes.ByteArray()),
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(stores.pending()), Serdes.Bytes(), Serdes.Long()),
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(stores.open()), Serdes.Bytes(), Serdes.ByteArray()),
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(stores.expectedSource()), Serdes.Bytes(), Serdes.ByteArray()),
                // One key, written at every target change read (the record cache is off for the whole
                // application, StreamsProperties): one small changelog record per target change.
                Stores.keyValueStoreBuilder(Stores.persistentKeyValueStore(stores.actualRead()), Serdes.Bytes(), Serdes.Long()));
    }
}

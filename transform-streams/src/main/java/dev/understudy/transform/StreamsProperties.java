package dev.understudy.transform;

import org.apache.kafka.common.serialization.Serdes;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.streams.StreamsConfig;

import java.nio.file.Path;
import java.util.Properties;

/** Kafka Streams configuration for {@link PipelineTopology}. */
public final class StreamsProperties {
    private StreamsProperties() {
    }

    public static Properties of(String applicationId, String bootstrapServers, Path stateDir, int numThreads) {
        return of(applicationId, bootstrapServers, stateDir.toAbsolutePath().toString(), numThreads);
    }

    public static Properties of(String applicationId, String bootstrapServers, String stateDir, int numThreads) {
        if (numThreads < 1) {
            throw new IllegalArgumentException("numThreads must be at least 1, was " + numThreads);
        }
        Properties p = new Properties();
        p.put(StreamsConfig.APPLICATION_ID_CONFIG, applicationId);
        p.put(StreamsConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        // Persistent comparison stores live here; a stable directory lets a restarted instance reuse
        // its local RocksDB state and restore only the changelog tail.
        p.put(StreamsConfig.STATE_DIR_CONFIG, stateDir);
        p.put(StreamsConfig.NUM_STREAM_THREADS_CONFIG, numThreads);
        // Exactly-once: a task's state store changes, its output records and its input offsets are
        // committed in one Kafka transaction (KIP-447, exactly_once_v2), or none of them are. At-least-once
        // is not enough for these topologies: their stores decide what a change emits (ToastFillProcessor's
        // prior row names the target key a row leaves, and its last LSN marks replays; the join's stores
        // name the rows a driving change joins), and after a crash at-least-once restores a changelog that
        // may be ahead of the committed input. The input is then processed again against state that
        // already holds its effect: a row's own new image becomes its "prior row", the tombstone for the
        // target key it left is never emitted, and the target keeps a row the legacy database no longer
        // has. Readers of the outputs read committed only (the writer, the comparison, the watermarks).
        // Cost: after an unclean stop a task's local state is wiped and restored from its changelog.
        p.put(StreamsConfig.PROCESSING_GUARANTEE_CONFIG, StreamsConfig.EXACTLY_ONCE_V2);
        // Commit (and flush the producer) often, so rows reach the writer and events their readers
        // with little delay; the shadow pipeline's lag is what the settle window must cover. The
        // transaction watermark also waits for the migration's commits: in `bench transactions`, 100 ms
        // gave lag p50 187 ms with transaction boundaries on, 50 ms gave 135 ms (34-37 ms with them off).
        p.put(StreamsConfig.COMMIT_INTERVAL_MS_CONFIG, 50);
        // Kafka Streams raises its producers' linger.ms to 100 by default (StreamsConfig's producer
        // overrides), trading latency for batching; 5 ms still batches well under load.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.LINGER_MS_CONFIG), 5);
        // A write right after a commit can meet the previous transaction's markers still being written
        // (CONCURRENT_TRANSACTIONS, transactions v2); the producer's retry backoff grows exponentially
        // from retry.backoff.ms to retry.backoff.max.ms (KIP-580, 1 s by default), which at a commit every
        // 50 ms stalls the application. Retry sooner, and never wait more than a commit interval or two.
        p.put(StreamsConfig.producerPrefix(ProducerConfig.RETRY_BACKOFF_MS_CONFIG), 10);
        p.put(StreamsConfig.producerPrefix(ProducerConfig.RETRY_BACKOFF_MAX_MS_CONFIG), 100);
        // Every topology states its serdes; bytes as the default keep a forgotten one from guessing.
        p.put(StreamsConfig.DEFAULT_KEY_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
        p.put(StreamsConfig.DEFAULT_VALUE_SERDE_CLASS_CONFIG, Serdes.ByteArraySerde.class.getName());
        // No record cache: cached stores forward and log only on flush/eviction, which would hold
        // back divergence events and changelog writes until the next commit.
        p.put(StreamsConfig.STATESTORE_CACHE_MAX_BYTES_CONFIG, 0L);
        return p;
    }
}

package dev.understudy.stack.registry;

import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.Config;
import org.apache.kafka.clients.admin.ConfigEntry;
import org.apache.kafka.clients.admin.NewTopic;
import org.apache.kafka.clients.admin.TopicDescription;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.config.ConfigResource;
import org.apache.kafka.common.config.TopicConfig;
import org.apache.kafka.common.errors.TopicExistsException;
import org.apache.kafka.common.errors.UnknownTopicOrPartitionException;
import org.apache.kafka.common.errors.WakeupException;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.Consumer;

/**
 * A {@link RegistryLog} in a Kafka topic, as the Confluent registry's {@code KafkaStore} keeps its
 * state: one partition (order is the state), compacted (the latest record per key is the state),
 * created if missing; keys and values are the JSON of {@link RegistryRecord}. Writes use acks=all and
 * each returns only once this instance's own reader has consumed past it, so a read after a write
 * sees it, and every instance reading the topic applies the same records in the same order. A real
 * Confluent registry (or Karapace) can read a topic this log wrote, and this log reads theirs.
 *
 * <p>On {@link #start} it reads the topic to its end before returning, so the registry serves only
 * once it has the whole state (Confluent's {@code KafkaStore.init} waits the same way).
 */
public final class KafkaRegistryLog implements RegistryLog {
    private static final Logger LOG = LoggerFactory.getLogger(KafkaRegistryLog.class);
    /** Confluent's default {@code kafkastore.topic}. */
    public static final String DEFAULT_TOPIC = "_schemas";
    public static final Duration DEFAULT_TIMEOUT = Duration.ofSeconds(30);
    private static final Duration POLL = Duration.ofMillis(100);

    private final String bootstrapServers;
    private final String topic;
    private final short replicationFactor;
    private final Duration timeout;
    private final TopicPartition partition;
    private final AtomicBoolean closed = new AtomicBoolean();
    private final Object progress = new Object();
    /** The offset of the next record the reader will apply; guarded by {@link #progress}. */
    private long nextOffset;
    private Throwable readerFailure;
    private KafkaProducer<String, String> producer;
    private KafkaConsumer<String, String> consumer;
    private Thread reader;

    /**
     * @param replicationFactor of the topic, if it has to be created: 1 for a single broker, 3 in
     *                          production as Confluent's {@code kafkastore.topic.replication.factor}
     */
    public KafkaRegistryLog(String bootstrapServers, String topic, short replicationFactor, Duration timeout) {
        this.bootstrapServers = Objects.requireNonNull(bootstrapServers, "bootstrapServers");
        this.topic = Objects.requireNonNull(topic, "topic");
        this.replicationFactor = replicationFactor;
        this.timeout = Objects.requireNonNull(timeout, "timeout");
        this.partition = new TopicPartition(topic, 0);
    }

    /** The {@code _schemas} topic with replication factor 1, for a single broker. */
    public KafkaRegistryLog(String bootstrapServers) {
        this(bootstrapServers, DEFAULT_TOPIC, (short) 1, DEFAULT_TIMEOUT);
    }

    public String topic() {
        return topic;
    }

    @Override
    public void start(Consumer<RegistryRecord> applier) {
        Objects.requireNonNull(applier, "applier");
        if (consumer != null) {
            throw new IllegalStateException("The registry log on topic '" + topic + "' was already started");
        }
        long started = System.nanoTime();
        try {
            open(applier);
        } catch (RuntimeException e) {
            close();
            throw e;
        }
        LOG.info("Schema registry log on topic '{}' at {} caught up to offset {} in {} ms", topic, bootstrapServers,
                nextOffset, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    private void open(Consumer<RegistryRecord> applier) {
        ensureTopic();
        producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION, 1,
                // One record per request, and the request waits for it: batching would only add latency.
                ProducerConfig.LINGER_MS_CONFIG, 0,
                ProducerConfig.CLIENT_ID_CONFIG, "schema-registry-log-producer",
                ProducerConfig.KEY_SERIALIZER_CLASS_CONFIG, StringSerializer.class,
                ProducerConfig.VALUE_SERIALIZER_CLASS_CONFIG, StringSerializer.class));
        // No consumer group: every instance reads the whole partition itself, as KafkaStoreReaderThread does.
        consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                ConsumerConfig.CLIENT_ID_CONFIG, "schema-registry-log-reader",
                ConsumerConfig.KEY_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class,
                ConsumerConfig.VALUE_DESERIALIZER_CLASS_CONFIG, StringDeserializer.class));
        consumer.assign(List.of(partition));
        consumer.seekToBeginning(List.of(partition));
        long end = consumer.endOffsets(List.of(partition), timeout).get(partition);
        long deadline = System.nanoTime() + timeout.toNanos();
        int replayed = 0;
        while (consumer.position(partition, timeout) < end) {
            if (System.nanoTime() > deadline) {
                throw new SchemaStoreException("The schema registry could not read topic '" + topic + "' on " + bootstrapServers
                        + " to its end (offset " + end + ") within " + timeout.toSeconds() + " s; is the broker reachable?");
            }
            for (ConsumerRecord<String, String> record : consumer.poll(POLL)) {
                apply(applier, record);
                replayed++;
            }
        }
        nextOffset = consumer.position(partition, timeout);
        reader = new Thread(() -> read(applier), "schema-registry-log-reader-" + topic);
        reader.setDaemon(true);
        reader.start();
        LOG.debug("Replayed {} records of topic '{}'", replayed, topic);
    }

    @Override
    public void append(RegistryRecord record) {
        if (producer == null || closed.get()) {
            throw new SchemaStoreException("The schema registry log on topic '" + topic + "' is not running");
        }
        RecordMetadata written;
        try {
            written = producer.send(new ProducerRecord<>(topic, 0, record.key(), record.value()))
                    .get(timeout.toMillis(), TimeUnit.MILLISECONDS);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaStoreException("Interrupted while writing to topic '" + topic + "'", e);
        } catch (ExecutionException | TimeoutException e) {
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            throw new SchemaStoreException("Could not write to topic '" + topic + "' on " + bootstrapServers
                    + " within " + timeout.toSeconds() + " s: " + cause, cause);
        }
        // Like KafkaStore.put: wait until our own reader has applied the record, so reads see it.
        long deadline = System.nanoTime() + timeout.toNanos();
        synchronized (progress) {
            while (nextOffset <= written.offset()) {
                if (readerFailure != null) {
                    throw new SchemaStoreException("The reader of topic '" + topic + "' failed: " + readerFailure, readerFailure);
                }
                long left = deadline - System.nanoTime();
                if (left <= 0) {
                    throw new SchemaStoreException("Wrote offset " + written.offset() + " of topic '" + topic
                            + "' but did not read it back within " + timeout.toSeconds() + " s");
                }
                try {
                    TimeUnit.NANOSECONDS.timedWait(progress, left);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new SchemaStoreException("Interrupted while waiting for offset " + written.offset()
                            + " of topic '" + topic + "'", e);
                }
            }
        }
    }

    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (reader != null) {
            consumer.wakeup();
            try {
                reader.join(timeout.toMillis());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        } else if (consumer != null) {
            consumer.close(Duration.ZERO);
        }
        if (producer != null) {
            producer.close(Duration.ofSeconds(5));
        }
    }

    private void read(Consumer<RegistryRecord> applier) {
        try {
            while (!closed.get()) {
                for (ConsumerRecord<String, String> record : consumer.poll(POLL)) {
                    apply(applier, record);
                }
                long position = consumer.position(partition);
                synchronized (progress) {
                    nextOffset = position;
                    progress.notifyAll();
                }
            }
        } catch (WakeupException e) {
            // close() stops the reader.
        } catch (RuntimeException e) {
            LOG.error("The schema registry's reader of topic '{}' stopped; writes will fail until a restart", topic, e);
            synchronized (progress) {
                readerFailure = e;
                progress.notifyAll();
            }
        } finally {
            consumer.close(Duration.ZERO);
        }
    }

    private static void apply(Consumer<RegistryRecord> applier, ConsumerRecord<String, String> record) {
        if (record.key() == null) {
            LOG.warn("Skipping a record without key at offset {} of the registry topic", record.offset());
            return;
        }
        applier.accept(new RegistryRecord(record.key(), record.value()));
    }

    /** Creates the topic as Confluent's KafkaStore does, or checks that the existing one has one partition. */
    private void ensureTopic() {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, (int) timeout.toMillis()))) {
            Optional<TopicDescription> existing = describe(admin);
            if (existing.isEmpty()) {
                NewTopic newTopic = new NewTopic(topic, 1, replicationFactor)
                        .configs(Map.of(TopicConfig.CLEANUP_POLICY_CONFIG, TopicConfig.CLEANUP_POLICY_COMPACT));
                try {
                    admin.createTopics(List.of(newTopic)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS);
                    LOG.info("Created the schema registry topic '{}' (compacted, 1 partition, replication factor {})",
                            topic, replicationFactor);
                } catch (ExecutionException e) {
                    if (!(e.getCause() instanceof TopicExistsException)) {
                        throw e;
                    }
                }
            } else {
                // As Confluent's KafkaStore.verifySchemaTopic: one partition, compacted.
                if (existing.get().partitions().size() != 1) {
                    throw new SchemaStoreException("The schema registry topic '" + topic + "' has " + existing.get().partitions().size()
                            + " partitions; it needs exactly 1, because the order of its records is the registry's state."
                            + " Use another topic, or recreate this one with one partition.");
                }
                ConfigResource resource = new ConfigResource(ConfigResource.Type.TOPIC, topic);
                Config config = admin.describeConfigs(List.of(resource)).all().get(timeout.toMillis(), TimeUnit.MILLISECONDS)
                        .get(resource);
                ConfigEntry policy = config == null ? null : config.get(TopicConfig.CLEANUP_POLICY_CONFIG);
                if (policy == null || !policy.value().contains(TopicConfig.CLEANUP_POLICY_COMPACT)) {
                    throw new SchemaStoreException("The schema registry topic '" + topic + "' has cleanup.policy="
                            + (policy == null ? "?" : policy.value()) + "; it must be compacted, or Kafka deletes registered"
                            + " schemas when their retention ends. Set cleanup.policy=compact on the topic, or use another topic.");
                }
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new SchemaStoreException("Interrupted while preparing topic '" + topic + "'", e);
        } catch (ExecutionException | TimeoutException e) {
            throw new SchemaStoreException("Cannot prepare the schema registry topic '" + topic + "' on " + bootstrapServers
                    + ": " + (e.getCause() == null ? e : e.getCause()) + ". Is Kafka running there?", e);
        }
    }

    private Optional<TopicDescription> describe(Admin admin) throws InterruptedException, ExecutionException, TimeoutException {
        try {
            return Optional.of(admin.describeTopics(List.of(topic)).allTopicNames().get(timeout.toMillis(), TimeUnit.MILLISECONDS)
                    .get(topic));
        } catch (ExecutionException e) {
            if (e.getCause() instanceof UnknownTopicOrPartitionException) {
                return Optional.empty();
            }
            throw e;
        }
    }
}

package dev.understudy.stack;

import org.apache.kafka.common.test.KafkaClusterTestKit;
import org.apache.kafka.common.test.TestKitNodes;
import org.apache.kafka.metadata.bootstrap.BootstrapMetadata;
import org.apache.kafka.server.common.Feature;
import org.apache.kafka.server.common.MetadataVersion;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.stream.Collectors;

/**
 * One in-process Kafka node in KRaft combined mode (broker and controller in the same server),
 * built with Kafka's own {@link KafkaClusterTestKit}, with its logs in {@code <workDir>/kafka}.
 *
 * <p>The test kit has no JUnit dependency at runtime: besides kafka_2.13 and its server modules it
 * needs only {@code kafka-test-common-internal-api} (for {@code TestKitDefaults}), which Maven brings
 * along transitively, so it works from a plain {@code main} as well.
 */
public final class EmbeddedKafka implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedKafka.class);
    private static final Duration STARTUP_TIMEOUT = Duration.ofMinutes(2);
    private static final String LOOPBACK = "127.0.0.1";

    private final KafkaClusterTestKit cluster;
    private final Path logDirectory;
    private final String bootstrapServers;
    private final AtomicBoolean closed = new AtomicBoolean();

    private EmbeddedKafka(KafkaClusterTestKit cluster, Path logDirectory, String bootstrapServers) {
        this.cluster = cluster;
        this.logDirectory = logDirectory;
        this.bootstrapServers = bootstrapServers;
    }

    /**
     * Formats and starts the node in {@code <workDir>/kafka}, discarding whatever that directory holds
     * (the logs of an earlier run whose JVM was killed), and waits until the broker is ready.
     *
     * @throws EmbeddedStackException if the node does not start; the message says why
     */
    public static EmbeddedKafka start(Path workDir) {
        Path logDirectory = workDir.toAbsolutePath().normalize().resolve("kafka");
        long started = System.nanoTime();
        try {
            FileTrees.deleteRecursively(logDirectory);
        } catch (IOException e) {
            throw new EmbeddedStackException("Cannot delete the Kafka directory " + logDirectory + " left by an earlier"
                    + " run: " + e + ". Delete it by hand, or use another work directory.", e);
        }

        KafkaClusterTestKit cluster;
        try {
            TestKitNodes nodes = new TestKitNodes.Builder(productionBootstrapMetadata())
                    .setBaseDirectory(logDirectory)
                    .setCombined(true)
                    .setNumBrokerNodes(1)
                    .setNumControllerNodes(1)
                    .build();
            String brokerListener = nodes.brokerListenerName().value();
            String controllerListener = nodes.controllerListenerName().value();
            cluster = new KafkaClusterTestKit.Builder(nodes)
                    .setDeleteOnClose(true)
                    // The kit advertises "localhost"; advertise the IPv4 loopback instead, so that clients
                    // do not depend on how localhost resolves (::1 first on some hosts). Only the advertised
                    // host changes: the kit binds the sockets itself before the node starts, on the wildcard
                    // address (PreboundSocketFactoryManager binds new InetSocketAddress(0)), so the ports
                    // are reachable from other hosts too; that cannot be changed through the kit's API.
                    .setConfigProp("listeners", brokerListener + "://" + LOOPBACK + ":0," + controllerListener
                            + "://" + LOOPBACK + ":0")
                    // One broker: internal topics cannot have the default replication factor of 3.
                    .setConfigProp("offsets.topic.replication.factor", "1")
                    .setConfigProp("offsets.topic.num.partitions", "3")
                    .setConfigProp("transaction.state.log.replication.factor", "1")
                    .setConfigProp("transaction.state.log.min.isr", "1")
                    // 50 partitions by default; creating them delays the first transactional producer
                    // (Kafka Streams exactly-once) by seconds.
                    .setConfigProp("transaction.state.log.num.partitions", "3")
                    // A killed migration application leaves its open transaction behind; when it does not
                    // come back under the same transactional id (a new spec generation runs a new application),
                    // the broker aborts it after the producer's transaction.timeout.ms, checked this often
                    // (10 s by default). Until then read_committed readers of its topics stop at it.
                    .setConfigProp("transaction.abort.timed.out.transaction.cleanup.interval.ms", "1000")
                    // Transactions v2 (KIP-890): a transactional write to a partition whose previous
                    // transaction's marker is not written yet waits on the broker for up to this long, then
                    // fails with CONCURRENT_TRANSACTIONS; the producer then backs off and its later batches
                    // fail with out-of-order sequences until the first gets in. 100 ms by default, which a
                    // loaded machine exceeds at every commit of a Streams application committing every 50 ms.
                    .setConfigProp("add.partitions.to.txn.retry.backoff.max.ms", "2000")
                    .setConfigProp("share.coordinator.state.topic.replication.factor", "1")
                    .setConfigProp("share.coordinator.state.topic.min.isr", "1")
                    // The default 3 s delay only helps when many consumers join at once.
                    .setConfigProp("group.initial.rebalance.delay.ms", "0")
                    .setConfigProp("num.partitions", "3")
                    .setConfigProp("auto.create.topics.enable", "true")
                    // The kit enables unstable API and feature versions for Kafka's own tests; a broker for
                    // the pipeline should speak what released clients and brokers speak.
                    .setConfigProp("unstable.api.versions.enable", "false")
                    .setConfigProp("unstable.feature.versions.enable", "false")
                    .build();
        } catch (Exception e) {
            deleteQuietly(logDirectory);
            throw new EmbeddedStackException("Cannot create the Kafka node in " + logDirectory + ": " + e, e);
        }

        try {
            // startup() and waitForReadyBrokers() wait without a time limit; bound them.
            CompletableFuture.runAsync(() -> {
                try {
                    cluster.format();
                    cluster.startup();
                    cluster.waitForReadyBrokers();
                } catch (Exception e) {
                    throw new IllegalStateException(e);
                }
            }).get(STARTUP_TIMEOUT.toMillis(), TimeUnit.MILLISECONDS);
            String bootstrap = loopbackBootstrap(cluster.bootstrapServers());
            LOG.info("Kafka (KRaft, combined broker and controller) listening on {} (logs in {}), started in {} ms",
                    bootstrap, logDirectory, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
            return new EmbeddedKafka(cluster, logDirectory, bootstrap);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            closeQuietly(cluster, logDirectory);
            throw new EmbeddedStackException("Interrupted while starting Kafka in " + logDirectory, e);
        } catch (TimeoutException e) {
            closeQuietly(cluster, logDirectory);
            throw new EmbeddedStackException("Kafka in " + logDirectory + " was not ready within "
                    + STARTUP_TIMEOUT.toSeconds() + " s; see the log of kafka.server and org.apache.kafka for why", e);
        } catch (ExecutionException | RuntimeException e) {
            closeQuietly(cluster, logDirectory);
            Throwable cause = e instanceof ExecutionException && e.getCause() != null ? e.getCause() : e;
            if (cause instanceof IllegalStateException && cause.getCause() != null) {
                cause = cause.getCause();
            }
            throw new EmbeddedStackException("Kafka in " + logDirectory + " did not start: " + cause, cause);
        }
    }

    /** {@code 127.0.0.1:<port>}. */
    public String bootstrapServers() {
        return bootstrapServers;
    }

    /** {@code <workDir>/kafka}; deleted on close. */
    public Path logDirectory() {
        return logDirectory;
    }

    /** Stops the broker and controller and deletes {@link #logDirectory()}. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long started = System.nanoTime();
        try {
            cluster.close();
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            throw new EmbeddedStackException("Kafka in " + logDirectory + " did not shut down cleanly: " + e, e);
        } finally {
            deleteQuietly(logDirectory);
        }
        LOG.info("Kafka stopped in {} ms and {} deleted", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started),
                logDirectory);
    }

    @Override
    public String toString() {
        return "Kafka at " + bootstrapServers;
    }

    /**
     * Bootstrap metadata at the latest production metadata version, with every production feature at
     * its default level for that version: what a newly formatted release broker gets. The kit's
     * default is the latest <em>testing</em> version, which can enable features still in development.
     */
    private static BootstrapMetadata productionBootstrapMetadata() {
        MetadataVersion version = MetadataVersion.latestProduction();
        Map<String, Short> features = Feature.PRODUCTION_FEATURES.stream()
                .collect(Collectors.toMap(Feature::featureName, f -> f.defaultLevel(version), (a, b) -> a, TreeMap::new));
        return BootstrapMetadata.fromVersions(version, features, "understudy embedded stack");
    }

    /** Rewrites the kit's {@code localhost:<port>[,...]} to the advertised loopback address. */
    static String loopbackBootstrap(String kitBootstrap) {
        List<String> servers = new ArrayList<>();
        for (String server : kitBootstrap.split(",")) {
            int colon = server.lastIndexOf(':');
            if (colon < 0) {
                throw new IllegalStateException("Unexpected bootstrap server '" + server + "' from the Kafka test kit");
            }
            servers.add(LOOPBACK + server.substring(colon));
        }
        return String.join(",", servers);
    }

    private static void closeQuietly(KafkaClusterTestKit cluster, Path logDirectory) {
        try {
            cluster.close();
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            LOG.warn("Shutting down the partly started Kafka in {} failed: {}", logDirectory, e.toString());
        }
        deleteQuietly(logDirectory);
    }

    private static void deleteQuietly(Path directory) {
        try {
            FileTrees.deleteRecursively(directory);
        } catch (IOException e) {
            LOG.warn("Cannot delete {}: {}; delete it by hand", directory, e.toString());
        }
    }
}

package dev.understudy.stack;

import dev.understudy.stack.registry.EmbeddedSchemaRegistry;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * Everything the pipeline talks to, on this machine: a legacy and a target PostgreSQL 17 server
 * (real servers, logical decoding enabled), a single-node KRaft Kafka and a Confluent-compatible
 * schema registry. All state lives under one work directory and is deleted on close.
 */
public final class EmbeddedStack implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedStack.class);

    public static final String LEGACY = "legacy";
    public static final String TARGET = "target";

    /* Keys of connectionSettings(): the pipeline's own configuration keys. */
    public static final String LEGACY_JDBC_URL = "legacy.jdbc.url";
    public static final String LEGACY_USER = "legacy.user";
    public static final String LEGACY_PASSWORD = "legacy.password";
    public static final String TARGET_JDBC_URL = "target.jdbc.url";
    public static final String TARGET_USER = "target.user";
    public static final String TARGET_PASSWORD = "target.password";
    public static final String KAFKA_BOOTSTRAP_SERVERS = "kafka.bootstrap.servers";
    public static final String REGISTRY_URL = "registry.url";

    private final Path workDir;
    private final String pgTimeZone;
    private final EmbeddedPostgresServer legacy;
    private final EmbeddedPostgresServer target;
    private final EmbeddedKafka kafka;
    private final EmbeddedSchemaRegistry registry;
    private final AtomicBoolean closed = new AtomicBoolean();

    private EmbeddedStack(Path workDir, String pgTimeZone, EmbeddedPostgresServer legacy, EmbeddedPostgresServer target,
                          EmbeddedKafka kafka, EmbeddedSchemaRegistry registry) {
        this.workDir = workDir;
        this.pgTimeZone = pgTimeZone;
        this.legacy = legacy;
        this.target = target;
        this.kafka = kafka;
        this.registry = registry;
    }

    /**
     * Starts the four components under {@code workDir} ({@code legacy/}, {@code target/},
     * {@code kafka/}), both PostgreSQL servers in time zone {@code pgTimeZone}. PostgreSQL and Kafka
     * are independent and start in parallel; the schema registry, whose state is Kafka's
     * {@code _schemas} topic, starts as soon as Kafka is ready. If any fails, the others are closed
     * again and the failure thrown.
     *
     * @throws EmbeddedStackException if a component does not start; the message names it
     */
    public static EmbeddedStack start(Path workDir, String pgTimeZone) {
        Path dir = workDir.toAbsolutePath().normalize();
        try {
            Files.createDirectories(dir);
        } catch (IOException e) {
            throw new EmbeddedStackException("Cannot create the work directory " + dir + ": " + e
                    + ". Choose a writable directory.", e);
        }
        long started = System.nanoTime();
        ExecutorService starter = Executors.newFixedThreadPool(3, daemonThreads());
        try {
            Future<EmbeddedPostgresServer> legacyStart = starter.submit(() -> EmbeddedPostgresServer.start(LEGACY, dir, pgTimeZone));
            Future<EmbeddedPostgresServer> targetStart = starter.submit(() -> EmbeddedPostgresServer.start(TARGET, dir, pgTimeZone));
            Future<EmbeddedKafka> kafkaStart = starter.submit(() -> EmbeddedKafka.start(dir));
            // The registry keeps its state in Kafka's _schemas topic, so it starts once Kafka is up,
            // while the PostgreSQL servers go on starting. Without Kafka it is not started at all.
            Outcome<EmbeddedKafka> kafka = Outcome.await(kafkaStart);
            Outcome<EmbeddedSchemaRegistry> registry = kafka.value == null ? Outcome.skipped()
                    : Outcome.of(() -> EmbeddedSchemaRegistry.startOnKafka(0, kafka.value.bootstrapServers()));
            // Wait for every component, failed or not, so that none is left running unseen.
            Outcome<EmbeddedPostgresServer> legacy = Outcome.await(legacyStart);
            Outcome<EmbeddedPostgresServer> target = Outcome.await(targetStart);

            List<Outcome<? extends AutoCloseable>> all = List.of(legacy, target, kafka, registry);
            List<Throwable> failures = all.stream().filter(o -> o.failure != null).map(o -> o.failure).toList();
            if (!failures.isEmpty()) {
                List<Outcome<? extends AutoCloseable>> reversed = new ArrayList<>(all);
                Collections.reverse(reversed);
                for (Outcome<? extends AutoCloseable> outcome : reversed) {
                    if (outcome.value != null) {
                        closeQuietly(outcome.value);
                    }
                }
                Throwable first = failures.get(0);
                EmbeddedStackException e = new EmbeddedStackException("The embedded stack in " + dir
                        + " did not start: " + first.getMessage(), first);
                failures.stream().skip(1).forEach(e::addSuppressed);
                throw e;
            }
            EmbeddedStack stack = new EmbeddedStack(dir, pgTimeZone, legacy.value, target.value, kafka.value, registry.value);
            LOG.info("Embedded stack started in {} ms in {}: {}", TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started),
                    dir, stack.connectionSettings());
            return stack;
        } finally {
            starter.shutdownNow();
        }
    }

    public EmbeddedPostgresServer legacy() {
        return legacy;
    }

    public EmbeddedPostgresServer target() {
        return target;
    }

    public EmbeddedKafka kafka() {
        return kafka;
    }

    public EmbeddedSchemaRegistry registry() {
        return registry;
    }

    public Path workDir() {
        return workDir;
    }

    public String pgTimeZone() {
        return pgTimeZone;
    }

    /**
     * How to reach the stack, under the pipeline's configuration keys: legacy.jdbc.url,
     * legacy.user, legacy.password, target.jdbc.url, target.user, target.password,
     * kafka.bootstrap.servers and registry.url. Sorted by key, unmodifiable.
     */
    public Map<String, String> connectionSettings() {
        Map<String, String> settings = new TreeMap<>();
        settings.put(LEGACY_JDBC_URL, legacy.jdbcUrl());
        settings.put(LEGACY_USER, legacy.user());
        settings.put(LEGACY_PASSWORD, legacy.password());
        settings.put(TARGET_JDBC_URL, target.jdbcUrl());
        settings.put(TARGET_USER, target.user());
        settings.put(TARGET_PASSWORD, target.password());
        settings.put(KAFKA_BOOTSTRAP_SERVERS, kafka.bootstrapServers());
        settings.put(REGISTRY_URL, registry.url());
        return Collections.unmodifiableMap(settings);
    }

    /**
     * Writes {@link #connectionSettings()} to {@code file} as a Java properties file (UTF-8, keys
     * sorted, a comment header), replacing it atomically where the file system allows, so that a
     * process watching for the file never reads half of it.
     */
    public void writeSettings(Path file) throws IOException {
        Path target = file.toAbsolutePath().normalize();
        Path parent = target.getParent();
        Files.createDirectories(parent);
        Path temp = Files.createTempFile(parent, target.getFileName().toString(), ".tmp");
        try {
            try (Writer out = Files.newBufferedWriter(temp, StandardCharsets.UTF_8)) {
                out.write("# Connection settings of the embedded Understudy stack (legacy and target PostgreSQL, Kafka,\n");
                out.write("# schema registry); valid while that stack runs. Usable as is with: understudy run --config <this file> --spec <spec>\n");
                out.write("# Work directory: " + workDir + "; PostgreSQL time zone: " + pgTimeZone + "\n");
                for (Map.Entry<String, String> setting : connectionSettings().entrySet()) {
                    out.write(setting.getKey() + "=" + escapePropertyValue(setting.getValue()) + "\n");
                }
            }
            try {
                Files.move(temp, target, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(temp, target, StandardCopyOption.REPLACE_EXISTING);
            }
        } finally {
            Files.deleteIfExists(temp);
        }
    }

    /**
     * Closes the registry, Kafka, the target and the legacy server, in that order (the reverse of
     * their dependencies), each regardless of failures of the others; failures are logged.
     * Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        long started = System.nanoTime();
        closeQuietly(registry);
        closeQuietly(kafka);
        closeQuietly(target);
        closeQuietly(legacy);
        LOG.info("Embedded stack in {} stopped in {} ms", workDir, TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
    }

    @Override
    public String toString() {
        return "EmbeddedStack" + connectionSettings();
    }

    /**
     * Escapes a value for {@link java.util.Properties#load}: backslashes, line breaks, a leading
     * space, and anything outside printable ASCII (as a Unicode escape, so that the file reads the
     * same whether it is loaded as ISO-8859-1 bytes or as UTF-8 text).
     */
    static String escapePropertyValue(String value) {
        StringBuilder out = new StringBuilder(value.length());
        for (int i = 0; i < value.length(); i++) {
            char c = value.charAt(i);
            switch (c) {
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                case '\f' -> out.append("\\f");
                case ' ' -> out.append(i == 0 ? "\\ " : " ");
                default -> {
                    if (c < 0x20 || c > 0x7e) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        return out.toString();
    }

    private static void closeQuietly(AutoCloseable component) {
        try {
            component.close();
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            LOG.error("Closing {} failed; continuing with the rest of the stack", component, e);
        }
    }

    private static ThreadFactory daemonThreads() {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, "embedded-stack-start-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }

    /** A component that started, or why it did not. */
    private static final class Outcome<T> {
        final T value;
        final Throwable failure;

        private Outcome(T value, Throwable failure) {
            this.value = value;
            this.failure = failure;
        }

        /** Not started, because a component it needs did not start; that one's failure is reported. */
        static <T> Outcome<T> skipped() {
            return new Outcome<>(null, null);
        }

        static <T> Outcome<T> of(Callable<T> start) {
            try {
                return new Outcome<>(start.call(), null);
            } catch (Exception | Error e) {
                // Errors too (zonky reports a missing PostgreSQL binary as ExceptionInInitializerError):
                // the other components must still be awaited and closed.
                return new Outcome<>(null, e);
            }
        }

        /**
         * Waits for the start to finish even if interrupted (each start is bounded by its own
         * timeout), so that a component started meanwhile can still be closed; the interrupt is
         * restored afterwards.
         */
        static <T> Outcome<T> await(Future<T> start) {
            boolean interrupted = false;
            try {
                while (true) {
                    try {
                        return new Outcome<>(start.get(), null);
                    } catch (InterruptedException e) {
                        interrupted = true;
                    } catch (ExecutionException e) {
                        return new Outcome<>(null, e.getCause() == null ? e : e.getCause());
                    }
                }
            } finally {
                if (interrupted) {
                    Thread.currentThread().interrupt();
                }
            }
        }
    }
}

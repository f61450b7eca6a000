package dev.understudy.stack.registry;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.io.UncheckedIOException;
import java.net.BindException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Objects;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.ThreadFactory;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;

/**
 * A schema registry speaking the Confluent Schema Registry REST API v1 (see
 * {@link SchemaRegistryApi} for the endpoints), served by the JDK's built-in HTTP server on the
 * loopback interface. Clients written for Confluent's registry, such as the pipeline's
 * {@code ConfluentRegistryClient} over Confluent's own {@code CachedSchemaRegistryClient}, work against it
 * unchanged.
 *
 * <p>Its state is an event log in the layout of Confluent's {@code _schemas} topic
 * ({@link RegistryLog}): {@link #startOnKafka} keeps it in that topic, so it survives a restart and
 * several instances agree on it; {@link #start()} keeps it in memory. Compatibility rules are
 * Confluent's own checker ({@link ConfluentAvroCompatibility}).
 */
public final class EmbeddedSchemaRegistry implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedSchemaRegistry.class);
    private static final String LOOPBACK = "127.0.0.1";
    private static final int THREADS = 4;
    private static final int BACKLOG = 50;
    /** Far above any real schema; keeps a runaway client from filling the heap. */
    private static final int MAX_BODY_BYTES = 16 * 1024 * 1024;

    private final HttpServer server;
    private final ExecutorService executor;
    private final SchemaStore store;
    private final String url;
    private final AtomicBoolean closed = new AtomicBoolean();

    private EmbeddedSchemaRegistry(HttpServer server, ExecutorService executor, SchemaStore store) {
        this.server = server;
        this.executor = executor;
        this.store = store;
        this.url = "http://" + LOOPBACK + ":" + server.getAddress().getPort();
    }

    /** Starts a registry with an in-memory store on a free port of 127.0.0.1. */
    public static EmbeddedSchemaRegistry start() {
        return start(0);
    }

    /** Starts a registry with an in-memory store on {@code port} of 127.0.0.1 (0: a free port). */
    public static EmbeddedSchemaRegistry start(int port) {
        return start(port, new InMemorySchemaStore());
    }

    /**
     * Starts a registry on {@code port} of 127.0.0.1 (0: a free port) whose state lives in the
     * compacted {@code _schemas} topic of the Kafka at {@code bootstrapServers} (created if missing,
     * replication factor 1), read to its end before the registry serves. A registry restarted on the
     * same topic has the same subjects, versions, ids, compatibility levels and modes.
     */
    public static EmbeddedSchemaRegistry startOnKafka(int port, String bootstrapServers) {
        LogSchemaStore store = new LogSchemaStore(new KafkaRegistryLog(bootstrapServers));
        try {
            return start(port, store);
        } catch (RuntimeException e) {
            store.close();
            throw e;
        }
    }

    /**
     * Starts a registry on {@code port} of 127.0.0.1 (0: a free port) over {@code store}, which it
     * closes when it is closed.
     *
     * @throws UncheckedIOException if the port cannot be bound; the message names the port
     */
    public static EmbeddedSchemaRegistry start(int port, SchemaStore store) {
        Objects.requireNonNull(store, "store");
        if (port < 0 || port > 65535) {
            throw new IllegalArgumentException("Schema registry port " + port + " is not a TCP port (0-65535)");
        }
        HttpServer server;
        try {
            server = HttpServer.create(new InetSocketAddress(InetAddress.getByName(LOOPBACK), port), BACKLOG);
        } catch (BindException e) {
            throw new UncheckedIOException("Cannot start the schema registry on " + LOOPBACK + ":" + port + ": " + e.getMessage()
                    + ". Another process probably uses the port; stop it or choose another port (0 picks a free one).", e);
        } catch (IOException e) {
            throw new UncheckedIOException("Cannot start the schema registry on " + LOOPBACK + ":" + port + ": " + e, e);
        }
        ExecutorService executor = Executors.newFixedThreadPool(THREADS, daemonThreads());
        SchemaRegistryApi api = new SchemaRegistryApi(store);
        server.createContext("/", exchange -> serve(api, exchange));
        server.setExecutor(executor);
        server.start();
        EmbeddedSchemaRegistry registry = new EmbeddedSchemaRegistry(server, executor, store);
        LOG.info("Schema registry listening on {}", registry.url);
        return registry;
    }

    /** {@code http://127.0.0.1:<port>}, without a trailing slash. */
    public String url() {
        return url;
    }

    public int port() {
        return server.getAddress().getPort();
    }

    public SchemaStore store() {
        return store;
    }

    /** Stops serving (requests in progress are cut off), then closes the store. Idempotent. */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        // stop(0) closes the listener and all connections at once. A positive delay waits for exchanges
        // in progress, and JDKs before 21 (JDK-8304065) wait out the whole delay even when idle.
        server.stop(0);
        executor.shutdown();
        try {
            if (!executor.awaitTermination(5, TimeUnit.SECONDS)) {
                executor.shutdownNow();
            }
        } catch (InterruptedException e) {
            executor.shutdownNow();
            Thread.currentThread().interrupt();
        }
        store.close();
        LOG.info("Schema registry on {} stopped", url);
    }

    @Override
    public String toString() {
        return "Schema registry at " + url;
    }

    private static void serve(SchemaRegistryApi api, HttpExchange exchange) {
        try {
            SchemaRegistryApi.Response response;
            byte[] body = readBody(exchange.getRequestBody());
            if (body == null) {
                response = SchemaRegistryApi.error(422, ApiError.SCHEMA_TOO_LARGE,
                        "The request body is larger than " + MAX_BODY_BYTES + " bytes");
            } else {
                response = api.handle(new SchemaRegistryApi.Request(exchange.getRequestMethod(),
                        exchange.getRequestURI().getRawPath(), exchange.getRequestURI().getRawQuery(), exchange.getRequestHeaders().getFirst("Content-Type"), body));
            }
            byte[] out = response.body().getBytes(StandardCharsets.UTF_8);
            exchange.getResponseHeaders().set("Content-Type", SchemaRegistryApi.CONTENT_TYPE);
            exchange.sendResponseHeaders(response.status(), out.length == 0 ? -1 : out.length);
            if (out.length > 0) {
                try (OutputStream os = exchange.getResponseBody()) {
                    os.write(out);
                }
            }
        } catch (IOException e) {
            LOG.debug("Schema registry client {} went away: {}", exchange.getRemoteAddress(), e.toString());
        } catch (RuntimeException e) {
            LOG.error("Schema registry failed to answer {} {}", exchange.getRequestMethod(), exchange.getRequestURI(), e);
        } finally {
            exchange.close();
        }
    }

    /** The body, or null if it exceeds {@link #MAX_BODY_BYTES}. */
    private static byte[] readBody(InputStream in) throws IOException {
        ByteArrayOutputStream body = new ByteArrayOutputStream();
        byte[] buffer = new byte[8192];
        int n;
        while ((n = in.read(buffer)) >= 0) {
            if (body.size() + n > MAX_BODY_BYTES) {
                return null;
            }
            body.write(buffer, 0, n);
        }
        return body.toByteArray();
    }

    private static ThreadFactory daemonThreads() {
        AtomicInteger count = new AtomicInteger();
        return runnable -> {
            Thread thread = new Thread(runnable, "schema-registry-http-" + count.incrementAndGet());
            thread.setDaemon(true);
            return thread;
        };
    }
}

package dev.understudy.workbench;

import dev.understudy.stack.EmbeddedStack;
import org.flywaydb.core.Flyway;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.io.Writer;
import java.net.ServerSocket;
import java.net.URI;
import java.net.URISyntaxException;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.SQLException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * The peer pipeline a team would assemble today for the same job, as a process of its own
 * ({@link BenchProcess}): Kafka Connect in standalone mode with Debezium's PostgreSQL source and
 * Debezium's JDBC sink, the JSON converter with schemas, the users table's {@code name} renamed to
 * {@code full_name} on the way. Its parts are built by the {@code peer-connect} modules from Maven
 * Central; the worker loads each connector from a plugin directory of its own.
 * <p>
 * Configured as the connectors' documentation advises for replicating a table into an existing one:
 * <ul>
 *   <li>source: {@code pgoutput} with a publication of the one table, an initial snapshot, larger
 *   batches and queue than the defaults ({@code max.batch.size} 2,048, {@code max.queue.size} 8,192)
 *   and a shorter poll interval than the default 500 ms, for latency;</li>
 *   <li>sink: {@code insert.mode=upsert}, {@code primary.key.mode=record_key}, {@code delete.enabled=true},
 *   {@code schema.evolution=none} (the target is migrated by the same Flyway scripts as Understudy's),
 *   {@code batch.size} 10,000 (default 500) with the reduction buffer (one statement per key per batch),
 *   and the consumer polling as many records at once; the change events are flattened by Debezium's
 *   {@code ExtractNewRecordState} (deletes become tombstones, which the sink deletes by key) so that
 *   Kafka's {@code ReplaceField} can rename a column, the documented way to rename one;</li>
 *   <li>{@link Sink#UNNEST} adds the PostgreSQL dialect's {@code UNNEST} inserts (one statement for a
 *   whole batch, which its documentation says is 5-10 times faster).</li>
 * </ul>
 * Every setting is printed when the process starts.
 */
final class PeerProcess extends BenchProcess {
    /** The sink configurations measured. */
    enum Sink {
        /** JDBC batches of upserts, one per row, with the reduction buffer. */
        BATCH,
        /** The same, the upserts of a batch sent as one {@code INSERT ... SELECT FROM unnest(...)}. */
        UNNEST;

        String option() {
            return name().toLowerCase(Locale.ROOT);
        }

        static Sink of(String option) {
            for (Sink s : values()) {
                if (s.option().equals(option)) {
                    return s;
                }
            }
            throw new IllegalArgumentException("Unknown peer sink configuration '" + option + "': use batch or unnest");
        }
    }

    static final String SOURCE_TABLE = "public.users";
    private static final String WORKER_MAIN = "org.apache.kafka.connect.cli.ConnectStandalone";
    private static final int BATCH = 10_000;

    private static final long STATUS_EVERY_NANOS = 2_000_000_000L;

    private final URI rest;
    private final HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
    private long statusCheckedNanos;

    private PeerProcess(EmbeddedStack stack, String name, String targetUrl, Path log, Process process, long startedNanos, URI rest) {
        super(stack, name, targetUrl, log, process, startedNanos);
        this.rest = rest;
    }

    /**
     * Fails when the process has exited, or when a connector's task has failed: Kafka Connect keeps a
     * worker running with a failed task ("will not recover until manually restarted"), so its REST
     * status ({@code GET /connectors/{name}/status}) is asked every two seconds.
     */
    @Override
    void checkAlive() {
        super.checkAlive();
        long now = System.nanoTime();
        if (now - statusCheckedNanos < STATUS_EVERY_NANOS) {
            return;
        }
        statusCheckedNanos = now;
        for (String connector : List.of(name + "-source", name + "-sink")) {
            String body;
            try {
                HttpResponse<String> r = http.send(HttpRequest.newBuilder(rest.resolve("/connectors/" + connector + "/status"))
                        .timeout(Duration.ofSeconds(5)).build(), HttpResponse.BodyHandlers.ofString());
                if (r.statusCode() != 200) {
                    continue; // not created yet
                }
                body = r.body();
            } catch (IOException e) {
                continue; // the REST server is not up yet
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new IllegalStateException("Interrupted while asking the peer pipeline's status", e);
            }
            if (body.contains("\"state\":\"FAILED\"")) {
                int trace = body.indexOf("\"trace\":\"");
                String first = trace < 0 ? body : body.substring(trace + 9, Math.min(body.length(), body.indexOf("\\n", trace) < 0
                        ? body.length() : body.indexOf("\\n", trace)));
                throw new IllegalStateException("The peer pipeline's connector " + connector + " failed: " + first + "; see " + log());
            }
        }
    }

    @Override
    String what() {
        return "the peer pipeline";
    }

    @Override
    void dropSlots() {
        TransactionBenchmark.dropSlot(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), slot(name));
    }

    /**
     * Starts the peer pipeline named {@code name} (its connectors, replication slot, publication,
     * topics and offsets file carry the name), replicating the legacy users table into a new target
     * database of that name, migrated by {@code flyway} up to {@code flywayVersion}.
     */
    static PeerProcess start(EmbeddedStack stack, Path work, String name, Sink sink, String flyway, String flywayVersion, String heap)
            throws IOException, SQLException {
        Path home = peerHome();
        String targetUrl = TransactionBenchmark.createTargetDatabase(stack, name);
        Flyway.configure().dataSource(targetUrl, stack.target().user(), stack.target().password()).locations(flyway).target(flywayVersion)
                .load().migrate();
        Path dir = work.resolve(name);
        Files.createDirectories(dir);
        Files.deleteIfExists(dir.resolve("offsets"));
        TransactionBenchmark.dropSlot(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(), slot(name));

        Map<String, String> worker = new LinkedHashMap<>();
        worker.put("bootstrap.servers", stack.kafka().bootstrapServers());
        worker.put("key.converter", "org.apache.kafka.connect.json.JsonConverter");
        worker.put("value.converter", "org.apache.kafka.connect.json.JsonConverter");
        worker.put("key.converter.schemas.enable", "true");
        worker.put("value.converter.schemas.enable", "true");
        worker.put("offset.storage.file.filename", dir.resolve("offsets").toString());
        worker.put("offset.flush.interval.ms", "1000");
        worker.put("plugin.path", home.resolve("postgres-source/target/plugins") + "," + home.resolve("jdbc-sink/target/plugins"));
        // The connectors' jars declare their plugins for java.util.ServiceLoader, so the worker need
        // not scan every class of the plugin path (KIP-898).
        worker.put("plugin.discovery", "service_load");
        worker.put("listeners", "http://127.0.0.1:" + freePort());
        worker.put("consumer.max.poll.records", Integer.toString(BATCH));
        worker.put("consumer.fetch.max.bytes", Integer.toString(64 << 20));

        Map<String, String> source = new LinkedHashMap<>();
        source.put("name", name + "-source");
        source.put("connector.class", "io.debezium.connector.postgresql.PostgresConnector");
        source.put("tasks.max", "1");
        source.put("database.hostname", stack.legacy().host());
        source.put("database.port", Integer.toString(stack.legacy().port()));
        source.put("database.user", stack.legacy().user());
        source.put("database.password", stack.legacy().password());
        source.put("database.dbname", databaseOf(stack.legacy().jdbcUrl()));
        source.put("topic.prefix", name);
        source.put("table.include.list", SOURCE_TABLE);
        source.put("plugin.name", "pgoutput");
        source.put("slot.name", slot(name));
        source.put("publication.name", name + "_publication");
        source.put("publication.autocreate.mode", "filtered");
        source.put("snapshot.mode", "initial");
        source.put("max.batch.size", Integer.toString(BATCH));
        source.put("max.queue.size", Integer.toString(4 * BATCH));
        source.put("poll.interval.ms", "50");
        source.put("topic.creation.default.replication.factor", "1");
        source.put("topic.creation.default.partitions", "1");

        Map<String, String> sinkConfig = new LinkedHashMap<>();
        sinkConfig.put("name", name + "-sink");
        sinkConfig.put("connector.class", "io.debezium.connector.jdbc.JdbcSinkConnector");
        sinkConfig.put("tasks.max", "1");
        sinkConfig.put("topics", name + "." + SOURCE_TABLE);
        sinkConfig.put("connection.url", targetUrl);
        sinkConfig.put("connection.username", stack.target().user());
        sinkConfig.put("connection.password", stack.target().password());
        sinkConfig.put("insert.mode", "upsert");
        sinkConfig.put("primary.key.mode", "record_key");
        sinkConfig.put("delete.enabled", "true");
        sinkConfig.put("schema.evolution", "none");
        sinkConfig.put("collection.name.format", "users");
        sinkConfig.put("batch.size", Integer.toString(BATCH));
        sinkConfig.put("use.reduction.buffer", "true");
        if (sink == Sink.UNNEST) {
            sinkConfig.put("dialect.postgres.unnest.insert.enabled", "true");
        }
        sinkConfig.put("transforms", "unwrap,rename");
        sinkConfig.put("transforms.unwrap.type", "io.debezium.transforms.ExtractNewRecordState");
        sinkConfig.put("transforms.unwrap.delete.tombstone.handling.mode", "tombstone");
        sinkConfig.put("transforms.rename.type", "org.apache.kafka.connect.transforms.ReplaceField$Value");
        sinkConfig.put("transforms.rename.renames", "name:full_name");

        Path workerFile = write(dir.resolve("worker.properties"), worker);
        Path sourceFile = write(dir.resolve("source.properties"), source);
        Path sinkFile = write(dir.resolve("sink.properties"), sinkConfig);
        Path log4j = dir.resolve("log4j2.properties");
        Files.writeString(log4j, String.join("\n", "rootLogger.level = INFO", "rootLogger.appenderRef.console.ref = console",
                "appender.console.type = Console", "appender.console.name = console", "appender.console.layout.type = PatternLayout",
                "appender.console.layout.pattern = %d{HH:mm:ss.SSS} %-5p [%t] %c{1}: %m%n", ""));
        System.out.printf("  peer pipeline (sink configuration %s), Kafka Connect standalone, settings as given:%n", sink.option());
        print("worker", worker);
        print("source", source);
        print("sink", sinkConfig);

        Path log = dir.resolve("connect.log");
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java"), "-Xmx" + heap,
                "-Dlog4j2.configurationFile=" + log4j.toUri(), "-cp", home.resolve("worker/target/jars") + "/*", WORKER_MAIN,
                workerFile.toString(), sourceFile.toString(), sinkFile.toString()));
        long started = System.nanoTime();
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new PeerProcess(stack, name, targetUrl, log, process, started, URI.create(worker.get("listeners")));
    }

    static String slot(String name) {
        return name + "_legacy";
    }

    /**
     * The {@code peer-connect} directory of this source tree, where its modules left the worker's jars
     * and the plugin directories: {@code -Dunderstudy.peer.dir}, or found above this class's location.
     */
    static Path peerHome() {
        String given = System.getProperty("understudy.peer.dir");
        if (given != null) {
            return check(Path.of(given));
        }
        Path from;
        try {
            from = Path.of(PeerProcess.class.getProtectionDomain().getCodeSource().getLocation().toURI()).toAbsolutePath();
        } catch (URISyntaxException | RuntimeException e) {
            from = Path.of("").toAbsolutePath();
        }
        for (Path p = from; p != null; p = p.getParent()) {
            if (Files.isDirectory(p.resolve("peer-connect/worker"))) {
                return check(p.resolve("peer-connect"));
            }
        }
        throw new IllegalStateException("The peer pipeline's parts were not found above " + from + "; build them with "
                + "`mvn -B -q -f peer-connect/pom.xml package` in the source tree, or name their directory with -Dunderstudy.peer.dir");
    }

    private static Path check(Path home) {
        for (String part : List.of("worker/target/jars", "postgres-source/target/plugins", "jdbc-sink/target/plugins")) {
            if (!Files.isDirectory(home.resolve(part))) {
                throw new IllegalStateException("The peer pipeline's " + home.resolve(part) + " is missing; build it with "
                        + "`mvn -B -q -f " + home.resolve("pom.xml") + " package`");
            }
        }
        return home;
    }

    static String databaseOf(String jdbcUrl) {
        String rest = jdbcUrl.substring(jdbcUrl.indexOf("//") + 2);
        String db = rest.substring(rest.indexOf('/') + 1);
        int q = db.indexOf('?');
        return q < 0 ? db : db.substring(0, q);
    }

    private static int freePort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    static Path write(Path file, Map<String, String> settings) {
        StringBuilder text = new StringBuilder();
        // Written by hand rather than by Properties.store, which escapes the ':' and '=' of values such
        // as "name:full_name"; Kafka Connect reads the file with Properties.load either way.
        settings.forEach((k, v) -> text.append(k).append('=').append(v.replace("\\", "\\\\")).append('\n'));
        try (Writer out = Files.newBufferedWriter(file, StandardCharsets.UTF_8)) {
            out.write(text.toString());
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return file;
    }

    private static void print(String part, Map<String, String> settings) {
        settings.forEach((k, v) -> System.out.printf("    %-6s %s=%s%n", part, k, k.endsWith("password") ? "********" : v));
    }
}

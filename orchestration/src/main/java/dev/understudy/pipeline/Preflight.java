package dev.understudy.pipeline;

import dev.understudy.capture.CaptureSettings;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.CompletionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

/**
 * Checks, before anything starts, that every external part is reachable and fit: both databases
 * (reachable, wal_level=logical), Kafka, and the schema registry. All problems are reported
 * together, each naming the part and its address; passwords are never printed.
 */
public final class Preflight {
    private static final Logger LOG = LoggerFactory.getLogger(Preflight.class);
    /** Waited beyond wal_sender_timeout for a slot's walsender to exit, ms. */
    static final long SLOT_RELEASE_MARGIN_MS = 5_000;
    private Preflight() {
    }

    public static void check(PipelineConfig config) {
        String name = config.get(PipelineConfig.PIPELINE_NAME);
        // The four checks at once: each is a connection (and, in a fresh process, the loading of its
        // client's classes), and a (re)start waits for the slowest only. Problems keep this order. Their
        // own threads, not the common pool: they block on the network.
        ExecutorService pool = Executors.newFixedThreadPool(4, r -> {
            Thread t = new Thread(r, "understudy-preflight");
            t.setDaemon(true);
            return t;
        });
        List<CompletableFuture<List<String>>> checks;
        try {
            checks = List.of(
                    check(pool, p -> database("legacy", config.get(PipelineConfig.LEGACY_JDBC_URL), config.get(PipelineConfig.LEGACY_USER),
                            config.get(PipelineConfig.LEGACY_PASSWORD), name + "_legacy", name, p)),
                    check(pool, p -> database("target", config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                            config.get(PipelineConfig.TARGET_PASSWORD), name + "_target", name, p)),
                    check(pool, p -> kafka(config.get(PipelineConfig.KAFKA_BOOTSTRAP), p)),
                    check(pool, p -> registry(config.get(PipelineConfig.REGISTRY_URL), p)));
        } finally {
            pool.shutdown(); // the submitted checks still run
        }
        List<String> problems = new ArrayList<>();
        for (CompletableFuture<List<String>> c : checks) {
            try {
                problems.addAll(c.join());
            } catch (CompletionException e) {
                throw e.getCause() instanceof RuntimeException r ? r : e;
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("Cannot start the pipeline (" + problems.size() + " problem"
                    + (problems.size() == 1 ? "" : "s") + "):\n  - " + String.join("\n  - ", problems));
        }
    }

    private static CompletableFuture<List<String>> check(ExecutorService pool, Consumer<List<String>> check) {
        return CompletableFuture.supplyAsync(() -> {
            List<String> problems = new ArrayList<>();
            check.accept(problems);
            return problems;
        }, pool);
    }

    private static void database(String role, String url, String user, String password, String slot, String pipelineName,
                                 List<String> problems) {
        CaptureSettings.JdbcTarget t = CaptureSettings.JdbcTarget.parse(url);
        String where = role + " database '" + t.database() + "' at " + t.host() + ":" + t.port() + " as user '" + user + "'";
        Properties props = new Properties();
        props.setProperty("user", user);
        props.setProperty("password", password == null ? "" : password);
        props.setProperty("connectTimeout", "10");
        try (Connection c = DriverManager.getConnection(url, props); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT current_setting('wal_level')")) {
            rs.next();
            String walLevel = rs.getString(1);
            if (!"logical".equals(walLevel)) {
                problems.add(where + " has wal_level=" + walLevel + "; logical decoding needs wal_level=logical"
                        + " (ALTER SYSTEM SET wal_level = logical; then restart PostgreSQL)");
            }
            String held = slotHeldBy(c, slot, where, pipelineName);
            if (held != null) {
                problems.add(held);
            }
        } catch (SQLException e) {
            problems.add("cannot connect to " + where + ": " + e.getMessage() + " (SQLSTATE " + e.getSQLState()
                    + "); check " + role + ".jdbc.url, " + role + ".user and " + role + ".password");
        }
    }

    /**
     * Null once replication slot {@code slot} is free, or the problem when another connection keeps
     * streaming from it. A slot streams to one client at a time, so an active one usually means this
     * pipeline already runs; but after a crash of the process that held it (kill -9, a halt, a host
     * gone) the slot stays active until the server ends that walsender. PostgreSQL ends it when it
     * notices the closed connection: at once when it waits for its client, only at its next write
     * when it is busy decoding a large transaction, and after {@code wal_sender_timeout} when the
     * client vanished without closing ("Terminate replication connections that are inactive for
     * longer than this amount of time", PostgreSQL docs, 19.6.1). So an active slot is waited for up
     * to that timeout before the start is refused; a supervisor restarting a crashed pipeline at once
     * then gets a start, not a refusal.
     */
    static String slotHeldBy(Connection c, String slot, String where, String pipelineName) throws SQLException {
        long timeoutMs;
        try (Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT setting::bigint FROM pg_settings WHERE name = 'wal_sender_timeout'")) {
            // In ms; 0 disables the timeout, and a silent client then holds the slot until it is killed.
            timeoutMs = rs.next() ? rs.getLong(1) : 60_000;
        }
        long waitMs = timeoutMs > 0 ? timeoutMs + SLOT_RELEASE_MARGIN_MS : SLOT_RELEASE_MARGIN_MS;
        long deadline = System.nanoTime() + waitMs * 1_000_000;
        boolean told = false;
        try (PreparedStatement ps = c.prepareStatement("SELECT s.active_pid, a.client_addr::text, a.backend_start FROM pg_replication_slots s"
                + " LEFT JOIN pg_stat_activity a ON a.pid = s.active_pid WHERE s.slot_name = ? AND s.active")) {
            ps.setString(1, slot);
            while (true) {
                int pid;
                String client;
                java.sql.Timestamp since;
                try (ResultSet active = ps.executeQuery()) {
                    if (!active.next()) {
                        if (told) {
                            LOG.info("Replication slot '{}' on the {} was released; starting", slot, where);
                        }
                        return null;
                    }
                    pid = active.getInt(1);
                    client = active.getString(2);
                    since = active.getTimestamp(3);
                }
                String holder = "server process " + pid + (client == null ? "" : " (client " + client + (since == null ? "" : ", connected "
                        + since.toInstant() + ")") + ")");
                if (System.nanoTime() >= deadline) {
                    return "replication slot '" + slot + "' on the " + where + " is in use by " + holder + " and stayed so for "
                            + waitMs / 1000 + " s (wal_sender_timeout " + timeoutMs + " ms plus " + SLOT_RELEASE_MARGIN_MS / 1000
                            + " s): a pipeline named '" + pipelineName + "' is already running against it; stop that one, or give this"
                            + " one another pipeline.name (SELECT pg_terminate_backend(" + pid + ") ends the connection when it is"
                            + " known to be dead)";
                }
                if (!told) {
                    LOG.info("Replication slot '{}' on the {} is in use by {}; waiting up to {} s for it to be released, as after a"
                            + " crash of the pipeline that held it", slot, where, holder, waitMs / 1000);
                    told = true;
                }
                try {
                    Thread.sleep(250);
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return "interrupted while waiting for replication slot '" + slot + "' on the " + where + " to be released";
                }
            }
        }
    }

    private static void kafka(String bootstrap, List<String> problems) {
        try (Admin admin = Admin.create(Map.of(AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                AdminClientConfig.REQUEST_TIMEOUT_MS_CONFIG, 10_000,
                AdminClientConfig.DEFAULT_API_TIMEOUT_MS_CONFIG, 15_000))) {
            admin.describeCluster(new DescribeClusterOptions().timeoutMs(15_000)).clusterId().get(20, TimeUnit.SECONDS);
        } catch (Exception e) {
            problems.add("cannot reach Kafka at " + bootstrap + ": " + rootMessage(e) + "; check kafka.bootstrap.servers");
        }
    }

    private static void registry(String url, List<String> problems) {
        try {
            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
            HttpResponse<String> r = http.send(HttpRequest.newBuilder(URI.create(url.replaceAll("/$", "") + "/subjects"))
                    .timeout(Duration.ofSeconds(10)).GET().build(), HttpResponse.BodyHandlers.ofString());
            if (r.statusCode() != 200) {
                problems.add("schema registry at " + url + " answered GET /subjects with HTTP " + r.statusCode()
                        + "; check registry.url points at a Confluent-compatible registry");
            }
        } catch (Exception e) {
            if (e instanceof InterruptedException) {
                Thread.currentThread().interrupt();
            }
            problems.add("cannot reach the schema registry at " + url + ": " + rootMessage(e) + "; check registry.url");
        }
    }

    static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t.getClass().getSimpleName() + (t.getMessage() == null ? "" : ": " + t.getMessage());
    }
}

package dev.understudy.pipeline;

import dev.understudy.capture.CaptureSettings;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.admin.DescribeClusterOptions;

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
            // A slot streams to one client at a time; an active one means this pipeline already runs.
            try (PreparedStatement ps = c.prepareStatement(
                    "SELECT active_pid FROM pg_replication_slots WHERE slot_name = ? AND active")) {
                ps.setString(1, slot);
                try (ResultSet active = ps.executeQuery()) {
                    if (active.next()) {
                        problems.add("replication slot '" + slot + "' on the " + where + " is in use by server process "
                                + active.getInt(1) + ": a pipeline named '" + pipelineName
                                + "' is already running against it; stop that one, or give this one another pipeline.name");
                    }
                }
            }
        } catch (SQLException e) {
            problems.add("cannot connect to " + where + ": " + e.getMessage() + " (SQLSTATE " + e.getSQLState()
                    + "); check " + role + ".jdbc.url, " + role + ".user and " + role + ".password");
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

package dev.understudy.pipeline;

import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.net.ServerSocket;
import java.util.HashMap;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** Unreachable parts are reported together, each by name and address, and never with a password. */
class PreflightIT {
    private static int closedPort() throws IOException {
        try (ServerSocket s = new ServerSocket(0)) {
            return s.getLocalPort();
        }
    }

    @Test
    void everyUnreachablePartIsNamedWithItsAddressAndNoPassword() throws IOException {
        int pg = closedPort();
        int kafka = closedPort();
        int registry = closedPort();
        Map<String, String> m = new HashMap<>();
        m.put("legacy.jdbc.url", "jdbc:postgresql://127.0.0.1:" + pg + "/legacy");
        m.put("legacy.user", "app");
        m.put("legacy.password", "very-secret-1");
        m.put("target.jdbc.url", "jdbc:postgresql://127.0.0.1:" + pg + "/target");
        m.put("target.user", "app");
        m.put("target.password", "very-secret-2");
        m.put("kafka.bootstrap.servers", "127.0.0.1:" + kafka);
        m.put("registry.url", "http://127.0.0.1:" + registry);
        PipelineConfig config = PipelineConfig.parse(m, "test");
        IllegalStateException e = assertThrows(IllegalStateException.class, () -> Preflight.check(config));
        String msg = e.getMessage();
        assertTrue(msg.contains("4 problems"), msg);
        assertTrue(msg.contains("legacy database 'legacy' at 127.0.0.1:" + pg + " as user 'app'"), msg);
        assertTrue(msg.contains("target database 'target' at 127.0.0.1:" + pg + " as user 'app'"), msg);
        assertTrue(msg.contains("cannot reach Kafka at 127.0.0.1:" + kafka), msg);
        assertTrue(msg.contains("cannot reach the schema registry at http://127.0.0.1:" + registry), msg);
        assertFalse(msg.contains("very-secret"), msg);
    }
}

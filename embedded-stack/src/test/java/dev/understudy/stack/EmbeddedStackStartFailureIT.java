package dev.understudy.stack;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class EmbeddedStackStartFailureIT {

    @TempDir
    Path workDir;

    /** Both PostgreSQL servers fail; Kafka and the registry, which did start, are closed again. */
    @Test
    void componentsThatStartedAreClosedWhenAnotherFails() throws Exception {
        EmbeddedStackException e = assertThrows(EmbeddedStackException.class,
                () -> EmbeddedStack.start(workDir, "Nowhere/Atlantis"));
        assertTrue(e.getMessage().startsWith("The embedded stack in " + workDir.toRealPath() + " did not start"),
                e.getMessage());
        assertTrue(e.getMessage().contains("PostgreSQL 'legacy'"), e.getMessage());
        assertEquals(1, e.getSuppressed().length, "the target server's failure is attached");
        assertTrue(e.getSuppressed()[0].getMessage().contains("PostgreSQL 'target'"));
        for (String dir : new String[] {"legacy", "target", "kafka"}) {
            assertFalse(Files.exists(workDir.resolve(dir)), dir + " removed");
        }
        assertFalse(Thread.getAllStackTraces().keySet().stream().anyMatch(t -> t.getName().startsWith("kafka-cluster-test-kit")),
                "Kafka's threads have ended");
    }
}

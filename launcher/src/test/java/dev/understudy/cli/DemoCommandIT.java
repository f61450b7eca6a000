package dev.understudy.cli;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The demo command end to end, small: it must report a match by independent SQL and exit 0. */
class DemoCommandIT {
    @Test
    void smallDemoMatchesAndExitsZero(@TempDir Path home) {
        String previousHome = System.getProperty("understudy.home");
        PrintStream previousOut = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setProperty("understudy.home", home.toString());
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            exit = new CommandLine(new Main()).execute("demo", "--rows", "3000", "--workload-seconds", "4", "--rate", "300",
                    "--timezone", System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo"));
        } finally {
            System.setOut(previousOut);
            if (previousHome == null) {
                System.clearProperty("understudy.home");
            } else {
                System.setProperty("understudy.home", previousHome);
            }
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        previousOut.println(out);
        assertEquals(0, exit, out);
        assertTrue(out.contains("match:                     YES"), out);
        assertTrue(out.contains("after the snapshot:"), out);
        // Nothing of the run is left behind: its stores and the servers' directories are removed.
        assertFalse(Files.exists(home.resolve("demo").resolve("streams")), "streams state left behind");
        assertFalse(Files.exists(home.resolve("demo").resolve("legacy")), "legacy data directory left behind");
    }
}

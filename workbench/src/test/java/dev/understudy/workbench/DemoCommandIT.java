package dev.understudy.workbench;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * The demo command end to end, small: v1 of the purchase-order read model, then v2 applied under the
 * workload with its backfill; both must match the SQL join on the legacy database, and it must exit 0.
 */
class DemoCommandIT {
    private static final Pattern CHECK = Pattern.compile(
            "check (v[12]) \\(SQL join on legacy[^)]*\\): legacy join ([\\d,]+) rows, target ([\\d,]+) rows: ([\\d,]+) matching, "
                    + "([\\d,]+) mismatched, ([\\d,]+) missing in target, ([\\d,]+) extra in target -> MATCH");

    @Test
    void smallDemoAppliesV2UnderTheWorkloadAndBothChecksMatch(@TempDir Path home) {
        String previousHome = System.getProperty("understudy.home");
        PrintStream previousOut = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        System.setProperty("understudy.home", home.toString());
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            CommandLine cli = Workbench.commandLine();
            // A failure's message goes to the command's error stream: keep it with the output.
            cli.setErr(new java.io.PrintWriter(new java.io.OutputStreamWriter(captured, StandardCharsets.UTF_8), true));
            exit = cli.execute("demo", "--customers", "200", "--orders", "2000", "--workload-seconds", "4",
                    "--rate", "200", "--timeout", "60",
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
        Matcher m = CHECK.matcher(out);
        List<String> versions = new ArrayList<>();
        while (m.find()) {
            versions.add(m.group(1));
            long legacyRows = count(m.group(2));
            // The seed plus what the workload and the lag probe inserted, minus what it deleted: about 2,000.
            assertTrue(legacyRows > 1_500 && legacyRows < 3_000, "legacy rows: " + m.group());
            assertEquals(legacyRows, count(m.group(3)), m.group());
            assertEquals(legacyRows, count(m.group(4)), m.group());
            assertEquals(0, count(m.group(5)), m.group());
            assertEquals(0, count(m.group(6)), m.group());
            assertEquals(0, count(m.group(7)), m.group());
        }
        assertEquals(List.of("v1", "v2"), versions, out);
        assertTrue(out.contains("as generation 2"), out);
        assertTrue(out.contains("backfill g2 (v2_add_customer_country): complete"), out);
        // v2 keeps the read model's lineage: its backfill never shows a reader an order older than before.
        assertTrue(out.contains("rows seen older than before") && out.contains(" 0 rows seen older than before"), out);
        assertTrue(out.contains("match:                     YES (v1 and v2)"), out);
        assertTrue(out.contains("v1, after the snapshot:"), out);
        // The cutover gate: NOT READY before a verify, READY after a clean one with drift zero, NOT READY after a rogue write.
        int gate = out.indexOf("== cutover gate");
        assertTrue(gate > 0, out);
        List<String> decisions = out.substring(gate).lines().filter(l -> l.equals("READY") || l.equals("NOT READY")).toList();
        assertEquals(List.of("NOT READY", "READY", "NOT READY"), decisions, out.substring(gate));
        assertTrue(out.substring(gate).contains("-> CLEAN"), out.substring(gate));
        assertTrue(out.substring(out.indexOf("A rogue write")).contains("blocked: drift was not zero"), out.substring(gate));
        // Nothing of the run is left behind: its stores and the servers' directories are removed.
        assertFalse(Files.exists(home.resolve("demo").resolve("streams")), "streams state left behind");
        assertFalse(Files.exists(home.resolve("demo").resolve("legacy")), "legacy data directory left behind");
    }

    private static long count(String figure) {
        return Long.parseLong(figure.replace(",", ""));
    }
}

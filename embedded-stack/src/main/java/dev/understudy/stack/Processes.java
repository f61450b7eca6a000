package dev.understudy.stack;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

/** Process state checks for the PostgreSQL servers, which are not children of this JVM. */
final class Processes {
    private Processes() {
    }

    /**
     * True if {@code process} runs. Unlike {@link ProcessHandle#isAlive()}, a zombie (exited, not yet
     * reaped) counts as not running: the postmaster is re-parented to init once pg_ctl exits, and
     * until init reaps it, which some container init processes do only every second or so, it stays
     * in the process table. The state is the field after the parenthesised command name in
     * {@code /proc/<pid>/stat} (proc(5)); where there is no /proc, isAlive() decides alone.
     */
    static boolean isRunning(ProcessHandle process) {
        if (!process.isAlive()) {
            return false;
        }
        Path stat = Path.of("/proc", Long.toString(process.pid()), "stat");
        try {
            String content = Files.readString(stat, StandardCharsets.ISO_8859_1);
            int end = content.lastIndexOf(')');
            if (end < 0 || end + 2 >= content.length()) {
                return true;
            }
            char state = content.charAt(end + 2);
            return state != 'Z' && state != 'X' && state != 'x';
        } catch (IOException | SecurityException e) {
            // Gone meanwhile, or no /proc: fall back to what the JDK says.
            return process.isAlive();
        }
    }
}

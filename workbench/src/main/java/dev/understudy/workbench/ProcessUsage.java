package dev.understudy.workbench;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Optional;

/**
 * CPU time and peak resident set of processes, read from Linux's {@code /proc} (proc(5)): what a
 * benchmark charges to each part of a run.
 * <ul>
 *   <li>{@code /proc/<pid>/stat} fields 14-17: {@code utime}, {@code stime} of the process and
 *   {@code cutime}, {@code cstime} of its children that exited and were waited for, in clock ticks
 *   ({@code sysconf(_SC_CLK_TCK)}, {@value #TICKS_PER_SECOND} on Linux: USER_HZ). A PostgreSQL
 *   backend's time therefore stays counted after the backend exits, in its postmaster's
 *   {@code cutime}/{@code cstime}.</li>
 *   <li>{@code /proc/<pid>/status} {@code VmHWM}: the peak resident set ("high water mark").</li>
 * </ul>
 * Not Linux, or the process gone: {@link Optional#empty()}.
 */
final class ProcessUsage {
    /** USER_HZ, the unit of the times in /proc/<pid>/stat on every Linux architecture the JDK runs on. */
    static final int TICKS_PER_SECOND = 100;

    private ProcessUsage() {
    }

    /** CPU seconds (user and system) of the process itself. */
    static Optional<Double> cpuSeconds(long pid) {
        return stat(pid).map(f -> (f[0] + f[1]) / (double) TICKS_PER_SECOND);
    }

    /**
     * CPU seconds of a process tree whose root waits for its children (a postmaster): the root's own
     * time, its exited children's, and its live descendants'.
     */
    static Optional<Double> treeCpuSeconds(long rootPid) {
        Optional<long[]> root = stat(rootPid);
        if (root.isEmpty()) {
            return Optional.empty();
        }
        long[] r = root.get();
        double seconds = (r[0] + r[1] + r[2] + r[3]) / (double) TICKS_PER_SECOND;
        for (ProcessHandle child : ProcessHandle.of(rootPid).map(p -> p.descendants().toList()).orElse(List.of())) {
            seconds += cpuSeconds(child.pid()).orElse(0.0);
        }
        return Optional.of(seconds);
    }

    /** Peak resident set of the process in MiB ({@code VmHWM}). */
    static Optional<Long> peakRssMiB(long pid) {
        try {
            for (String line : Files.readAllLines(Path.of("/proc", Long.toString(pid), "status"))) {
                if (line.startsWith("VmHWM:")) {
                    return Optional.of(Long.parseLong(line.replaceAll("[^0-9]", "")) / 1024);
                }
            }
        } catch (IOException | RuntimeException e) {
            // not Linux, or the process is gone
        }
        return Optional.empty();
    }

    /** utime, stime, cutime, cstime of {@code /proc/<pid>/stat}. */
    private static Optional<long[]> stat(long pid) {
        String s;
        try {
            s = Files.readString(Path.of("/proc", Long.toString(pid), "stat"));
        } catch (IOException | RuntimeException e) {
            return Optional.empty(); // not Linux, or the process is gone
        }
        // Field 2, the command, is in parentheses and may contain spaces: count fields after its closing one.
        int close = s.lastIndexOf(')');
        if (close < 0) {
            return Optional.empty();
        }
        String[] f = s.substring(close + 2).trim().split("\\s+");
        // f[0] is field 3 (state), so field n is f[n - 3].
        try {
            return Optional.of(new long[] {Long.parseLong(f[11]), Long.parseLong(f[12]), Long.parseLong(f[13]), Long.parseLong(f[14])});
        } catch (RuntimeException e) {
            return Optional.empty();
        }
    }
}

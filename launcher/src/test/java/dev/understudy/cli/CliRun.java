package dev.understudy.cli;

import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;

/** Runs the {@code understudy} command in-process and captures what it prints, for command tests. */
final class CliRun {
    record Result(int exit, String out) {
    }

    private CliRun() {
    }

    /** The command's exit code and standard output; the output is also echoed to the test log. */
    static Result run(String... args) {
        PrintStream previous = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            exit = new CommandLine(new Main()).execute(args);
        } finally {
            System.setOut(previous);
        }
        String out = captured.toString(StandardCharsets.UTF_8);
        previous.println(out);
        return new Result(exit, out);
    }
}

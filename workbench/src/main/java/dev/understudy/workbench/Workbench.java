package dev.understudy.workbench;

import dev.understudy.cli.Main;
import picocli.CommandLine;

/**
 * What {@code ./understudy} runs: the product's command line ({@link Main}) plus the commands that
 * bring their own embedded stack (demo, dev, bench). They live here, outside the product jar, because
 * they carry an in-process Kafka broker and PostgreSQL binaries the product must not ship.
 */
public final class Workbench {
    private Workbench() {
    }

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The product's commands and the workbench's. */
    public static CommandLine commandLine() {
        CommandLine cli = Main.commandLine();
        cli.addSubcommand(new DemoCommand());
        cli.addSubcommand(new DevCommand());
        cli.addSubcommand(new BenchCommand());
        return cli;
    }
}

package dev.understudy.cli;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/** Entry point of the {@code understudy} command: the product's commands, each a thin roof over orchestration. */
@Command(name = "understudy", mixinStandardHelpOptions = true, version = "understudy 0.1.0",
        description = "Change-data-capture shadow migration: fill a new database from the legacy one's WAL and prove it matches.",
        subcommands = {RunCommand.class, PlanCommand.class, SchemasCommand.class, DlqCommand.class, WriterCommand.class, ThrottleCommand.class,
                VerifyCommand.class, RepairCommand.class, CutoverCommand.class})
public final class Main implements Runnable {
    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    public static void main(String[] args) {
        System.exit(commandLine().execute(args));
    }

    /** The product's command line; the workbench adds its own commands (demo, dev, bench) to it. */
    public static CommandLine commandLine() {
        CommandLine cli = new CommandLine(new Main());
        // Configuration and start-up problems are the user's to fix: print the message, not a stack trace.
        cli.setExecutionExceptionHandler((e, commandLine, parseResult) -> {
            commandLine.getErr().println("understudy: " + e.getMessage());
            if (Boolean.getBoolean("understudy.debug")) {
                e.printStackTrace(commandLine.getErr());
            }
            return 2;
        });
        return cli;
    }

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }
}

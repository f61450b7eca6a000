package dev.understudy.workbench;

import dev.understudy.stack.EmbeddedStack;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.CountDownLatch;

/** Starts only the embedded stack and publishes its connection settings. */
@Command(name = "dev", mixinStandardHelpOptions = true,
        description = "Start the embedded stack (two PostgreSQL 17, Kafka, schema registry), write its connection settings, and run until interrupted.")
final class DevCommand implements Callable<Integer> {
    @Option(names = "--settings-file", description = "Where to write the settings (default: <home>/dev/understudy.properties).")
    Path settingsFile;

    @Option(names = "--timezone", defaultValue = "UTC", description = "PostgreSQL server time zone (default: ${DEFAULT-VALUE}).")
    String timeZone;

    @Override
    public Integer call() throws Exception {
        Path work = Home.dir().resolve("dev");
        Path file = settingsFile != null ? settingsFile : work.resolve("understudy.properties");
        CountDownLatch stopped = new CountDownLatch(1);
        try (EmbeddedStack stack = EmbeddedStack.start(work, timeZone)) {
            Files.createDirectories(file.toAbsolutePath().getParent());
            stack.writeSettings(file);
            System.out.println("Embedded stack is up. Connection settings (also in " + file.toAbsolutePath() + "):");
            for (Map.Entry<String, String> e : new TreeMap<>(stack.connectionSettings()).entrySet()) {
                System.out.println("  " + e.getKey() + "=" + e.getValue());
            }
            System.out.println("Run a migration against it with: ./understudy run --config " + file.toAbsolutePath()
                    + " --spec examples/users/v1.2_add_birthdate_to_users.yaml");
            System.out.println("Press Ctrl-C to stop and clean up.");
            Runtime.getRuntime().addShutdownHook(new Thread(() -> {
                stopped.countDown();
                stack.close();
                // The settings describe a stack that no longer exists.
                try {
                    Files.deleteIfExists(file);
                } catch (IOException e) {
                    System.err.println("understudy: cannot delete " + file + ": " + e.getMessage());
                }
            }, "understudy-dev-shutdown"));
            stopped.await();
        }
        return 0;
    }
}

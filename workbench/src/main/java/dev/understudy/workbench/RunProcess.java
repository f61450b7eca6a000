package dev.understudy.workbench;

import dev.understudy.cli.Main;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;

import java.io.IOException;
import java.io.InputStream;
import java.io.Writer;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Properties;
import java.util.TreeMap;

/**
 * {@code understudy run} of a spec as a process of its own ({@link BenchProcess}), on a new pipeline
 * with a new target database.
 */
final class RunProcess extends BenchProcess {
    static final String USERS_SPEC = "examples/users/v1.2_add_birthdate_to_users.yaml";

    /** What starts the process again: the command, and the work directory its logs go to. */
    private final List<String> command;
    private final Path work;

    private RunProcess(EmbeddedStack stack, String name, String targetUrl, Path log, Process process, long startedNanos,
                       List<String> command, Path work) {
        super(stack, name, targetUrl, log, process, startedNanos);
        this.command = command;
        this.work = work;
    }

    @Override
    String what() {
        return "understudy run";
    }

    @Override
    void dropSlots() {
        TransactionBenchmark.dropSlots(stack, name, targetUrl());
    }

    /** The users spec, written into {@code work} from the workbench's resources. */
    static Path usersSpec(Path work) throws IOException {
        Path spec = work.resolve("users.yaml");
        try (InputStream in = RunProcess.class.getClassLoader().getResourceAsStream(USERS_SPEC)) {
            if (in == null) {
                throw new IllegalStateException("The workbench was built without examples/users; rebuild it with mvn -pl workbench -am package");
            }
            Files.copy(in, spec, StandardCopyOption.REPLACE_EXISTING);
        }
        return spec;
    }

    /**
     * Starts {@code understudy run --spec spec} as pipeline {@code name}, into a new target database
     * of that name.
     *
     * @param overrides pipeline settings on top of the stack's connection settings
     * @param jfr       whether to record the process with Java Flight Recorder into {@code work/<name>.jfr}
     */
    static RunProcess start(EmbeddedStack stack, Path work, String name, Path spec, Map<String, String> overrides, List<String> jvm, boolean jfr)
            throws IOException, SQLException {
        String targetUrl = TransactionBenchmark.createTargetDatabase(stack, name);
        Path settings = work.resolve(name + ".properties");
        Map<String, String> values = new TreeMap<>(stack.connectionSettings());
        values.put(PipelineConfig.TARGET_JDBC_URL.name(), targetUrl);
        values.put(PipelineConfig.PIPELINE_NAME.name(), name);
        values.put(TransformConfig.STATE_DIR.name(), work.resolve("streams").resolve(name).toString());
        values.putAll(overrides);
        Properties p = new Properties();
        p.putAll(values);
        try (Writer out = Files.newBufferedWriter(settings, StandardCharsets.UTF_8)) {
            p.store(out, "understudy bench, pipeline " + name);
        }
        List<String> command = new ArrayList<>(List.of(ProcessHandle.current().info().command().orElse("java")));
        command.addAll(jvm);
        if (jfr) {
            command.add("-XX:StartFlightRecording=filename=" + work.resolve(name + ".jfr") + ",settings=profile");
        }
        command.addAll(List.of("-cp", System.getProperty("java.class.path"), Main.class.getName(), "run", "--config", settings.toString(),
                "--spec", spec.toString(), "--status-interval", "10"));
        return launch(stack, name, targetUrl, work, work.resolve(name + ".log"), command);
    }

    private static RunProcess launch(EmbeddedStack stack, String name, String targetUrl, Path work, Path log, List<String> command)
            throws IOException {
        long started = System.nanoTime();
        Process process = new ProcessBuilder(command).redirectErrorStream(true).redirectOutput(log.toFile()).start();
        return new RunProcess(stack, name, targetUrl, log, process, started, command, work);
    }

    /**
     * The same pipeline started again, with the same settings and spec, into the same target, once this
     * process has ended ({@link #kill()}); its log goes to {@code <name>-<run>.log}.
     */
    RunProcess restart(int run) throws IOException {
        checkEnded();
        return launch(stack, name, targetUrl(), work, work.resolve(name + "-" + run + ".log"), command);
    }
}

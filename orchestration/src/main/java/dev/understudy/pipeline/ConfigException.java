package dev.understudy.pipeline;

import java.util.List;

/** Invalid configuration; lists every problem found, each naming the key and what it expects. */
public class ConfigException extends RuntimeException {
    private final List<String> problems;

    public ConfigException(String source, List<String> problems) {
        super("Invalid configuration in " + source + " (" + problems.size() + " problem" + (problems.size() == 1 ? "" : "s") + "):\n  - "
                + String.join("\n  - ", problems));
        this.problems = List.copyOf(problems);
    }

    public List<String> problems() {
        return problems;
    }
}

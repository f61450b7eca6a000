package dev.understudy.workbench;

import java.nio.file.Path;

/** Where the embedded stack keeps its data: {@code -Dunderstudy.home}, else .understudy in the working directory. */
final class Home {
    private Home() {
    }

    static Path dir() {
        return Path.of(System.getProperty("understudy.home", ".understudy")).toAbsolutePath();
    }
}

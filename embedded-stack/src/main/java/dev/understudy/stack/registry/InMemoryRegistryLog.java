package dev.understudy.stack.registry;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;
import java.util.function.Consumer;

/** A {@link RegistryLog} in memory: records are applied as they are appended and kept for inspection. */
public final class InMemoryRegistryLog implements RegistryLog {
    private final List<RegistryRecord> records = new ArrayList<>();
    private Consumer<RegistryRecord> applier;

    public InMemoryRegistryLog() {
    }

    /** A log that already holds {@code records}, replayed on {@link #start}: as after a restart. */
    public InMemoryRegistryLog(List<RegistryRecord> records) {
        this.records.addAll(records);
    }

    @Override
    public synchronized void start(Consumer<RegistryRecord> applier) {
        if (this.applier != null) {
            throw new IllegalStateException("The registry log was already started");
        }
        this.applier = Objects.requireNonNull(applier, "applier");
        records.forEach(applier);
    }

    @Override
    public synchronized void append(RegistryRecord record) {
        if (applier == null) {
            throw new IllegalStateException("Start the registry log before appending to it");
        }
        records.add(Objects.requireNonNull(record, "record"));
        applier.accept(record);
    }

    /** Every record appended so far, in order. */
    public synchronized List<RegistryRecord> records() {
        return List.copyOf(records);
    }
}

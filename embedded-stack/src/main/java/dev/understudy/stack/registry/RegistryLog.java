package dev.understudy.stack.registry;

import java.util.function.Consumer;

/**
 * The registry's state as an ordered log of {@link RegistryRecord}s, like the Confluent registry's
 * {@code _schemas} topic (its {@code KafkaStore}). Every change goes through the log; the state is
 * what applying the records in order yields, so any instance that reads the same log arrives at the
 * same state.
 */
public interface RegistryLog extends AutoCloseable {

    /**
     * Delivers every record already in the log to {@code applier}, in order, then keeps delivering
     * records as they arrive (appended by this or another instance). Returns once the records that
     * were in the log when it was called have been applied. Called once, before {@link #append}.
     * {@code applier} is called from one thread at a time.
     */
    void start(Consumer<RegistryRecord> applier);

    /**
     * Appends {@code record} and returns once this instance's applier has applied it (and every
     * record before it), so that a read after the return sees the write.
     *
     * @throws SchemaStoreException if the record could not be written or was not read back in time
     */
    void append(RegistryRecord record);

    @Override
    default void close() {
    }
}

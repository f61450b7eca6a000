package dev.understudy.stack.registry;

/**
 * A {@link SchemaStore} whose log lives in memory: state lasts as long as the process, like the
 * topics of the embedded Kafka broker it runs next to. The same rules as over Kafka
 * ({@link LogSchemaStore}); only the log differs.
 */
public final class InMemorySchemaStore extends LogSchemaStore {
    public InMemorySchemaStore() {
        super(new InMemoryRegistryLog());
    }
}

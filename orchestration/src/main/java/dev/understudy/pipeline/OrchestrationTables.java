package dev.understudy.pipeline;

import java.sql.Connection;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.Set;

/**
 * The orchestration's own tables in schema {@value #SCHEMA} of the target, and every statement that
 * creates them. Orchestration is their only owner: {@link MigrationGenerations} keeps
 * {@value #MIGRATION_GENERATION}, {@value #CAPTURED_TABLE}, {@value #GENERATION_TARGET}, {@value #INITIAL_LOAD} and {@value #INITIAL_LOAD_CHUNK}; verify keeps its runs in
 * {@value #VERIFY_RUN}, {@value #VERIFY_TABLE} and {@value #VERIFY_DIFFERENCE} (and answers for them
 * through {@code VerifyHistory}). The writer's tables in the same schema are the shadow writer's.
 */
public final class OrchestrationTables {
    static final String SCHEMA = "understudy";
    static final String MIGRATION_GENERATION = SCHEMA + ".migration_generation";
    static final String CAPTURED_TABLE = SCHEMA + ".captured_table";
    static final String GENERATION_TARGET = SCHEMA + ".generation_target";
    /** Per pipeline: its initial load outside the stream, while and after it runs. */
    static final String INITIAL_LOAD = SCHEMA + ".initial_load";
    /** Per pipeline, legacy table and chunk of its initial load: the chunk's pages, and whether it is in. */
    static final String INITIAL_LOAD_CHUNK = SCHEMA + ".initial_load_chunk";
    /** One row per verify run. */
    public static final String VERIFY_RUN = SCHEMA + ".verify_run";
    /** Per run and table: the last key of the last finished chunk, and counts. */
    public static final String VERIFY_TABLE = SCHEMA + ".verify_table";
    /** Per run and table: the keys found different. */
    public static final String VERIFY_DIFFERENCE = SCHEMA + ".verify_difference";

    private static final String CREATE_MIGRATION_GENERATION = "CREATE TABLE IF NOT EXISTS " + MIGRATION_GENERATION
            + " (pipeline text NOT NULL, migration text NOT NULL, "
            + "generation bigint NOT NULL, fingerprint text NOT NULL, flyway_version text, "
            + "started_at timestamptz NOT NULL DEFAULT now(), backfill_completed_at timestamptz, "
            + "PRIMARY KEY (pipeline, migration), UNIQUE (pipeline, generation))";
    private static final String CREATE_CAPTURED_TABLE = "CREATE TABLE IF NOT EXISTS " + CAPTURED_TABLE
            + " (pipeline text NOT NULL, table_name text NOT NULL, "
            + "covered_by text NOT NULL, covered_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (pipeline, table_name))";

    /** Per generation and target: how the target key derives from legacy rows, and the lineage that gave. */
    private static final String CREATE_GENERATION_TARGET = "CREATE TABLE IF NOT EXISTS " + GENERATION_TARGET
            + " (pipeline text NOT NULL, generation bigint NOT NULL, target_table text NOT NULL, "
            + "key_derivation text NOT NULL, lineage bigint NOT NULL, PRIMARY KEY (pipeline, generation, target_table))";

    /**
     * A pipeline's initial load ({@code initial.load=bulk}): LOADING from before the slot is created
     * until every chunk is in the target and the state in Kafka, then LOADED. A LOADING row found at
     * a start means the load was interrupted: it resumes from {@value #INITIAL_LOAD_CHUNK}, or starts over.
     */
    private static final String CREATE_INITIAL_LOAD = "CREATE TABLE IF NOT EXISTS " + INITIAL_LOAD
            + " (pipeline text PRIMARY KEY, generation bigint NOT NULL, state text NOT NULL CHECK (state IN ('LOADING', 'LOADED')), "
            + "consistent_point text, rows_loaded bigint, started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz)";
    /**
     * The chunks of an initial load, planned at its snapshot: each with its predicate on the legacy
     * table, the table's file when planned (a rewrite, e.g. VACUUM FULL, moves every row to other
     * pages) and the snapshot's oldest running transaction (rows written from it on may be newer than
     * the snapshot), and {@code loaded} once its rows are committed in the target and its records
     * acknowledged by Kafka.
     */
    private static final String CREATE_INITIAL_LOAD_CHUNK = "CREATE TABLE IF NOT EXISTS " + INITIAL_LOAD_CHUNK
            + " (pipeline text NOT NULL, table_name text NOT NULL, chunk integer NOT NULL, predicate text NOT NULL, "
            + "relfilenode bigint NOT NULL, snapshot_xmin bigint NOT NULL, loaded boolean NOT NULL DEFAULT false, rows_loaded bigint, "
            + "PRIMARY KEY (pipeline, table_name, chunk))";
    private static final String CREATE_VERIFY_RUN = "CREATE TABLE IF NOT EXISTS " + VERIFY_RUN
            + " (run_id text PRIMARY KEY, pipeline text NOT NULL, migration text NOT NULL, "
            + "started_at timestamptz NOT NULL DEFAULT now(), finished_at timestamptz)";
    private static final String CREATE_VERIFY_TABLE = "CREATE TABLE IF NOT EXISTS " + VERIFY_TABLE
            + " (run_id text NOT NULL, table_name text NOT NULL, snapshot_lsn bigint NOT NULL, "
            + "last_key text[], done boolean NOT NULL DEFAULT false, processed bigint NOT NULL DEFAULT 0, "
            + "target_rows bigint NOT NULL DEFAULT 0, chunks bigint NOT NULL DEFAULT 0, chunks_differing bigint NOT NULL DEFAULT 0, "
            + "settled bigint NOT NULL DEFAULT 0, millis bigint NOT NULL DEFAULT 0, updated_at timestamptz NOT NULL DEFAULT now(), "
            + "PRIMARY KEY (run_id, table_name))";
    private static final String CREATE_VERIFY_DIFFERENCE = "CREATE TABLE IF NOT EXISTS " + VERIFY_DIFFERENCE
            + " (run_id text NOT NULL, table_name text NOT NULL, kind text NOT NULL, "
            + "key_json text NOT NULL, key_values text[] NOT NULL, PRIMARY KEY (run_id, table_name, key_json))";

    private OrchestrationTables() {
    }

    /** Creates {@value #MIGRATION_GENERATION}, {@value #CAPTURED_TABLE}, {@value #GENERATION_TARGET}, {@value #INITIAL_LOAD} and {@value #INITIAL_LOAD_CHUNK} when missing. */
    static void createGenerationTables(Connection c) throws SQLException {
        create(c, CREATE_MIGRATION_GENERATION, CREATE_CAPTURED_TABLE, CREATE_GENERATION_TARGET, CREATE_INITIAL_LOAD,
                CREATE_INITIAL_LOAD_CHUNK);
    }

    /** Creates the verify tables when missing. With auto-commit off the caller commits afterwards. */
    public static void createVerifyTables(Connection c) throws SQLException {
        create(c, CREATE_VERIFY_RUN, CREATE_VERIFY_TABLE, CREATE_VERIFY_DIFFERENCE);
    }

    /**
     * Runs {@code ddl} after creating the schema when missing. Without auto-commit this must be the
     * transaction's first work: losing a creation race rolls the transaction back.
     */
    private static void create(Connection c, String... ddl) throws SQLException {
        boolean auto = c.getAutoCommit();
        // A lost race ends the statement list early; the second attempt finds the raced object made
        // (its creator committed it, or there would have been no conflict) and creates the rest.
        for (int attempt = 1; ; attempt++) {
            try (Statement s = c.createStatement()) {
                s.execute("CREATE SCHEMA IF NOT EXISTS " + SCHEMA);
                for (String statement : ddl) {
                    s.execute(statement);
                }
                return;
            } catch (SQLException e) {
                // IF NOT EXISTS races with a concurrent creator (23505 on a catalog index, 42P06/42P07):
                // the object then exists, which is all that is needed.
                if (!Set.of("23505", "42P06", "42P07").contains(e.getSQLState())) {
                    throw e;
                }
                if (!auto) {
                    c.rollback();
                }
                if (attempt == 2) {
                    return;
                }
            }
        }
    }
}

package dev.understudy.pipeline;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Timestamp;
import java.time.Instant;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * Which spec versions a pipeline has run, as numbered generations, kept in the target database next
 * to the writer's bookkeeping ({@value #TABLE}).
 * <p>
 * A spec version is identified by its {@code migration:} name. The first time a pipeline starts on a
 * name it becomes the next generation: its migration runs as a new Kafka Streams application that
 * re-reads the legacy topics from their start, and its rows carry the generation, so the writer lets
 * them replace the previous generation's rows (the backfill). Starting again on the same name resumes
 * that generation. Two refusals keep the numbering meaningful:
 * <ul>
 *   <li>a name whose spec changed since it ran (another fingerprint): the change would reach only
 *   rows changed from now on, never the rows already written; a new name backfills it;</li>
 *   <li>a name older than the newest generation: its rows would all lose against the newer
 *   generation's, so going back needs a new name too.</li>
 * </ul>
 * The table also remembers which legacy tables the capture has covered, by its initial snapshot or
 * a completed incremental snapshot: a table added to the capture later has no history in Kafka.
 */
public final class MigrationGenerations {
    private static final String TABLE = OrchestrationTables.MIGRATION_GENERATION;
    private static final String COVERED_TABLE = OrchestrationTables.CAPTURED_TABLE;
    private static final String TARGET_TABLE = OrchestrationTables.GENERATION_TARGET;

    /**
     * One generation.
     *
     * @param fresh              true when this start created it (nothing of it has run before)
     * @param backfillCompletedAt when its backfill was last seen complete, or null
     */
    public record Generation(String pipeline, String migration, long number, boolean fresh, Instant backfillCompletedAt) {
        public boolean backfillComplete() {
            return backfillCompletedAt != null;
        }
    }

    private final String url;
    private final String user;
    private final String password;

    public MigrationGenerations(String url, String user, String password) {
        this.url = url;
        this.user = user;
        this.password = password;
    }

    /**
     * The generation of {@code migration} in {@code pipeline}, created as the next one when new.
     *
     * @throws IllegalStateException when the spec changed under the same name, or is not the newest
     */
    public Generation resolve(String pipeline, String migration, String fingerprint, String flywayVersion) {
        try (Connection c = connect()) {
            c.setAutoCommit(false);
            OrchestrationTables.createGenerationTables(c);
            // One pipeline start at a time decides the numbering (PostgreSQL advisory locks, held to commit).
            try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
                lock.setString(1, TABLE + "/" + pipeline);
                lock.execute();
            }
            long newest = 0;
            String newestName = null;
            try (PreparedStatement ps = c.prepareStatement("SELECT generation, migration FROM " + TABLE
                    + " WHERE pipeline = ? ORDER BY generation DESC LIMIT 1")) {
                ps.setString(1, pipeline);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        newest = rs.getLong(1);
                        newestName = rs.getString(2);
                    }
                }
            }
            try (PreparedStatement ps = c.prepareStatement("SELECT generation, fingerprint, backfill_completed_at FROM " + TABLE
                    + " WHERE pipeline = ? AND migration = ?")) {
                ps.setString(1, pipeline);
                ps.setString(2, migration);
                try (ResultSet rs = ps.executeQuery()) {
                    if (rs.next()) {
                        long number = rs.getLong(1);
                        if (!rs.getString(2).equals(fingerprint)) {
                            throw new IllegalStateException("Migration '" + migration + "' ran in pipeline '" + pipeline + "' as generation "
                                    + number + " with another spec (" + TABLE + " in the target database holds its fingerprint): a changed"
                                    + " mapping would reach only rows changed from now on. Give the changed spec a new 'migration:' name"
                                    + " (e.g. " + migration + "_2) so that it runs as generation " + (newest + 1) + " and backfills every row,"
                                    + " or restore the spec as it was");
                        }
                        if (number < newest) {
                            throw new IllegalStateException("Migration '" + migration + "' is generation " + number + " of pipeline '"
                                    + pipeline + "', but generation " + newest + " ('" + newestName + "') has run since; its rows would"
                                    + " lose against the newer ones. To go back, copy the spec under a new 'migration:' name, which runs"
                                    + " as generation " + (newest + 1) + " and re-writes every row");
                        }
                        Timestamp done = rs.getTimestamp(3);
                        c.commit();
                        return new Generation(pipeline, migration, number, false, done == null ? null : done.toInstant());
                    }
                }
            }
            long number = newest + 1;
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TABLE
                    + " (pipeline, migration, generation, fingerprint, flyway_version) VALUES (?, ?, ?, ?, ?)")) {
                ps.setString(1, pipeline);
                ps.setString(2, migration);
                ps.setLong(3, number);
                ps.setString(4, fingerprint);
                ps.setString(5, flywayVersion);
                ps.executeUpdate();
            }
            c.commit();
            return new Generation(pipeline, migration, number, true, null);
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read or record the migration generation in " + TABLE + " on " + url
                    + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip()
                    + "; the target user needs CREATE on the database and USAGE on schema understudy", e);
        }
    }

    /** The number of the newest generation of {@code pipeline}, or 0 when none ran. */
    public long newest(String pipeline) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement ps = c.prepareStatement("SELECT coalesce(max(generation), 0) FROM " + TABLE + " WHERE pipeline = ?")) {
                ps.setString(1, pipeline);
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    return rs.getLong(1);
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read the newest migration generation of pipeline '" + pipeline + "' from " + TABLE
                    + " on " + url + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip(), e);
        }
    }

    /** Records that the backfill of {@code generation} is complete. */
    public void backfillCompleted(Generation generation) {
        try (Connection c = connect(); PreparedStatement ps = c.prepareStatement("UPDATE " + TABLE
                + " SET backfill_completed_at = now() WHERE pipeline = ? AND generation = ? AND backfill_completed_at IS NULL")) {
            ps.setString(1, generation.pipeline());
            ps.setLong(2, generation.number());
            ps.executeUpdate();
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot record the completed backfill of generation " + generation.number() + " in "
                    + TABLE + " on " + url + ": " + e.getMessage().strip(), e);
        }
    }

    /**
     * The lineage of each target in {@code generation} ({@code ChangeHeaders.LINEAGE}), decided when
     * the generation first starts and kept for every later start of it. A target keeps the lineage it
     * had in the previous generation that had it when its key derivation is the same and the backfill
     * re-reads its legacy tables from Kafka; otherwise the generation starts a new lineage, numbered
     * by itself. A target of the first generation starts lineage 0, as does every row written before
     * lineages were recorded; a target no earlier generation recorded, in a pipeline with earlier
     * generations, starts a new one (its earlier rows, if any, predate the records).
     *
     * @param derivations      per target table, {@code TableMapping.keyDerivation()}
     * @param reReadBySnapshot targets whose backfill reads a legacy table by a snapshot (versioned 0,
     *                         not comparable with the versions the previous generation applied)
     */
    public Map<String, Long> lineages(Generation generation, Map<String, String> derivations, Set<String> reReadBySnapshot) {
        try (Connection c = connect()) {
            c.setAutoCommit(false);
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement lock = c.prepareStatement("SELECT pg_advisory_xact_lock(hashtext(?))")) {
                lock.setString(1, TARGET_TABLE + "/" + generation.pipeline());
                lock.execute();
            }
            boolean earlierGenerations;
            try (PreparedStatement ps = c.prepareStatement("SELECT EXISTS (SELECT 1 FROM " + TABLE + " WHERE pipeline = ? AND generation < ?)")) {
                ps.setString(1, generation.pipeline());
                ps.setLong(2, generation.number());
                try (ResultSet rs = ps.executeQuery()) {
                    rs.next();
                    earlierGenerations = rs.getBoolean(1);
                }
            }
            Map<String, Long> out = new LinkedHashMap<>();
            for (Map.Entry<String, String> e : derivations.entrySet()) {
                String target = e.getKey();
                Long recorded = null;
                Long previousLineage = null;
                String previousDerivation = null;
                try (PreparedStatement ps = c.prepareStatement("SELECT generation, key_derivation, lineage FROM " + TARGET_TABLE
                        + " WHERE pipeline = ? AND target_table = ? AND generation <= ? ORDER BY generation DESC LIMIT 1")) {
                    ps.setString(1, generation.pipeline());
                    ps.setString(2, target);
                    ps.setLong(3, generation.number());
                    try (ResultSet rs = ps.executeQuery()) {
                        if (rs.next()) {
                            if (rs.getLong(1) == generation.number()) {
                                recorded = rs.getLong(3);
                            } else {
                                previousDerivation = rs.getString(2);
                                previousLineage = rs.getLong(3);
                            }
                        }
                    }
                }
                if (recorded != null) {
                    out.put(target, recorded);
                    continue;
                }
                long lineage;
                if (previousLineage != null) {
                    lineage = previousDerivation.equals(e.getValue()) && !reReadBySnapshot.contains(target)
                            ? previousLineage : generation.number();
                } else {
                    lineage = earlierGenerations ? generation.number() : 0L;
                }
                try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + TARGET_TABLE
                        + " (pipeline, generation, target_table, key_derivation, lineage) VALUES (?, ?, ?, ?, ?)")) {
                    ps.setString(1, generation.pipeline());
                    ps.setLong(2, generation.number());
                    ps.setString(3, target);
                    ps.setString(4, e.getValue());
                    ps.setLong(5, lineage);
                    ps.executeUpdate();
                }
                out.put(target, lineage);
            }
            c.commit();
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read or record the targets' lineages of generation " + generation.number()
                    + " in " + TARGET_TABLE + " on " + url + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip(), e);
        }
    }

    /** The lineage recorded for {@code target} in {@code generation} of {@code pipeline}, 0 when none was. */
    public long lineage(String pipeline, long generation, String target) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement ps = c.prepareStatement("SELECT lineage FROM " + TARGET_TABLE
                    + " WHERE pipeline = ? AND generation = ? AND target_table = ?")) {
                ps.setString(1, pipeline);
                ps.setLong(2, generation);
                ps.setString(3, target);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? rs.getLong(1) : 0L;
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read the lineage of " + target + " from " + TARGET_TABLE + " on " + url
                    + " (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip(), e);
        }
    }

    /**
     * The legacy tables whose whole history the legacy topics hold: read whole by the capture (an
     * initial or incremental snapshot), or loaded by a bulk initial load, which writes each row's
     * image to the legacy topic before the stream.
     */
    public Set<String> coveredTables(String pipeline) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            Set<String> out = new LinkedHashSet<>();
            try (PreparedStatement ps = c.prepareStatement("SELECT table_name FROM " + COVERED_TABLE + " WHERE pipeline = ? ORDER BY table_name")) {
                ps.setString(1, pipeline);
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(rs.getString(1));
                    }
                }
            }
            return out;
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read " + COVERED_TABLE + " on " + url + ": " + e.getMessage().strip(), e);
        }
    }

    /** Records that the capture of {@code pipeline} has read {@code tables} whole, by {@code how}. */
    public void covered(String pipeline, List<String> tables, String how) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + COVERED_TABLE + " (pipeline, table_name, covered_by) "
                    + "VALUES (?, ?, ?) ON CONFLICT (pipeline, table_name) DO NOTHING")) {
                for (String t : tables) {
                    ps.setString(1, pipeline);
                    ps.setString(2, t);
                    ps.setString(3, how);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot record covered tables in " + COVERED_TABLE + " on " + url + ": " + e.getMessage().strip(), e);
        }
    }

    /** A pipeline's initial load outside the stream, as recorded. */
    public record InitialLoad(long generation, boolean loaded, String consistentPoint, long rows) {
    }

    /** The initial load of {@code pipeline}, or null when it never had one. */
    public InitialLoad initialLoad(String pipeline) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement ps = c.prepareStatement("SELECT generation, state, consistent_point, coalesce(rows_loaded, 0) FROM "
                    + OrchestrationTables.INITIAL_LOAD + " WHERE pipeline = ?")) {
                ps.setString(1, pipeline);
                try (ResultSet rs = ps.executeQuery()) {
                    return rs.next() ? new InitialLoad(rs.getLong(1), "LOADED".equals(rs.getString(2)), rs.getString(3), rs.getLong(4)) : null;
                }
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read " + OrchestrationTables.INITIAL_LOAD + " on " + url + ": " + e.getMessage().strip(), e);
        }
    }

    /** Records that the initial load of {@code pipeline} by {@code generation} begins (or begins again). */
    public void initialLoadStarted(String pipeline, long generation) {
        initialLoadState(pipeline, generation, "LOADING", null, null);
    }

    /** Records that the initial load of {@code pipeline} is complete: every row in the target, its state in Kafka. */
    public void initialLoadFinished(String pipeline, long generation, String consistentPoint, long rows) {
        initialLoadState(pipeline, generation, "LOADED", consistentPoint, rows);
    }

    /** A chunk of an initial load, as planned and recorded ({@value OrchestrationTables#INITIAL_LOAD_CHUNK}). */
    public record InitialLoadChunk(String table, int chunk, String predicate, long relfilenode, long snapshotXmin, boolean loaded,
                                   long rows) {
    }

    /** Records the planned chunks of one legacy table of the initial load of {@code pipeline}, none loaded. */
    public void initialLoadPlanned(String pipeline, String table, long relfilenode, long snapshotXmin, List<String> predicates) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + OrchestrationTables.INITIAL_LOAD_CHUNK
                    + " (pipeline, table_name, chunk, predicate, relfilenode, snapshot_xmin) VALUES (?, ?, ?, ?, ?, ?)")) {
                for (int i = 0; i < predicates.size(); i++) {
                    ps.setString(1, pipeline);
                    ps.setString(2, table);
                    ps.setInt(3, i);
                    ps.setString(4, predicates.get(i));
                    ps.setLong(5, relfilenode);
                    ps.setLong(6, snapshotXmin);
                    ps.addBatch();
                }
                ps.executeBatch();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot record the chunks of " + table + " in " + OrchestrationTables.INITIAL_LOAD_CHUNK + " on "
                    + url + ": " + e.getMessage().strip(), e);
        }
    }

    /** Records that chunk {@code chunk} of {@code table} is loaded: its rows committed in the target, its records in Kafka. */
    public void initialLoadChunkLoaded(String pipeline, String table, int chunk, long rows) {
        try (Connection c = connect();
             PreparedStatement ps = c.prepareStatement("UPDATE " + OrchestrationTables.INITIAL_LOAD_CHUNK
                     + " SET loaded = true, rows_loaded = ? WHERE pipeline = ? AND table_name = ? AND chunk = ?")) {
            ps.setLong(1, rows);
            ps.setString(2, pipeline);
            ps.setString(3, table);
            ps.setInt(4, chunk);
            if (ps.executeUpdate() != 1) {
                throw new IllegalStateException("Chunk " + chunk + " of " + table + " of pipeline " + pipeline + " was never planned in "
                        + OrchestrationTables.INITIAL_LOAD_CHUNK);
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot record chunk " + chunk + " of " + table + " as loaded in "
                    + OrchestrationTables.INITIAL_LOAD_CHUNK + " on " + url + ": " + e.getMessage().strip(), e);
        }
    }

    /** The chunks of the initial load of {@code pipeline}, by table and chunk. */
    public List<InitialLoadChunk> initialLoadChunks(String pipeline) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement ps = c.prepareStatement("SELECT table_name, chunk, predicate, relfilenode, snapshot_xmin, loaded,"
                    + " coalesce(rows_loaded, 0) FROM " + OrchestrationTables.INITIAL_LOAD_CHUNK + " WHERE pipeline = ? ORDER BY table_name, chunk")) {
                ps.setString(1, pipeline);
                List<InitialLoadChunk> out = new ArrayList<>();
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        out.add(new InitialLoadChunk(rs.getString(1), rs.getInt(2), rs.getString(3), rs.getLong(4), rs.getLong(5),
                                rs.getBoolean(6), rs.getLong(7)));
                    }
                }
                return out;
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read " + OrchestrationTables.INITIAL_LOAD_CHUNK + " on " + url + ": " + e.getMessage().strip(), e);
        }
    }

    /** Forgets the chunks of the initial load of {@code pipeline} (a load starting over). */
    public void forgetInitialLoadChunks(String pipeline) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement ps = c.prepareStatement("DELETE FROM " + OrchestrationTables.INITIAL_LOAD_CHUNK + " WHERE pipeline = ?")) {
                ps.setString(1, pipeline);
                ps.executeUpdate();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot clear " + OrchestrationTables.INITIAL_LOAD_CHUNK + " on " + url + ": " + e.getMessage().strip(), e);
        }
    }

    private void initialLoadState(String pipeline, long generation, String state, String point, Long rows) {
        try (Connection c = connect()) {
            OrchestrationTables.createGenerationTables(c);
            try (PreparedStatement ps = c.prepareStatement("INSERT INTO " + OrchestrationTables.INITIAL_LOAD
                    + " (pipeline, generation, state, consistent_point, rows_loaded, finished_at) VALUES (?, ?, ?, ?, ?, "
                    + "CASE WHEN ? = 'LOADED' THEN now() END) ON CONFLICT (pipeline) DO UPDATE SET generation = EXCLUDED.generation, "
                    + "state = EXCLUDED.state, consistent_point = EXCLUDED.consistent_point, rows_loaded = EXCLUDED.rows_loaded, "
                    + "started_at = CASE WHEN EXCLUDED.state = 'LOADING' THEN now() ELSE " + OrchestrationTables.INITIAL_LOAD
                    + ".started_at END, finished_at = EXCLUDED.finished_at")) {
                ps.setString(1, pipeline);
                ps.setLong(2, generation);
                ps.setString(3, state);
                ps.setString(4, point);
                if (rows == null) {
                    ps.setNull(5, java.sql.Types.BIGINT);
                } else {
                    ps.setLong(5, rows);
                }
                ps.setString(6, state);
                ps.executeUpdate();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot record the initial load of pipeline " + pipeline + " in " + OrchestrationTables.INITIAL_LOAD
                    + " on " + url + ": " + e.getMessage().strip(), e);
        }
    }

    private Connection connect() throws SQLException {
        return DriverManager.getConnection(url, user, password);
    }
}

package dev.understudy.load;

import dev.understudy.capture.ExportedSnapshot;
import dev.understudy.capture.TableChunks;
import dev.understudy.transform.spec.SpecSql;
import dev.understudy.transform.spec.SpecTableMapping;
import org.postgresql.PGConnection;
import org.postgresql.copy.CopyIn;
import org.postgresql.copy.CopyOut;
import org.postgresql.util.PSQLException;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicLong;
import java.util.function.LongConsumer;

/**
 * Fills one target table from the legacy database at an exported snapshot, by {@code COPY} on both
 * ends, through the spec: the legacy database computes the target's rows with the spec's own SQL
 * projection ({@link SpecSql#legacy}, the one verify compares against: renames, constants, casts and
 * the foreign-key join, each value cast to the target column's type), chunk by chunk of the driving
 * table's pages ({@link TableChunks}), on several connections at once, and each chunk's rows stream
 * straight into {@code COPY ... FROM STDIN} of the target table, one target transaction per chunk.
 * <p>
 * The join is computed by the legacy database inside the snapshot, so both tables are read at the
 * same point: the point the slot's change stream continues from. The rows travel in COPY's text
 * format: the target may run another PostgreSQL version than the legacy database, and the binary
 * format is not portable across versions (PostgreSQL docs, "COPY", binary format); every value is
 * cast to the target column's type before it is rendered, so the target parses back the same value.
 * <p>
 * A spec SQL cannot compute the way the migration does (CEL expressions and filters, casts with an
 * {@code onFailure} policy) is refused with {@link SpecSql.NotTranslatable}, naming the column.
 * The target table must hold none of the rows: a key that exists fails that chunk's COPY, and the
 * error names the table and the chunk.
 */
public final class BulkCopy {
    /** What a copy did: the columns written, rows, chunks, wall time. */
    public record Result(String table, List<String> columns, long rows, int chunks, long millis) {
        public double rowsPerSecond() {
            return millis == 0 ? rows : rows * 1000.0 / millis;
        }
    }

    private final ExportedSnapshot snapshot;
    private final String targetUrl;
    private final String targetUser;
    private final String targetPassword;
    private final int workers;
    private final long rowsPerChunk;

    /**
     * @param workers      connections to each database copying chunks at once
     * @param rowsPerChunk rows per chunk, about (planned from the driving table's statistics)
     */
    public BulkCopy(ExportedSnapshot snapshot, String targetUrl, String targetUser, String targetPassword, int workers, long rowsPerChunk) {
        if (workers < 1 || rowsPerChunk < 1) {
            throw new IllegalArgumentException("workers and rowsPerChunk must be positive, were " + workers + " and " + rowsPerChunk);
        }
        this.snapshot = snapshot;
        this.targetUrl = targetUrl;
        this.targetUser = targetUser;
        this.targetPassword = targetPassword;
        this.workers = workers;
        this.rowsPerChunk = rowsPerChunk;
    }

    /**
     * Copies the rows of {@code mapping}'s target; {@code rowsCopied} hears the running total after
     * each chunk.
     *
     * @throws SpecSql.NotTranslatable when the spec's target cannot be computed by SQL
     */
    public Result copy(SpecTableMapping mapping, LongConsumer rowsCopied) throws SQLException, InterruptedException {
        return copy(mapping, mapping.targetTable(), rowsCopied);
    }

    /**
     * Copies the rows of {@code mapping}'s target into {@code table} ({@code schema.table}), a table
     * with the target's columns: the target itself, or a copy of its definition to compare with.
     */
    public Result copy(SpecTableMapping mapping, String table, LongConsumer rowsCopied) throws SQLException, InterruptedException {
        long start = System.nanoTime();
        SpecSql.Projection projection;
        try (Connection target = DriverManager.getConnection(targetUrl, targetUser, targetPassword)) {
            Map<String, String> types = SpecSql.targetTypes(target, table);
            projection = SpecSql.legacy(mapping, types);
        }
        List<TableChunks.Chunk> chunks;
        try (Connection legacy = snapshot.open()) {
            chunks = TableChunks.plan(legacy, mapping.sourceTable(), rowsPerChunk);
            legacy.commit();
        }
        String columns = String.join(", ", projection.fields().stream().map(SpecSql::quote).toList());
        String copyIn = "COPY " + SpecSql.qualified(table) + " (" + columns + ") FROM STDIN";
        AtomicLong total = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(Math.min(workers, chunks.size()), r -> {
            Thread t = new Thread(r, "understudy-bulk-copy-" + table);
            t.setDaemon(true);
            return t;
        });
        try {
            List<Future<Long>> done = new ArrayList<>();
            for (TableChunks.Chunk chunk : chunks) {
                String copyOut = "COPY (SELECT " + String.join(", ", projection.values()) + " FROM " + projection.from() + " WHERE "
                        + chunk.predicate("s") + ") TO STDOUT";
                done.add(pool.submit(() -> {
                    long rows = copyChunk(table, chunk, chunks.size(), copyOut, copyIn);
                    rowsCopied.accept(total.addAndGet(rows));
                    return rows;
                }));
            }
            for (Future<Long> f : done) {
                try {
                    f.get();
                } catch (ExecutionException e) {
                    for (Future<Long> other : done) {
                        other.cancel(true);
                    }
                    if (e.getCause() instanceof SQLException sql) {
                        throw sql;
                    }
                    throw new IllegalStateException("Bulk copy of " + table + " failed: " + e.getCause(), e.getCause());
                }
            }
        } finally {
            pool.shutdownNow();
        }
        return new Result(table, projection.fields(), total.get(), chunks.size(), (System.nanoTime() - start) / 1_000_000);
    }

    /** One chunk: its rows out of the legacy database at the snapshot and into the target, committed together. */
    private long copyChunk(String table, TableChunks.Chunk chunk, int of, String copyOut, String copyIn) throws SQLException {
        try (Connection legacy = snapshot.open(); Connection target = DriverManager.getConnection(targetUrl, targetUser, targetPassword)) {
            target.setAutoCommit(false);
            CopyOut out = legacy.unwrap(PGConnection.class).getCopyAPI().copyOut(copyOut);
            CopyIn in = target.unwrap(PGConnection.class).getCopyAPI().copyIn(copyIn);
            long rows;
            try {
                byte[] buffer;
                while ((buffer = out.readFromCopy()) != null) {
                    in.writeToCopy(buffer, 0, buffer.length);
                }
                rows = in.endCopy();
            } catch (PSQLException e) {
                if (in.isActive()) {
                    in.cancelCopy();
                }
                throw new SQLException("Bulk copy of " + table + ", chunk " + (chunk.index() + 1) + " of " + of + " (" + chunk.predicate()
                        + " of the driving table), failed: " + e.getMessage() + ("23505".equals(e.getSQLState())
                        ? ". A bulk load writes into an empty target table; empty " + table + " first, or let the pipeline's"
                        + " streaming snapshot load it instead" : ""), e.getSQLState(), e);
            }
            target.commit();
            legacy.commit();
            return rows;
        }
    }
}

package dev.understudy.capture;

import dev.understudy.schemas.SqlNames;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;

/**
 * A table cut into ranges of its heap pages, for reading in parallel: each {@link Chunk} is a
 * predicate on the tuple id, {@code ctid >= '(first,0)' AND ctid < '(end,0)'}, which PostgreSQL 14 and
 * later answer with a TID Range Scan, reading those pages only (release notes 14, "Allow efficient
 * retrieval of heap rows via tid ranges"). The chunks cover every page the table has when the plan is
 * made, and the last one is open-ended; planned inside a transaction that imported an exported snapshot
 * ({@link ExportedSnapshot#open()}), they cover every row version that snapshot sees, since those were
 * written before it, into pages that already existed.
 * <p>
 * Why pages rather than key ranges: a key range costs an index scan and needs a key whose values
 * split evenly, which composite, text and uuid keys rarely offer; a page range costs a sequential read
 * of its pages, whatever the key. PeerDB partitions its initial load of a table by CTID range for the
 * same reason.
 */
public final class TableChunks {
    private TableChunks() {
    }

    /**
     * One range of heap pages.
     *
     * @param index     0-based position in the plan
     * @param firstPage first page read
     * @param endPage   first page not read, or -1 for the open-ended last chunk
     */
    public record Chunk(int index, long firstPage, long endPage) {
        /** The SQL predicate selecting this chunk's rows. */
        public String predicate() {
            return predicate(null);
        }

        /** The SQL predicate selecting this chunk's rows of the table known as {@code alias} in a query (null: unqualified). */
        public String predicate(String alias) {
            String ctid = alias == null ? "ctid" : alias + ".ctid";
            String from = ctid + " >= '(" + firstPage + ",0)'::tid";
            return endPage < 0 ? from : from + " AND " + ctid + " < '(" + endPage + ",0)'::tid";
        }
    }

    /**
     * The file that holds {@code table}'s rows ({@code pg_relation_filenode}). Chunks are page ranges of
     * that file; a rewrite (VACUUM FULL, CLUSTER, a rewriting ALTER TABLE) gives the table a new file
     * and moves its rows to other pages, so a plan made before it no longer holds.
     */
    public static long relfilenode(Connection c, String table) throws SQLException {
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_relation_filenode(?::regclass)")) {
            ps.setString(1, SqlNames.qualified(table));
            try (ResultSet rs = ps.executeQuery()) {
                rs.next();
                return rs.getLong(1);
            }
        }
    }

    /**
     * Plans chunks of about {@code rowsPerChunk} rows each, from the table's size in pages and its
     * planner statistics (rows per page); without statistics (never analysed), from its size alone at
     * 100 rows per page.
     *
     * @param table {@code schema.table} as Understudy names tables ({@link SqlNames})
     */
    public static List<Chunk> plan(Connection c, String table, long rowsPerChunk) throws SQLException {
        if (rowsPerChunk < 1) {
            throw new IllegalArgumentException("rowsPerChunk must be positive, was " + rowsPerChunk);
        }
        long pages;
        double rowsPerPage;
        try (PreparedStatement ps = c.prepareStatement("SELECT pg_relation_size(r.oid, 'main') / current_setting('block_size')::bigint,"
                + " r.reltuples, r.relpages FROM pg_class r WHERE r.oid = ?::regclass")) {
            ps.setString(1, SqlNames.qualified(table));
            try (ResultSet rs = ps.executeQuery()) {
                if (!rs.next()) {
                    throw new SQLException("Table " + table + " does not exist", "42P01");
                }
                pages = rs.getLong(1);
                double tuples = rs.getDouble(2);
                long statPages = rs.getLong(3);
                rowsPerPage = tuples > 0 && statPages > 0 ? tuples / statPages : 100;
            }
        }
        long pagesPerChunk = Math.max(1, (long) Math.ceil(rowsPerChunk / Math.max(1.0, rowsPerPage)));
        List<Chunk> chunks = new ArrayList<>();
        long first = 0;
        while (first + pagesPerChunk < pages) {
            chunks.add(new Chunk(chunks.size(), first, first + pagesPerChunk));
            first += pagesPerChunk;
        }
        chunks.add(new Chunk(chunks.size(), first, -1));
        return chunks;
    }
}

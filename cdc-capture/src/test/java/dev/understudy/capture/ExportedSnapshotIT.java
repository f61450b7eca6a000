package dev.understudy.capture;

import dev.understudy.stack.EmbeddedPostgresServer;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.postgresql.PGConnection;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A table read in parallel page-range chunks at a slot's exported snapshot, plus every change decoded
 * from that slot afterwards, equals the table at the end, while concurrent writers insert, update,
 * delete and change primary keys throughout: nothing missed, nothing twice. The slot uses
 * test_decoding here (its text output is easy to apply in a test); which rows a slot streams does not
 * depend on its output plugin.
 */
class ExportedSnapshotIT {
    private static final String TABLE = "public.\"Chunked\"";
    private static final int ROWS = 20_000;
    private static final Pattern CHANGE = Pattern.compile("^table public\\.\"Chunked\": (INSERT|UPDATE|DELETE): (.*)$");
    private static final Pattern COLUMN = Pattern.compile("(\\w+)\\[[^\\]]+\\]:('(?:[^']|'')*'|\\S+)");

    @TempDir
    static Path work;
    static EmbeddedPostgresServer pg;

    @BeforeAll
    static void start() {
        pg = EmbeddedPostgresServer.start("exported_snapshot", work, System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo"));
    }

    @AfterAll
    static void stop() {
        if (pg != null) {
            pg.close();
        }
    }

    @Test
    void chunksReadAtTheExportedSnapshotPlusTheSlotsChangesEqualTheTable() throws Exception {
        long seed = Long.getLong("exported.snapshot.seed", System.nanoTime());
        System.out.println("ExportedSnapshotIT seed " + seed + " (replay: -Dexported.snapshot.seed=" + seed + ")");
        try (Connection c = pg.connect(); Statement s = c.createStatement()) {
            s.execute("CREATE TABLE " + TABLE + " (id bigint PRIMARY KEY, v text NOT NULL, n int NOT NULL)");
            s.execute("INSERT INTO " + TABLE + " SELECT g, 'v' || g, 0 FROM generate_series(1, " + ROWS + ") g");
            s.execute("ANALYZE " + TABLE);
        }
        AtomicBoolean stop = new AtomicBoolean();
        AtomicLong transactions = new AtomicLong();
        ExecutorService pool = Executors.newFixedThreadPool(4);
        List<Future<?>> writers = new ArrayList<>();
        for (int w = 0; w < 2; w++) {
            long writerSeed = seed + w;
            writers.add(pool.submit(() -> write(writerSeed, stop, transactions)));
        }
        Map<Long, String> rows = new TreeMap<>();
        int chunkCount;
        long snapshotCount;
        try {
            Thread.sleep(300);
            try (ExportedSnapshot snapshot = ExportedSnapshot.create(pg.jdbcUrl(), pg.user(), pg.password(), "chunks_it", "test_decoding")) {
                List<TableChunks.Chunk> chunks;
                try (Connection c = snapshot.open(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT count(*) FROM " + TABLE)) {
                    rs.next();
                    snapshotCount = rs.getLong(1);
                    chunks = TableChunks.plan(c, "public.Chunked", 1_500);
                    c.commit();
                }
                chunkCount = chunks.size();
                assertTrue(chunkCount > 5, "the plan should cut " + ROWS + " rows into several chunks: " + chunks);
                Map<Long, String> read = new ConcurrentHashMap<>();
                AtomicLong readRows = new AtomicLong();
                List<Future<?>> readers = new ArrayList<>();
                for (TableChunks.Chunk chunk : chunks) {
                    readers.add(pool.submit(() -> {
                        try (Connection c = snapshot.open()) {
                            ByteArrayOutputStream out = new ByteArrayOutputStream();
                            c.unwrap(PGConnection.class).getCopyAPI().copyOut(
                                    "COPY (SELECT id, v, n FROM " + TABLE + " WHERE " + chunk.predicate() + ") TO STDOUT", out);
                            c.commit();
                            for (String line : out.toString(StandardCharsets.UTF_8).split("\n")) {
                                if (line.isEmpty()) {
                                    continue;
                                }
                                String[] f = line.split("\t");
                                readRows.incrementAndGet();
                                String previous = read.put(Long.parseLong(f[0]), f[1] + "|" + f[2]);
                                assertNull(previous, "row " + f[0] + " read twice (chunk " + chunk + ")");
                            }
                        }
                        return null;
                    }));
                }
                for (Future<?> r : readers) {
                    r.get();
                }
                assertEquals(snapshotCount, readRows.get(), "the chunks together hold every row the snapshot sees");
                Map<Long, String> whole = new TreeMap<>();
                try (Connection c = snapshot.open(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id, v, n FROM " + TABLE)) {
                    while (rs.next()) {
                        whole.put(rs.getLong(1), rs.getString(2) + "|" + rs.getInt(3));
                    }
                    c.commit();
                }
                assertEquals(whole, new TreeMap<>(read), "the chunks differ from one read of the whole table at the same snapshot");
                rows.putAll(read);
            }
            Thread.sleep(500);
        } finally {
            stop.set(true);
            for (Future<?> w : writers) {
                w.get();
            }
            pool.shutdown();
        }
        assertTrue(transactions.get() > 50, "too few concurrent transactions to tell: " + transactions.get());

        int changes = 0;
        try (Connection c = pg.connect(); Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SELECT data FROM pg_logical_slot_get_changes('chunks_it', NULL, NULL)")) {
            while (rs.next()) {
                Matcher m = CHANGE.matcher(rs.getString(1));
                if (!m.matches()) {
                    continue; // BEGIN and COMMIT
                }
                changes++;
                apply(rows, m.group(1), m.group(2));
            }
        } finally {
            assertTrue(ExportedSnapshot.dropSlot(pg.jdbcUrl(), pg.user(), pg.password(), "chunks_it"), "slot chunks_it dropped");
        }
        Map<Long, String> expected = new TreeMap<>();
        try (Connection c = pg.connect(); Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT id, v, n FROM " + TABLE)) {
            while (rs.next()) {
                expected.put(rs.getLong(1), rs.getString(2) + "|" + rs.getInt(3));
            }
        }
        System.out.printf("ExportedSnapshotIT: %,d rows in %d chunks at the snapshot, %,d changes streamed after it, %,d concurrent transactions%n",
                snapshotCount, chunkCount, changes, transactions.get());
        assertTrue(changes > 0, "no change was streamed after the snapshot");
        assertEquals(expected.size(), rows.size(), "row count after applying the stream to the chunks (seed " + seed + ")");
        assertEquals(expected, rows, "the chunks plus the stream differ from the table (seed " + seed + ")");
    }

    @Test
    void aSlotThatExistsCannotExportASnapshotAndTheRefusalNamesItAndTheWayOut() throws Exception {
        try (ExportedSnapshot first = ExportedSnapshot.create(pg.jdbcUrl(), pg.user(), pg.password(), "exists_it", "test_decoding")) {
            assertTrue(first.consistentPoint().asLong() > 0);
        }
        try {
            SQLException e = assertThrows(SQLException.class,
                    () -> ExportedSnapshot.create(pg.jdbcUrl(), pg.user(), pg.password(), "exists_it", "test_decoding"));
            assertTrue(e.getMessage().contains("exists_it") && e.getMessage().contains("pg_drop_replication_slot('exists_it')"), e.getMessage());
        } finally {
            assertTrue(ExportedSnapshot.dropSlot(pg.jdbcUrl(), pg.user(), pg.password(), "exists_it"), "slot exists_it dropped");
        }
    }

    /**
     * Applies one test_decoding change line (after "table ...: OP: ") to the rows, strictly: an insert
     * must find its key absent, an update and a delete present. Replaying absolute row images would
     * converge onto rows read at any later point too; the strict rule holds only if the rows are
     * exactly those before the first streamed change (no change seen twice, none missed).
     */
    private static void apply(Map<Long, String> rows, String op, String rest) {
        switch (op) {
            case "INSERT" -> {
                Map<String, String> cols = columns(rest);
                long id = Long.parseLong(cols.get("id"));
                assertNull(rows.put(id, cols.get("v") + "|" + cols.get("n")), "streamed insert of row " + id + " that the chunks hold already");
            }
            case "UPDATE" -> {
                // With the default replica identity, an update that changes the key names the old key first.
                if (rest.startsWith("old-key: ")) {
                    int split = rest.indexOf(" new-tuple: ");
                    long old = Long.parseLong(columns(rest.substring("old-key: ".length(), split)).get("id"));
                    assertTrue(rows.remove(old) != null, "streamed key change of row " + old + " that the chunks do not hold");
                    rest = rest.substring(split + " new-tuple: ".length());
                    Map<String, String> cols = columns(rest);
                    long id = Long.parseLong(cols.get("id"));
                    assertNull(rows.put(id, cols.get("v") + "|" + cols.get("n")), "streamed key change onto row " + id + " held already");
                    return;
                }
                Map<String, String> cols = columns(rest);
                long id = Long.parseLong(cols.get("id"));
                assertTrue(rows.put(id, cols.get("v") + "|" + cols.get("n")) != null, "streamed update of row " + id + " that the chunks do not hold");
            }
            case "DELETE" -> {
                long id = Long.parseLong(columns(rest).get("id"));
                assertTrue(rows.remove(id) != null, "streamed delete of row " + id + " that the chunks do not hold");
            }
            default -> throw new IllegalStateException(op);
        }
    }

    private static Map<String, String> columns(String s) {
        Map<String, String> cols = new TreeMap<>();
        Matcher m = COLUMN.matcher(s);
        while (m.find()) {
            String v = m.group(2);
            cols.put(m.group(1), v.startsWith("'") ? v.substring(1, v.length() - 1).replace("''", "'") : v);
        }
        return cols;
    }

    /** Small transactions of inserts, updates, deletes and primary-key changes until told to stop. */
    private static Void write(long seed, AtomicBoolean stop, AtomicLong transactions) throws SQLException {
        SplittableRandom r = new SplittableRandom(seed);
        try (Connection c = pg.connect(); Statement s = c.createStatement()) {
            c.setAutoCommit(false);
            while (!stop.get()) {
                int statements = 1 + r.nextInt(3);
                try {
                    for (int i = 0; i < statements; i++) {
                        long id = 1 + r.nextInt(ROWS);
                        switch (r.nextInt(4)) {
                            case 0 -> s.execute("UPDATE " + TABLE + " SET v = 'u" + r.nextInt(1_000_000) + "', n = n + 1 WHERE id = " + id);
                            case 1 -> s.execute("DELETE FROM " + TABLE + " WHERE id = " + id);
                            case 2 -> s.execute("INSERT INTO " + TABLE + " VALUES (" + id + ", 'i" + r.nextInt(1_000_000) + "', 0) "
                                    + "ON CONFLICT (id) DO UPDATE SET n = " + TABLE + ".n + 10");
                            default -> s.execute("UPDATE " + TABLE + " SET id = id + " + ROWS + " WHERE id = " + id
                                    + " AND NOT EXISTS (SELECT 1 FROM " + TABLE + " WHERE id = " + (id + ROWS) + ")");
                        }
                    }
                    c.commit();
                    transactions.incrementAndGet();
                } catch (SQLException e) {
                    // The two writers meet on the same rows: a deadlock, or a key taken between check and update.
                    c.rollback();
                }
            }
        }
        return null;
    }
}

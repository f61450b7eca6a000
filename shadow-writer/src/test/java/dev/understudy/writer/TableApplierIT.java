package dev.understudy.writer;

import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.KeySchemas;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.math.BigDecimal;
import java.nio.ByteBuffer;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Instant;
import java.time.LocalDate;
import java.time.temporal.ChronoUnit;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TableApplierIT {
    private static final String TOPIC = "understudy.new.public.users";
    private static final Schema KEY = KeySchemas.of("public", "users",
            List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
    private static final Schema VALUE = Contracts.load("users.avsc");

    private static EmbeddedPostgres pg;
    private static TableApplier users;
    private Connection c;
    private long offset;

    @BeforeAll
    static void startPostgres() throws Exception {
        pg = TestPostgres.start();
        TestPostgres.execute(pg,
                // email NOT NULL, unlike the contract, so that a row without one is a poison row.
                "CREATE TABLE public.users (id bigint PRIMARY KEY, full_name text, email text NOT NULL, birthdate date, created_at timestamptz)",
                "CREATE TABLE public.tags (id bigint PRIMARY KEY, label varchar(5) NOT NULL)",
                "CREATE TABLE public.stock (id bigint PRIMARY KEY, qty smallint, price numeric(6,2))",
                "CREATE SCHEMA \"Weird Schema\"",
                "CREATE TABLE \"Weird Schema\".\"Order Lines\" (\"Order Id\" bigint, line int, \"Qty\" numeric(10,2), note text, "
                        + "PRIMARY KEY (\"Order Id\", line))");
        try (Connection setup = TestPostgres.connect(pg, false)) {
            users = new TableApplier(setup, "public.users");
            setup.commit();
        }
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    @BeforeEach
    void clean() throws Exception {
        TestPostgres.execute(pg, "TRUNCATE public.users, public.tags, \"Weird Schema\".\"Order Lines\"",
                "TRUNCATE " + TableApplier.BOOKKEEPING_TABLE);
        c = TestPostgres.connect(pg, false);
    }

    @AfterEach
    void closeConnection() throws Exception {
        c.close();
    }

    // ---------------------------------------------------------------------------------------------

    private GenericRecord key(long id) {
        GenericRecord k = new GenericData.Record(KEY);
        k.put("id", id);
        return k;
    }

    private RowChange upsert(long id, long version, String name, String email) {
        return upsert(id, version, name, email, null, null);
    }

    private RowChange upsert(long id, long version, String name, String email, LocalDate birthdate, Instant createdAt) {
        GenericRecord v = new GenericData.Record(VALUE);
        v.put("id", id);
        v.put("full_name", name);
        v.put("email", email);
        v.put("birthdate", birthdate == null ? null : (int) birthdate.toEpochDay());
        v.put("created_at", createdAt == null ? null : ChronoUnit.MICROS.between(Instant.EPOCH, createdAt));
        return new RowChange("public.users", key(id), v, version, version, TOPIC, 0, offset++, new byte[]{1}, new byte[]{2});
    }

    private RowChange delete(long id, long version) {
        return new RowChange("public.users", key(id), null, version, version, TOPIC, 0, offset++, new byte[]{1}, null);
    }

    private ApplyResult apply(TableApplier applier, List<RowChange> batch) throws SQLException {
        ApplyResult r = applier.apply(c, batch);
        c.commit();
        return r;
    }

    private ApplyResult apply(RowChange... batch) throws SQLException {
        return apply(users, List.of(batch));
    }

    /** id -> [full_name, email], in id order. */
    private Map<Long, List<String>> rows() throws SQLException {
        Map<Long, List<String>> rows = new LinkedHashMap<>();
        try (Connection r = TestPostgres.connect(pg, true); Statement s = r.createStatement();
             ResultSet rs = s.executeQuery("SELECT id, full_name, email FROM public.users ORDER BY id")) {
            while (rs.next()) {
                List<String> row = new ArrayList<>();
                row.add(rs.getString(2));
                row.add(rs.getString(3));
                rows.put(rs.getLong(1), row);
            }
        }
        return rows;
    }

    private static List<String> row(String name, String email) {
        List<String> row = new ArrayList<>();
        row.add(name);
        row.add(email);
        return row;
    }

    /** id:xmin of every row: a row rewritten by an update gets a new xmin. */
    private String rowVersions() throws SQLException {
        try (Connection r = TestPostgres.connect(pg, true); Statement s = r.createStatement();
             ResultSet rs = s.executeQuery("SELECT string_agg(id || ':' || xmin::text, ',' ORDER BY id) FROM public.users")) {
            rs.next();
            return rs.getString(1);
        }
    }

    // ---------------------------------------------------------------------------------------------

    /** A change of the given spec generation, in lineage 0 (the key derived as in generation 1). */
    private RowChange generation(long generation, RowChange change) {
        return generation(generation, 0L, change);
    }

    /** A change of the given spec generation and lineage. */
    private RowChange generation(long generation, long lineage, RowChange change) {
        return new RowChange(change.table(), change.key(), change.value(), change.version(), change.joinedVersion(), generation, lineage,
                change.lsn(), change.topic(), change.partition(), change.offset(), change.rawKey(), change.rawValue());
    }

    @Test
    void aNewLineageReplacesRowsWhateverTheirVersionsAndAnOlderOneNoLongerApplies() throws Exception {
        apply(upsert(1, 500, "Ana", "ana@x"), upsert(2, 600, "Bo", "bo@x"), delete(3, 700));
        // Generation 2 derives the keys anew (lineage 2) and re-reads the history: lower versions than
        // generation 1 stored, yet they win.
        ApplyResult regenerated = apply(generation(2, 2, upsert(1, 0, "Ana v2", "ana@x")), generation(2, 2, upsert(3, 10, "Cy v2", "cy@x")));
        assertEquals(2, regenerated.upserted());
        assertEquals(0, regenerated.stale());
        // Within lineage 2, versions order changes again; lineage 0 no longer applies at all.
        ApplyResult mixed = apply(generation(2, 2, upsert(1, 0, "older in generation 2", "x")), upsert(2, 9_000, "Bo late g1", "bo@x"),
                generation(2, 2, upsert(2, 5, "Bo v2", "bo@x")));
        assertEquals(1, mixed.upserted());
        assertEquals(Map.of(1L, row("Ana v2", "ana@x"), 2L, row("Bo v2", "bo@x"), 3L, row("Cy v2", "cy@x")), rows());
        assertEquals(0, apply(upsert(1, 10_000, "g1 again", "x")).applied());
        assertEquals(row("Ana v2", "ana@x"), rows().get(1L));
    }

    @Test
    void withinALineageANewGenerationsReReadNeverTakesARowBackAndReplacesItAtTheSameVersion() throws Exception {
        apply(upsert(1, 500, "Ana", "ana@x"), upsert(2, 600, "Bo", "bo@x"), delete(3, 700), upsert(4, 0, "Di", "di@x"));
        String before = rowVersions();
        // Generation 2 replays the history below what generation 1 applied: nothing moves, not even a rewrite.
        ApplyResult older = apply(generation(2, upsert(1, 0, "Ana as first read", "old@x")), generation(2, upsert(2, 550, "Bo before", "old@x")),
                generation(2, upsert(3, 650, "Cy before its delete", "old@x")));
        assertEquals(0, older.applied());
        assertEquals(3, older.stale());
        assertEquals(before, rowVersions());
        // At the versions generation 1 applied, generation 2's rows (and tombstone) replace generation 1's.
        ApplyResult caughtUp = apply(generation(2, upsert(1, 500, "Ana v2", "ana@x")), generation(2, upsert(2, 600, "Bo v2", "bo@x")),
                generation(2, delete(3, 700)), generation(2, upsert(4, 0, "Di v2", "di@x")));
        assertEquals(3, caughtUp.upserted());
        assertEquals(1, caughtUp.deleted());
        assertEquals(Map.of(1L, row("Ana v2", "ana@x"), 2L, row("Bo v2", "bo@x"), 4L, row("Di v2", "di@x")), rows());
        // Generation 1's replay of the same version now loses; a later change of either generation applies.
        assertEquals(0, apply(upsert(1, 500, "Ana", "ana@x")).applied());
        assertEquals(1, apply(generation(2, upsert(1, 800, "Ana v2 later", "ana@x"))).upserted());
        assertEquals(row("Ana v2 later", "ana@x"), rows().get(1L));
    }

    @Test
    void upsertsAndDeletesLand() throws Exception {
        ApplyResult first = apply(upsert(1, 0, "Ana", "ana@x"), upsert(2, 0, "Bo", "bo@x"), upsert(3, 0, "Cy", "cy@x"));
        assertEquals(3, first.upserted());
        assertEquals(0, first.stale());

        ApplyResult second = apply(upsert(2, 10, "Bob", "bob@x"), delete(3, 11), upsert(4, 12, "Di", "di@x"));
        assertEquals(2, second.upserted());
        assertEquals(1, second.deleted());
        assertEquals(Map.of(1L, row("Ana", "ana@x"), 2L, row("Bob", "bob@x"), 4L, row("Di", "di@x")), rows());
        assertTrue(second.deadLetters().isEmpty());
    }

    @Test
    void replayingTheSameBatchChangesNothing() throws Exception {
        List<RowChange> batch = List.of(upsert(1, 5, "Ana", "ana@x"), upsert(2, 6, "Bo", "bo@x"), delete(3, 7));
        apply(users, batch);
        Map<Long, List<String>> before = rows();
        String versions = rowVersions();

        ApplyResult replay = apply(users, batch);
        assertEquals(0, replay.applied());
        assertEquals(3, replay.stale());
        assertEquals(before, rows());
        assertEquals(versions, rowVersions(), "a replay must not even rewrite the rows");
    }

    @Test
    void anOlderVersionDoesNotOverwriteANewerRow() throws Exception {
        apply(upsert(1, 20, "new", "new@x"));
        ApplyResult older = apply(upsert(1, 10, "old", "old@x"));
        assertEquals(1, older.stale());
        assertEquals(Map.of(1L, row("new", "new@x")), rows());
    }

    @Test
    void anOlderDeleteDoesNotDeleteANewerRow() throws Exception {
        apply(upsert(1, 20, "kept", "kept@x"));
        ApplyResult older = apply(delete(1, 10));
        assertEquals(0, older.deleted());
        assertEquals(1, older.stale());
        assertEquals(Map.of(1L, row("kept", "kept@x")), rows());
    }

    @Test
    void aReplayedOlderInsertAfterADeleteDoesNotResurrectTheRow() throws Exception {
        apply(upsert(1, 5, "Ana", "ana@x"));
        apply(delete(1, 30));
        assertTrue(rows().isEmpty());

        ApplyResult replay = apply(upsert(1, 5, "Ana", "ana@x"), upsert(1, 0, "Ana (snapshot)", "ana@x"));
        assertEquals(1, replay.stale());
        assertEquals(1, replay.superseded());
        assertTrue(rows().isEmpty());

        // A genuinely newer insert does bring the key back.
        apply(upsert(1, 31, "Ana again", "ana@x"));
        assertEquals(Map.of(1L, row("Ana again", "ana@x")), rows());
    }

    @Test
    void aNotNullViolationDeadLettersExactlyThatChangeAndAppliesTheOthers() throws Exception {
        RowChange poison = upsert(3, 40, "No Mail", null);
        ApplyResult r = apply(upsert(1, 40, "Ana", "ana@x"), upsert(2, 40, "Bo", "bo@x"), poison,
                upsert(4, 40, "Di", "di@x"), delete(5, 40));
        assertEquals(3, r.upserted());
        assertEquals(1, r.deleted());
        assertEquals(1, r.deadLetters().size());
        DeadLetter dl = r.deadLetters().get(0);
        assertEquals("23502", dl.sqlState());
        assertEquals("{\"id\":3}", dl.keyJson());
        assertEquals(TOPIC, dl.topic());
        assertEquals(poison.offset(), dl.offset());
        assertEquals(40L, dl.version());
        assertTrue(dl.error().contains("public.users") && dl.error().contains("email"), dl.error());
        assertEquals(Map.of(1L, row("Ana", "ana@x"), 2L, row("Bo", "bo@x"), 4L, row("Di", "di@x")), rows());

        // The dead-lettered change left no version behind, so the fixed record applies when replayed.
        assertEquals(1, apply(upsert(3, 40, "No Mail", "fixed@x")).upserted());
        assertEquals(row("No Mail", "fixed@x"), rows().get(3L));
    }

    @Test
    void timestampsAndDatesRoundTripExactlyWithTheServerInSaoPaulo() throws Exception {
        // The server runs in Sao Paulo, but pgjdbc starts every connection in the JVM's zone (it sends
        // TimeZone in the startup packet), so put this connection in the server's zone explicitly.
        try (Statement s = c.createStatement()) {
            s.execute("SET TimeZone = '" + TestPostgres.TIMEZONE + "'");
            c.commit();
            try (ResultSet rs = s.executeQuery("SELECT current_setting('TimeZone')")) {
                rs.next();
                assertEquals(TestPostgres.TIMEZONE, rs.getString(1));
            }
        }
        c.rollback();
        List<Instant> instants = List.of(
                Instant.EPOCH,
                Instant.parse("1969-12-31T23:59:59.999999Z"),
                Instant.parse("2023-11-14T22:13:20.123456Z"),
                // Brazil's last DST start: local midnight 2018-11-04 did not exist in Sao Paulo.
                Instant.parse("2018-11-04T02:59:59.999999Z"),
                Instant.parse("2018-11-04T03:00:00.000001Z"),
                // DST end: local 23:30 on 2019-02-16 happened twice; both instants must survive.
                Instant.parse("2019-02-17T01:30:00.500001Z"),
                Instant.parse("2019-02-17T02:30:00.500001Z"),
                // Before 1914 Sao Paulo ran on local mean time, -03:06:28.
                Instant.parse("1900-01-01T00:00:00.000007Z"),
                Instant.parse("2200-06-30T12:00:00.999999Z"));
        List<LocalDate> dates = List.of(LocalDate.of(1900, 1, 1), LocalDate.of(1969, 12, 31), LocalDate.of(2000, 2, 29),
                LocalDate.of(2018, 11, 4), LocalDate.of(2019, 2, 16), LocalDate.of(1970, 1, 1), LocalDate.of(2024, 12, 31),
                LocalDate.of(1, 1, 1), LocalDate.of(9999, 12, 31));
        List<RowChange> batch = new ArrayList<>();
        for (int i = 0; i < instants.size(); i++) {
            batch.add(upsert(i + 1, 1, "t" + i, "t@x", dates.get(i), instants.get(i)));
        }
        batch.add(upsert(100, 1, "nulls", "n@x", null, null));
        assertEquals(instants.size() + 1, apply(users, batch).upserted());

        try (Connection r = TestPostgres.connect(pg, true); Statement s = r.createStatement();
             ResultSet rs = s.executeQuery("SELECT id, (extract(epoch FROM created_at) * 1000000)::bigint, birthdate::text, "
                     + "created_at IS NULL, birthdate IS NULL FROM public.users ORDER BY id")) {
            for (int i = 0; i < instants.size(); i++) {
                assertTrue(rs.next());
                assertEquals(ChronoUnit.MICROS.between(Instant.EPOCH, instants.get(i)), rs.getLong(2), "micros of " + instants.get(i));
                assertEquals(dates.get(i).toString(), rs.getString(3));
            }
            assertTrue(rs.next());
            assertTrue(rs.getBoolean(4));
            assertTrue(rs.getBoolean(5));
        }
    }

    @Test
    void collapseKeepsTheLastChangePerKey() throws Exception {
        ApplyResult r = apply(
                upsert(1, 1, "a", "a@x"), upsert(1, 2, "b", "b@x"), upsert(1, 3, "c", "c@x"),
                upsert(2, 1, "x", "x@x"), delete(2, 2),
                delete(3, 1), upsert(3, 2, "back", "back@x"),
                // An older change late in the batch (a re-read snapshot row) does not hide the newer one.
                upsert(4, 50, "streamed", "s@x"), upsert(4, 0, "snapshot", "snap@x"));
        assertEquals(5, r.superseded());
        assertEquals(3, r.upserted());
        assertEquals(1, r.deleted());
        assertEquals(Map.of(1L, row("c", "c@x"), 3L, row("back", "back@x"), 4L, row("streamed", "s@x")), rows());
        try (Connection rc = TestPostgres.connect(pg, true); Statement s = rc.createStatement();
             ResultSet rs = s.executeQuery("SELECT pk, version, deleted FROM understudy.row_version ORDER BY pk")) {
            assertTrue(rs.next());
            assertEquals("{\"id\":1}", rs.getString(1));
            assertEquals(3, rs.getLong(2));
            assertTrue(rs.next());
            assertEquals("{\"id\":2}", rs.getString(1));
            assertTrue(rs.getBoolean(3), "a delete leaves a tombstone version");
        }
    }

    @Test
    void numbersThatOverflowTheTargetTypeAreDeadLetteredAndTheRestLands() throws Exception {
        TestPostgres.execute(pg, "TRUNCATE public.stock");
        Schema key = KeySchemas.of("public", "stock", List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
        Schema value = SchemaBuilder.record("stock").fields().requiredLong("id").requiredInt("qty").requiredString("price").endRecord();
        TableApplier stock = new TableApplier(c, "public.stock");
        Object[][] rows = {{1L, 7, "12.50"}, {2L, 100_000, "1.00"}, {3L, 8, "123456.78"}, {4L, 9, "9999.99"}};
        List<RowChange> batch = new ArrayList<>();
        for (Object[] r : rows) {
            GenericRecord k = new GenericData.Record(key);
            k.put("id", r[0]);
            GenericRecord v = new GenericData.Record(value);
            v.put("id", r[0]);
            v.put("qty", r[1]);
            v.put("price", r[2]);
            batch.add(new RowChange("public.stock", k, v, 1, 1, "understudy.new.public.stock", 0, (Long) r[0], null, null));
        }
        ApplyResult r = apply(stock, batch);
        assertEquals(2, r.upserted());
        // smallint out of range, and numeric(6,2) overflow: both SQLSTATE 22003 numeric_value_out_of_range.
        assertEquals(List.of("22003", "22003"), r.deadLetters().stream().map(DeadLetter::sqlState).toList());
        assertEquals(List.of("{\"id\":2}", "{\"id\":3}"), r.deadLetters().stream().map(DeadLetter::keyJson).sorted().toList());
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT string_agg(id || ':' || qty || ':' || price, ',' ORDER BY id) FROM public.stock")) {
            rs.next();
            assertEquals("1:7:12.50,4:9:9999.99", rs.getString(1));
        }

        // The fix is on the target: wider columns. The same applier (its statements were built with the
        // old casts) then applies the dead-lettered changes, as a replay would bring them.
        c.commit();
        TestPostgres.execute(pg, "ALTER TABLE public.stock ALTER COLUMN qty TYPE int, ALTER COLUMN price TYPE numeric(12,2)");
        try {
            List<RowChange> replay = batch.stream().filter(ch -> ch.keyJson().equals("{\"id\":2}") || ch.keyJson().equals("{\"id\":3}")).toList();
            ApplyResult again = apply(stock, replay);
            assertEquals(2, again.upserted(), "applied with the widened columns");
            assertEquals(List.of(), again.deadLetters());
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT string_agg(id || ':' || qty || ':' || price, ',' ORDER BY id) FROM public.stock")) {
                rs.next();
                assertEquals("1:7:12.50,2:100000:1.00,3:8:123456.78,4:9:9999.99", rs.getString(1));
            }
        } finally {
            c.commit();
            TestPostgres.execute(pg, "TRUNCATE public.stock", "ALTER TABLE public.stock ALTER COLUMN qty TYPE smallint, ALTER COLUMN price TYPE numeric(6,2)");
        }
    }

    @Test
    void anOverlongVarcharIsDeadLetteredNotTruncated() throws Exception {
        Schema key = KeySchemas.of("public", "tags", List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
        Schema value = SchemaBuilder.record("tags").fields().requiredLong("id").requiredString("label").endRecord();
        TableApplier tags = new TableApplier(c, "public.tags");
        assertEquals("character varying(5)", tags.columnType("label"));
        List<RowChange> batch = new ArrayList<>();
        String[] labels = {"short", "much too long"};
        for (int i = 0; i < labels.length; i++) {
            GenericRecord k = new GenericData.Record(key);
            k.put("id", (long) i);
            GenericRecord v = new GenericData.Record(value);
            v.put("id", (long) i);
            v.put("label", labels[i]);
            batch.add(new RowChange("public.tags", k, v, 1, 1, "understudy.new.public.tags", 0, i, null, null));
        }
        ApplyResult r = apply(tags, batch);
        assertEquals(1, r.upserted());
        assertEquals(1, r.deadLetters().size());
        assertEquals("22001", r.deadLetters().get(0).sqlState());
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT string_agg(label, ',') FROM public.tags")) {
            rs.next();
            assertEquals("short", rs.getString(1));
        }
    }

    @Test
    void quotedNamesCompositeKeysAndDecimalsWork() throws Exception {
        Schema qty = LogicalTypes.decimal(10, 2).addToSchema(Schema.create(Schema.Type.BYTES));
        Schema key = SchemaBuilder.record("Key").fields().requiredLong("Order_Id").requiredInt("line").endRecord();
        Schema value = SchemaBuilder.record("Value").fields().requiredLong("Order_Id").requiredInt("line")
                .name("Qty").type(qty).noDefault().optionalString("note").endRecord();
        TableApplier lines = new TableApplier(c, "Weird Schema.Order Lines");
        assertEquals("Weird Schema.Order Lines", lines.table());
        assertEquals(List.of("Order Id", "line"), lines.primaryKey());

        List<RowChange> batch = new ArrayList<>();
        for (int line = 1; line <= 3; line++) {
            GenericRecord k = new GenericData.Record(key);
            k.put("Order_Id", 7L);
            k.put("line", line);
            GenericRecord v = new GenericData.Record(value);
            v.put("Order_Id", 7L);
            v.put("line", line);
            v.put("Qty", ByteBuffer.wrap(new BigDecimal("1234.5" + line).unscaledValue().toByteArray()));
            v.put("note", "it's \"quoted\"");
            batch.add(new RowChange(lines.table(), k, v, 1, 1, "t", 0, line, null, null));
        }
        GenericRecord k2 = new GenericData.Record(key);
        k2.put("Order_Id", 7L);
        k2.put("line", 2);
        batch.add(new RowChange(lines.table(), k2, null, 2, 2, "t", 0, 4, null, null));
        ApplyResult r = apply(lines, batch);
        assertEquals(2, r.upserted());
        assertEquals(1, r.deleted(), "the delete supersedes the insert of line 2 in the same batch");

        GenericRecord k3 = new GenericData.Record(key);
        k3.put("Order_Id", 7L);
        k3.put("line", 3);
        assertEquals(1, apply(lines, List.of(new RowChange(lines.table(), k3, null, 5, 5, "t", 0, 5, null, null))).deleted());
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(
                "SELECT string_agg(\"Order Id\" || '/' || line || '/' || \"Qty\" || '/' || note, ',') FROM \"Weird Schema\".\"Order Lines\"")) {
            rs.next();
            assertEquals("7/1/1234.51/it's \"quoted\"", rs.getString(1));
        }
    }

    @Test
    void aFieldWithoutAColumnFailsNamingTheFieldAndTheFixThenPicksUpTheMigration() throws Exception {
        Schema extended = SchemaBuilder.record("users").fields().requiredLong("id").optionalString("email")
                .optionalString("nickname").endRecord();
        TableApplier applier = new TableApplier(c, "public.users");
        GenericRecord v = new GenericData.Record(extended);
        v.put("id", 1L);
        v.put("email", "a@x");
        v.put("nickname", "ace");
        RowChange change = new RowChange("public.users", key(1), v, 1, 1, TOPIC, 0, 0, null, null);
        TableMappingException e = assertThrows(TableMappingException.class, () -> applier.apply(c, List.of(change)));
        assertTrue(e.getMessage().contains("'nickname'") && e.getMessage().contains("public.users")
                && e.getMessage().contains("migration"), e.getMessage());
        c.rollback();

        TestPostgres.execute(pg, "ALTER TABLE public.users ADD COLUMN nickname text");
        try {
            assertEquals(1, apply(applier, List.of(change)).upserted());
            try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery("SELECT nickname FROM public.users WHERE id = 1")) {
                rs.next();
                assertEquals("ace", rs.getString(1));
            }
            c.commit();
        } finally {
            TestPostgres.execute(pg, "ALTER TABLE public.users DROP COLUMN nickname");
        }
    }

    @Test
    void aRetriableErrorPropagatesInsteadOfDeadLettering() throws Exception {
        try (Connection locker = TestPostgres.connect(pg, false); Statement s = locker.createStatement()) {
            s.execute("LOCK TABLE public.users IN ACCESS EXCLUSIVE MODE");
            try (Statement w = c.createStatement()) {
                w.execute("SET lock_timeout = '200ms'");
            }
            SQLException e = assertThrows(SQLException.class, () -> users.apply(c, List.of(upsert(1, 1, "Ana", "ana@x"))));
            assertEquals("55P03", e.getSQLState());
            assertEquals(SqlErrorClassifier.Kind.RETRIABLE, SqlErrorClassifier.classify(e));
            c.rollback();
            locker.rollback();
        }
        assertEquals(1, apply(upsert(1, 1, "Ana", "ana@x")).upserted(), "the same change applies on retry");
    }

    @Test
    void anErrorEveryRowWouldHitPropagatesInsteadOfDeadLettering() throws Exception {
        TestPostgres.execute(pg, "DROP ROLE IF EXISTS limited_writer", "CREATE ROLE limited_writer LOGIN",
                "GRANT USAGE ON SCHEMA understudy TO limited_writer",
                "GRANT SELECT, INSERT, UPDATE ON understudy.row_version TO limited_writer");
        try (Connection limited = java.sql.DriverManager.getConnection(TestPostgres.jdbcUrl(pg).replace("user=postgres", "user=limited_writer"))) {
            limited.setAutoCommit(false);
            TableApplier applier = new TableApplier(limited, "public.users");
            SQLException e = assertThrows(SQLException.class,
                    () -> applier.apply(limited, List.of(upsert(1, 1, "Ana", "ana@x"), upsert(2, 1, "Bo", "bo@x"))));
            assertEquals("42501", e.getSQLState());
            assertTrue(SqlErrorClassifier.affectsEveryRow(e));
            limited.rollback();
        }
        assertTrue(rows().isEmpty());
    }

    @Test
    void anEmptyBatchAndAnAutoCommitConnection() throws Exception {
        assertEquals(ApplyResult.EMPTY, users.apply(c, List.of()));
        try (Connection auto = TestPostgres.connect(pg, true)) {
            assertThrows(IllegalStateException.class, () -> users.apply(auto, List.of(upsert(1, 1, "a", "a@x"))));
        }
        assertThrows(TableMappingException.class, () -> new TableApplier(c, "public.no_such_table"));
        c.rollback();
        TestPostgres.execute(pg, "CREATE TABLE IF NOT EXISTS public.no_pk (a int)");
        TableMappingException noPk = assertThrows(TableMappingException.class, () -> new TableApplier(c, "public.no_pk"));
        assertTrue(noPk.getMessage().contains("ADD PRIMARY KEY"), noPk.getMessage());
        assertFalse(noPk.getMessage().isBlank());
        assertNull(users.columnType("nope"));
    }
}

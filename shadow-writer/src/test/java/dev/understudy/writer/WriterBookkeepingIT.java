package dev.understudy.writer;

import dev.understudy.writer.WriterBookkeeping.Control;
import dev.understudy.writer.WriterBookkeeping.StoredVersion;
import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.apache.kafka.clients.consumer.OffsetAndMetadata;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.Set;
import java.util.stream.Collectors;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The writer's tables as other modules reach them ({@link WriterBookkeeping}), and their DDL ({@link BookkeepingTables}). */
class WriterBookkeepingIT {
    private static final String GROUP = "bookkeeping-it";
    private static EmbeddedPostgres pg;

    @BeforeAll
    static void startPostgres() throws Exception {
        pg = TestPostgres.start();
    }

    @AfterAll
    static void stopPostgres() throws Exception {
        if (pg != null) {
            pg.close();
        }
    }

    @BeforeEach
    void noWriterTablesYet() throws Exception {
        TestPostgres.execute(pg, "DROP SCHEMA IF EXISTS " + BookkeepingTables.SCHEMA + " CASCADE");
    }

    @Test
    void positionsAreAbsentBeforeAnyWriterStartedAndTheCallersTransactionGoesOn() throws Exception {
        try (Connection auto = TestPostgres.connect(pg, true)) {
            assertEquals(Optional.empty(), WriterBookkeeping.appliedPositions(auto, GROUP));
            assertEquals(OptionalLong.empty(), WriterBookkeeping.appliedCommitOrder(auto, GROUP));
        }
        try (Connection tx = TestPostgres.connect(pg, false)) {
            assertEquals(Optional.empty(), WriterBookkeeping.appliedPositions(tx, GROUP));
            assertEquals(OptionalLong.empty(), WriterBookkeeping.appliedCommitOrder(tx, GROUP));
            assertEquals(1, queryLong(tx, "SELECT 1"));
            tx.commit();
        }
    }

    @Test
    void positionsAndTheAppliedCommitOrderReadAsTheWriterRecordedThem() throws Exception {
        TopicPartition p0 = new TopicPartition("understudy.new.public.users", 0);
        TopicPartition p1 = new TopicPartition("understudy.new.public.users", 1);
        try (Connection c = TestPostgres.connect(pg, false)) {
            BookkeepingTables.ensurePositions(c);
            c.commit();
            assertEquals(Optional.of(Map.of()), WriterBookkeeping.appliedPositions(c, GROUP));
            assertEquals(OptionalLong.empty(), WriterBookkeeping.appliedCommitOrder(c, GROUP));
            WriterPositions.record(c, GROUP, Map.of(p0, new OffsetAndMetadata(17), p1, new OffsetAndMetadata(4)), Map.of());
            WriterPositions.record(c, "another-group", Map.of(p0, new OffsetAndMetadata(99)), Map.of());
            WriterPositions.recordCommitOrder(c, GROUP, 1234);
            c.commit();
            assertEquals(Optional.of(Map.of(p0, 17L, p1, 4L)), WriterBookkeeping.appliedPositions(c, GROUP));
            assertEquals(OptionalLong.of(1234), WriterBookkeeping.appliedCommitOrder(c, GROUP));
        }
    }

    @Test
    void versionsAreReadAndForgottenByTableAndKey() throws Exception {
        try (Connection c = TestPostgres.connect(pg, true)) {
            BookkeepingTables.ensureRowVersion(c);
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO " + TableApplier.BOOKKEEPING_TABLE + " (table_name, pk, generation, version, joined_version, deleted) VALUES "
                        + "('public.users', '{\"id\":1}', 1, 10, 0, false), "
                        + "('public.users', '{\"id\":2}', 1, 11, 0, true), "
                        + "('public.users', '{\"id\":3}', 2, 12, 0, false), "
                        + "('public.users', '{\"id\":\"a_b\"}', 1, 13, 2, false), "
                        + "('public.users', '{\"id\":\"axb\"}', 1, 14, 0, false), "
                        + "('public.orders', '{\"id\":1}', 1, 15, 0, false)");
            }
            assertEquals(Set.of("{\"id\":1}", "{\"id\":\"a_b\"}", "{\"id\":\"axb\"}"),
                    WriterBookkeeping.olderGenerations(c, "public.users", 2).stream().map(StoredVersion::key).collect(Collectors.toSet()));
            assertEquals(List.of(), WriterBookkeeping.olderGenerations(c, "public.users", 1));

            // "_" and "%" are matched as themselves, not as LIKE wildcards.
            assertEquals(List.of(new StoredVersion("public.users", "{\"id\":\"a_b\"}", 0, 1, 13, 2, false)),
                    WriterBookkeeping.versionsOfKeysContaining(c, "a_b"));
            assertEquals(List.of(), WriterBookkeeping.versionsOfKeysContaining(c, "a%b"));
            assertEquals(List.of("public.orders", "public.users"),
                    WriterBookkeeping.versionsOfKeysContaining(c, "{\"id\":1}").stream().map(StoredVersion::table).toList());

            WriterBookkeeping.forgetVersions(c, "public.users", List.of("{\"id\":1}", "{\"id\":3}"));
            assertEquals(4, queryLong(c, "SELECT count(*) FROM " + TableApplier.BOOKKEEPING_TABLE));
            WriterBookkeeping.forgetVersions(c, "public.users");
            assertEquals(1, queryLong(c, "SELECT count(*) FROM " + TableApplier.BOOKKEEPING_TABLE));

            WriterBookkeeping.dropVersionTable(c);
            assertEquals(0, queryLong(c, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('" + TableApplier.BOOKKEEPING_TABLE + "')"));
        }
    }

    @Test
    void controlsStartUnsetAndChangeOneAspectAtATime() throws Exception {
        try (Connection c = TestPostgres.connect(pg, true)) {
            assertEquals(Control.NONE, WriterBookkeeping.controls(c, GROUP));
            assertEquals(new Control(true, null), WriterBookkeeping.changeControls(c, GROUP, now -> now.withPaused(true)));
            assertEquals(new Control(true, 250.0), WriterBookkeeping.changeControls(c, GROUP, now -> now.withMaxRecordsPerSecond(250.0)));
            assertEquals(new Control(false, 250.0), WriterBookkeeping.changeControls(c, GROUP, now -> now.withPaused(false)));
            assertEquals(new Control(false, 250.0), WriterBookkeeping.controls(c, GROUP));
            assertEquals(Optional.of(new Control(false, 250.0)), WriterControl.read(c, GROUP), "what the writers read");
            assertEquals(Control.NONE, WriterBookkeeping.controls(c, "another-group"));
        }
    }

    /** The statements handed out for measuring are the writer's, and work over another row source. */
    @Test
    void theWritersGuardAndVersionUpsertRunOverStagedRows() throws Exception {
        try (Connection c = TestPostgres.connect(pg, false)) {
            BookkeepingTables.ensureRowVersion(c);
            try (Statement s = c.createStatement()) {
                s.execute("INSERT INTO " + TableApplier.BOOKKEEPING_TABLE + " (table_name, pk, generation, version, joined_version, deleted) "
                        + "VALUES ('public.users', 'k1', 0, 5, 0, false)");
                s.execute("CREATE TEMP TABLE staged (pk text, version bigint)");
                s.execute("INSERT INTO staged VALUES ('k1', 3), ('k2', 7)");
            }
            List<String> locked = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(WriterBookkeeping.guardStatement("ARRAY(SELECT pk FROM staged)"))) {
                ps.setString(1, "public.users");
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        locked.add(rs.getString(1) + "@" + rs.getLong(3));
                    }
                }
            }
            assertEquals(List.of("k1@5"), locked);
            List<String> won = new ArrayList<>();
            try (PreparedStatement ps = c.prepareStatement(WriterBookkeeping.versionUpsertStatement(
                    "(SELECT pk, 0::bigint AS lineage, 0::bigint AS generation, version, 0::bigint AS joined_version, false AS deleted FROM staged) AS u"))) {
                ps.setString(1, "public.users");
                try (ResultSet rs = ps.executeQuery()) {
                    while (rs.next()) {
                        won.add(rs.getString(1));
                    }
                }
            }
            assertEquals(List.of("k2"), won, "k1's stored version 5 is newer than the staged 3");
            c.commit();
            assertTrue(WriterBookkeeping.guardStatement("?").contains("pk = ANY(?)"));
        }
    }

    /** Tables of earlier versions get the later columns, their rows the defaults the columns had then. */
    @Test
    void tablesOfAnEarlierLayoutGetTheLaterColumns() throws Exception {
        TestPostgres.execute(pg, "CREATE SCHEMA " + BookkeepingTables.SCHEMA,
                "CREATE TABLE " + BookkeepingTables.ROW_VERSION + " (table_name text NOT NULL, pk text NOT NULL, version bigint NOT NULL, "
                        + "deleted boolean NOT NULL, PRIMARY KEY (table_name, pk))",
                "INSERT INTO " + BookkeepingTables.ROW_VERSION + " VALUES ('public.users', 'k', 9, false)",
                "CREATE TABLE " + BookkeepingTables.WRITER_POSITION + " (group_id text NOT NULL, topic text NOT NULL, partition int NOT NULL, "
                        + "next_offset bigint NOT NULL, updated_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (group_id, topic, partition))");
        try (Connection c = TestPostgres.connect(pg, false)) {
            BookkeepingTables.ensureRowVersion(c);
            BookkeepingTables.ensurePositions(c);
            BookkeepingTables.ensureControl(c);
            c.commit();
            assertEquals(List.of(new StoredVersion("public.users", "k", 0, 0, 9, 0, false)), WriterBookkeeping.versionsOfKeysContaining(c, "k"));
            assertEquals(1, queryLong(c, "SELECT count(*) FROM pg_attribute WHERE attrelid = to_regclass('"
                    + BookkeepingTables.WRITER_POSITION + "') AND attname = 'commit_order'"));
            assertEquals(1, queryLong(c, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('" + BookkeepingTables.WRITER_TRANSACTION + "')"));
            assertEquals(1, queryLong(c, "SELECT count(*) FROM pg_class WHERE oid = to_regclass('" + BookkeepingTables.WRITER_CONTROL + "')"));
        }
    }

    private static long queryLong(Connection c, String sql) throws SQLException {
        try (Statement s = c.createStatement(); ResultSet rs = s.executeQuery(sql)) {
            rs.next();
            return rs.getLong(1);
        }
    }
}

package dev.understudy.transform;

import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.schemas.Topics;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Map;

import static dev.understudy.transform.Fixtures.CUSTOMER_ENVELOPE;
import static dev.understudy.transform.Fixtures.CUSTOMER_KEY;
import static dev.understudy.transform.Fixtures.CUSTOMER_ROW;
import static dev.understudy.transform.Fixtures.ORDER_ENVELOPE;
import static dev.understudy.transform.Fixtures.ORDER_KEY;
import static dev.understudy.transform.Fixtures.ORDER_ROW;
import static dev.understudy.transform.Fixtures.PREFIX;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * A target fed by a foreign-key join (specs/purchase_orders.yaml): purchase orders joined to their
 * customer, end to end through the migration topology.
 */
class JoinTopologyTest {
    private static final String ORDERS = "public.purchase_orders";
    private static final String CUSTOMERS = "public.customers";
    private static final String VIEW = "public.purchase_order_view";

    @TempDir
    Path dir;

    private TopologyTestDriver driver;
    private InMemoryRegistryClient registry;
    private TestInputTopic<GenericRecord, GenericRecord> orders;
    private TestInputTopic<GenericRecord, GenericRecord> customers;
    private TestOutputTopic<GenericRecord, GenericRecord> view;
    private TestOutputTopic<byte[], byte[]> deadLetters;

    @BeforeEach
    void start() throws IOException {
        for (String name : List.of("purchase_orders.yaml", "purchase_order_view.avsc")) {
            try (InputStream in = getClass().getResourceAsStream("/specs/" + name)) {
                Files.write(dir.resolve(name), in.readAllBytes());
            }
        }
        registry = new InMemoryRegistryClient();
        StreamsBuilder builder = new StreamsBuilder();
        // Generation 3: every row the join emits carries it for the writer.
        MigrationTopology.addTo(builder, PREFIX, Migrations.fromSpec(dir.resolve("purchase_orders.yaml")), registry, 3, Map.of());
        driver = new TopologyTestDriver(builder.build(), Fixtures.driverProperties(dir.resolve("state")));
        orders = driver.createInputTopic(Topics.legacy(PREFIX, ORDERS), AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        customers = driver.createInputTopic(Topics.legacy(PREFIX, CUSTOMERS), AvroSerde.keys(registry).serializer(),
                AvroSerde.values(registry).serializer());
        view = driver.createOutputTopic(Topics.newSchema(PREFIX, VIEW), AvroSerde.keys(registry).deserializer(),
                AvroSerde.values(registry).deserializer());
        deadLetters = driver.createOutputTopic(Topics.deadLetter(PREFIX), new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    @AfterEach
    void tearDown() {
        if (driver != null) {
            driver.close();
        }
    }

    private static GenericRecord key(Schema schema, long id) {
        GenericData.Record k = new GenericData.Record(schema);
        k.put("id", id);
        return k;
    }

    private static GenericRecord order(long id, String orderNumber, Long customerId, long amount) {
        GenericData.Record r = new GenericData.Record(ORDER_ROW);
        r.put("id", id);
        r.put("order_number", orderNumber);
        r.put("customer_id", customerId);
        r.put("amount", amount);
        return r;
    }

    private static GenericRecord customer(long id, String name, String country) {
        GenericData.Record r = new GenericData.Record(CUSTOMER_ROW);
        r.put("id", id);
        r.put("name", name);
        r.put("country", country);
        return r;
    }

    private void order(String op, long lsn, boolean snapshot, GenericRecord row) {
        orders.pipeInput(key(ORDER_KEY, (Long) row.get("id")),
                Fixtures.envelope(ORDER_ENVELOPE, null, row, op, Fixtures.source("legacy", lsn, lsn + 1000, snapshot)));
    }

    /** A delete as PostgreSQL logs it with the default replica identity: the before image holds the key alone. */
    private void deleteOrder(long id, long lsn) {
        GenericData.Record before = new GenericData.Record(ORDER_ROW);
        before.put("id", id);
        orders.pipeInput(key(ORDER_KEY, id), Fixtures.envelope(ORDER_ENVELOPE, before, null, "d", Fixtures.source("legacy", lsn, lsn + 1000, false)));
        orders.pipeInput(key(ORDER_KEY, id), (GenericRecord) null); // Debezium's tombstone after the delete
    }

    private void customer(String op, long lsn, boolean snapshot, GenericRecord row) {
        customers.pipeInput(key(CUSTOMER_KEY, (Long) row.get("id")),
                Fixtures.envelope(CUSTOMER_ENVELOPE, null, row, op, Fixtures.source("legacy", lsn, lsn + 1000, snapshot)));
    }

    private void deleteCustomer(long id, long lsn) {
        GenericData.Record before = new GenericData.Record(CUSTOMER_ROW);
        before.put("id", id);
        customers.pipeInput(key(CUSTOMER_KEY, id),
                Fixtures.envelope(CUSTOMER_ENVELOPE, before, null, "d", Fixtures.source("legacy", lsn, lsn + 1000, false)));
        customers.pipeInput(key(CUSTOMER_KEY, id), (GenericRecord) null);
    }

    /** {@code version/joined version}, the writer's order of a join row. */
    private static String versions(TestRecord<?, ?> r) {
        return version(r) + "/" + joinedVersion(r);
    }

    private static long joinedVersion(TestRecord<?, ?> r) {
        return ChangeHeaders.getLong(r.headers(), ChangeHeaders.JOINED_VERSION, 0);
    }

    private static long version(TestRecord<?, ?> r) {
        return ChangeHeaders.getLong(r.headers(), ChangeHeaders.VERSION, -1);
    }

    private static String header(Headers headers, String name) {
        return new String(headers.lastHeader(name).value(), StandardCharsets.UTF_8);
    }

    private static String orderNumber(TestRecord<GenericRecord, GenericRecord> r) {
        return r.key().get("order_number").toString();
    }

    private static String text(GenericRecord row, String field) {
        Object v = row.get(field);
        return v == null ? null : v.toString();
    }

    /** Every record now on the view topic, by order number: the last one of each. */
    private Map<String, TestRecord<GenericRecord, GenericRecord>> drain() {
        Map<String, TestRecord<GenericRecord, GenericRecord>> out = new HashMap<>();
        for (TestRecord<GenericRecord, GenericRecord> r : view.readRecordsToList()) {
            out.put(orderNumber(r), r);
        }
        return out;
    }

    @Test
    void joinsCopyRenameAndExpressionAndKeysByTheDrivingRow() {
        customer("c", 10, false, customer(1, "Ada", "UK"));
        order("c", 20, false, order(100, "PO-100", 1L, 4200));

        TestRecord<GenericRecord, GenericRecord> r = view.readRecord();
        assertEquals("PO-100", orderNumber(r), "target key from the driving row");
        assertEquals(3L, ChangeHeaders.getLong(r.headers(), ChangeHeaders.GENERATION, -1));
        assertEquals(KeySchemas.of("public", "purchase_order_view",
                List.of(new KeySchemas.KeyField("order_number", Schema.create(Schema.Type.STRING)))), r.key().getSchema());
        assertEquals("Ada", text(r.value(), "customer_name"), "copy of a joined column");
        assertEquals("UK", text(r.value(), "customer_country"), "expression over the joined row");
        assertEquals(4200L, r.value().get("amount_cents"), "rename");
        assertEquals("PO-100 / UK", text(r.value(), "label"), "expression over both rows");
        assertEquals(20L, version(r));
        assertEquals(20L, ChangeHeaders.getLong(r.headers(), ChangeHeaders.LSN, -1));
        assertEquals(1020L, ChangeHeaders.getLong(r.headers(), ChangeHeaders.TX_ID, -1));
        assertEquals("c", header(r.headers(), ChangeHeaders.OP));
        assertTrue(view.isEmpty());
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void customerUpdateFansOutToAllItsOrders() {
        customer("c", 10, false, customer(1, "Ada", "UK"));
        customer("c", 11, false, customer(2, "Grace", "US"));
        order("c", 20, false, order(100, "PO-100", 1L, 1));
        order("c", 21, false, order(101, "PO-101", 1L, 2));
        order("c", 22, false, order(102, "PO-102", 2L, 3));
        assertEquals(3, view.readRecordsToList().size());

        customer("u", 30, false, customer(1, "Ada Lovelace", "UK"));
        Map<String, TestRecord<GenericRecord, GenericRecord>> out = drain();
        assertEquals(2, out.size(), "one row per order of the customer, and none for the other customer's order: " + out.keySet());
        for (String po : List.of("PO-100", "PO-101")) {
            assertEquals("Ada Lovelace", text(out.get(po).value(), "customer_name"));
            assertEquals(po.equals("PO-100") ? "20/30" : "21/30", versions(out.get(po)), "the order's version, then the customer's change");
            assertEquals(30L, ChangeHeaders.getLong(out.get(po).headers(), ChangeHeaders.LSN, -1));
            assertEquals(1030L, ChangeHeaders.getLong(out.get(po).headers(), ChangeHeaders.TX_ID, -1));
            assertEquals("u", header(out.get(po).headers(), ChangeHeaders.OP));
        }
    }

    @Test
    void aJoinRowCarriesTheLaterCommitOrderOfItsTwoSides() {
        GenericRecord customerSource = Fixtures.source("legacy", 10, 1010L, false);
        customerSource.put("commitOrder", 900L);
        customers.pipeInput(key(CUSTOMER_KEY, 1), Fixtures.envelope(CUSTOMER_ENVELOPE, null, customer(1, "Ada", "UK"), "c", customerSource));
        GenericRecord orderSource = Fixtures.source("legacy", 20, 1020L, false);
        orderSource.put("commitOrder", 500L);
        orders.pipeInput(key(ORDER_KEY, 100), Fixtures.envelope(ORDER_ENVELOPE, null, order(100, "PO-100", 1L, 1), "c", orderSource));
        // The order's change has the higher LSN, yet the customer's transaction committed later.
        TestRecord<GenericRecord, GenericRecord> r = view.readRecord();
        assertEquals(20L, version(r));
        assertEquals(900L, ChangeHeaders.getLong(r.headers(), ChangeHeaders.COMMIT_ORDER, -1));

        GenericRecord rename = Fixtures.source("legacy", 30, 1030L, false);
        rename.put("commitOrder", 1_000L);
        customers.pipeInput(key(CUSTOMER_KEY, 1), Fixtures.envelope(CUSTOMER_ENVELOPE, null, customer(1, "Ada Lovelace", "UK"), "u", rename));
        assertEquals(1_000L, ChangeHeaders.getLong(view.readRecord().headers(), ChangeHeaders.COMMIT_ORDER, -1));
    }

    @Test
    void orderMovesToAnotherCustomer() {
        customer("c", 10, false, customer(1, "Ada", "UK"));
        customer("c", 11, false, customer(2, "Grace", "US"));
        order("c", 20, false, order(100, "PO-100", 1L, 1));
        view.readRecordsToList();

        order("u", 40, false, order(100, "PO-100", 2L, 1));
        TestRecord<GenericRecord, GenericRecord> moved = view.readRecord();
        assertEquals("Grace", text(moved.value(), "customer_name"));
        assertEquals("40/11", versions(moved));
        assertTrue(view.isEmpty());

        customer("u", 50, false, customer(1, "Ada Lovelace", "UK"));
        assertTrue(view.isEmpty(), "the old customer no longer has the order");
        customer("u", 60, false, customer(2, "Grace Hopper", "US"));
        TestRecord<GenericRecord, GenericRecord> r = view.readRecord();
        assertEquals("Grace Hopper", text(r.value(), "customer_name"));
        assertEquals("40/60", versions(r));
    }

    @Test
    void deleteOfAnOrderIsATombstoneAtTheDeletesLsn() {
        customer("c", 10, false, customer(1, "Ada", "UK"));
        order("c", 20, false, order(100, "PO-100", 1L, 1));
        view.readRecordsToList();

        deleteOrder(100, 45);
        TestRecord<GenericRecord, GenericRecord> r = view.readRecord();
        assertEquals("PO-100", orderNumber(r), "the target key of a key-only delete image is the one the row was emitted under");
        assertNull(r.value());
        assertEquals(45L, version(r));
        assertEquals("d", header(r.headers(), ChangeHeaders.OP));
        assertTrue(view.isEmpty());

        customer("u", 50, false, customer(1, "Ada Lovelace", "UK"));
        assertTrue(view.isEmpty(), "a deleted order is not re-emitted by its customer's updates");
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void deleteOfACustomerDeletesItsOrdersRowsAndARecreatedCustomerBringsThemBack() {
        customer("c", 10, false, customer(1, "Ada", "UK"));
        order("c", 20, false, order(100, "PO-100", 1L, 1));
        order("c", 21, false, order(101, "PO-101", 1L, 2));
        view.readRecordsToList();

        deleteCustomer(1, 70);
        Map<String, TestRecord<GenericRecord, GenericRecord>> out = drain();
        assertEquals(2, out.size());
        for (TestRecord<GenericRecord, GenericRecord> r : out.values()) {
            assertNull(r.value(), "inner join: no projection row without its customer");
            assertEquals(70L, joinedVersion(r), "the customer delete's LSN");
            assertEquals("d", header(r.headers(), ChangeHeaders.OP));
        }

        customer("c", 80, false, customer(1, "Ada", "FR"));
        out = drain();
        assertEquals(2, out.size());
        assertEquals("FR", text(out.get("PO-100").value(), "customer_country"));
        assertEquals("20/80", versions(out.get("PO-100")));
    }

    @Test
    void orderWithoutCustomerHasNoRowUntilTheCustomerArrives() {
        order("c", 20, false, order(100, "PO-100", 9L, 1));
        order("c", 21, false, order(101, "PO-101", null, 1));
        assertTrue(view.isEmpty(), "nothing to delete, so no tombstone either");

        customer("c", 30, false, customer(9, "Linus", "FI"));
        TestRecord<GenericRecord, GenericRecord> r = view.readRecord();
        assertEquals("PO-100", orderNumber(r));
        assertEquals("20/30", versions(r));
        assertTrue(view.isEmpty());

        order("u", 40, false, order(100, "PO-100", null, 1));
        TestRecord<GenericRecord, GenericRecord> gone = view.readRecord();
        assertNull(gone.value(), "an order whose foreign key becomes null leaves the inner join");
        assertEquals("40/-1", versions(gone), "no joined row: joined version below every joined row's");

        // Moving to a customer the join has not seen yet: the tombstone's joined version is below that
        // of a row joined at the same driving state, so a later generation re-reading this history
        // (which may meet the order before the customer) never deletes the row another generation
        // wrote at version 50 with customer 7's snapshot row.
        order("u", 50, false, order(100, "PO-100", 9L, 1));
        view.readRecordsToList();
        order("u", 60, false, order(100, "PO-100", 7L, 1));
        TestRecord<GenericRecord, GenericRecord> unseen = view.readRecord();
        assertNull(unseen.value());
        assertEquals("60/-1", versions(unseen));
        customer("r", 5, true, customer(7, "Ken", "US"));
        assertEquals("60/0", versions(view.readRecord()));
    }

    @Test
    void snapshotRowsOnBothSidesHaveVersionZeroInEitherOrder() {
        order("r", 5, true, order(100, "PO-100", 1L, 1));
        assertTrue(view.isEmpty(), "no version-0 tombstone that would hide the row joined a moment later");
        customer("r", 6, true, customer(1, "Ada", "UK"));
        customer("r", 7, true, customer(2, "Grace", "US"));
        order("r", 8, true, order(101, "PO-101", 2L, 1));

        List<TestRecord<GenericRecord, GenericRecord>> out = view.readRecordsToList();
        assertEquals(2, out.size());
        for (TestRecord<GenericRecord, GenericRecord> r : out) {
            assertEquals("0/0", versions(r), "snapshot + snapshot");
            assertEquals("r", header(r.headers(), ChangeHeaders.OP));
        }

        customer("u", 90, false, customer(1, "Ada Lovelace", "UK"));
        TestRecord<GenericRecord, GenericRecord> r = view.readRecord();
        assertEquals("0/90", versions(r), "a streamed change on either side leaves version 0");
    }

    @Test
    void versionsOrderByTheDrivingRowThenTheJoinedRowAndNeverDecreasePerDrivingRow() {
        customer("c", 10, false, customer(1, "Ada", "UK"));
        order("c", 20, false, order(100, "PO-100", 1L, 1));
        // The customers topic runs ahead of the orders topic: the customer's change at LSN 50 is
        // joined before the order's change at LSN 40 arrives.
        customer("u", 50, false, customer(1, "Ada Lovelace", "UK"));
        order("u", 40, false, order(100, "PO-100", 1L, 2));
        order("u", 60, false, order(100, "PO-100", 1L, 3));
        deleteOrder(100, 65);

        List<TestRecord<GenericRecord, GenericRecord>> out = view.readRecordsToList();
        assertEquals(List.of("20/10", "20/50", "40/50", "60/50", "65/0"), out.stream().map(JoinTopologyTest::versions).toList(),
                "(order's version, customer's version)");
        assertEquals(2L, out.get(2).value().get("amount_cents"), "the order's change at LSN 40 is not lost behind the customer's at 50");
        assertEquals(50L, ChangeHeaders.getLong(out.get(2).headers(), ChangeHeaders.LSN, -1),
                "the LSN header is the latest change the result reflects");
        assertNull(out.get(4).value());
    }

    @Test
    void orderNumberChangeDeletesTheRowUnderTheOldKey() {
        customer("c", 10, false, customer(1, "Ada", "UK"));
        order("c", 20, false, order(100, "PO-100", 1L, 1));
        view.readRecordsToList();

        order("u", 30, false, order(100, "PO-100-A", 1L, 1));
        List<TestRecord<GenericRecord, GenericRecord>> out = view.readRecordsToList();
        assertEquals(2, out.size());
        assertEquals("PO-100", orderNumber(out.get(0)));
        assertNull(out.get(0).value());
        assertEquals("30/0", versions(out.get(0)), "the change that left the key");
        assertEquals("PO-100-A", orderNumber(out.get(1)));
        assertEquals("Ada", text(out.get(1).value(), "customer_name"));
    }

    @Test
    void internalTopicsAndStoresAreNamedAfterTheTarget() throws IOException {
        StreamsBuilder builder = new StreamsBuilder();
        MigrationTopology.addTo(builder, PREFIX, Migrations.fromSpec(dir.resolve("purchase_orders.yaml")), registry);
        String description = builder.build().describe().toString();
        // Generated names carry a counter that shifts when the topology changes; internal topics and
        // stores named so would be lost or orphaned on an upgrade.
        assertTrue(!description.contains("KSTREAM-") && !description.contains("KTABLE-"), description);
        String name = "migrate-public.purchase_orders-to-public.purchase_order_view";
        for (String part : List.of(name + "-driving-store", name + "-joined-store", name + "-emitted-versions",
                name + "-fk-join-subscription-store", name + "-fk-join-subscription-registration-topic",
                name + "-fk-join-subscription-response-topic", name + "-driving-table-repartition", name + "-joined-table-repartition")) {
            assertTrue(description.contains(part), part + " in " + description);
        }
    }

    @Test
    void aJoinedTableCanAlsoFeedItsOwnTargetThroughOneSourceNode() throws IOException {
        driver.close();
        try (InputStream in = getClass().getResourceAsStream("/specs/customer_names.avsc")) {
            Files.write(dir.resolve("customer_names.avsc"), in.readAllBytes());
        }
        Path spec = dir.resolve("purchase_orders.yaml");
        Files.writeString(spec, Files.readString(spec) + String.join("\n",
                "  customer_names:",
                "    table: public.customer_names",
                "    from: customers",
                "    contract: customer_names.avsc",
                "    key: [id]",
                "    columns:",
                "      id: { column: id }",
                "      name: { column: name }") + "\n");
        StreamsBuilder builder = new StreamsBuilder();
        MigrationTopology.addTo(builder, PREFIX, Migrations.fromSpec(spec), registry);
        driver = new TopologyTestDriver(builder.build(), Fixtures.driverProperties(dir.resolve("state2")));
        orders = driver.createInputTopic(Topics.legacy(PREFIX, ORDERS), AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        customers = driver.createInputTopic(Topics.legacy(PREFIX, CUSTOMERS), AvroSerde.keys(registry).serializer(),
                AvroSerde.values(registry).serializer());
        view = driver.createOutputTopic(Topics.newSchema(PREFIX, VIEW), AvroSerde.keys(registry).deserializer(),
                AvroSerde.values(registry).deserializer());
        TestOutputTopic<GenericRecord, GenericRecord> names = driver.createOutputTopic(Topics.newSchema(PREFIX, "public.customer_names"),
                AvroSerde.keys(registry).deserializer(), AvroSerde.values(registry).deserializer());

        customer("c", 10, false, customer(1, "Ada", "UK"));
        order("c", 20, false, order(100, "PO-100", 1L, 1));
        assertEquals("Ada", text(names.readValue(), "name"), "the single-table target reads the shared stream");
        assertEquals("Ada", text(view.readValue(), "customer_name"), "and so does the join");
    }

    @Test
    void aRowThatCannotBeBuiltIsDeadLetteredWithTheDrivingChange() {
        customer("c", 10, false, customer(1, "Ada", null));
        order("c", 20, false, order(100, "PO-100", 1L, 1));

        assertTrue(view.isEmpty());
        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        String message = header(dead.headers(), DeadLetterFields.ERROR);
        assertTrue(message.contains("purchase_orders.yaml:19: targets.purchase_order_view.columns.label.expression"), message);
        GenericRecord original = AvroSerde.values(registry).deserializer().deserialize(Topics.legacy(PREFIX, ORDERS), dead.value());
        assertEquals("PO-100", ((GenericRecord) original.get("after")).get("order_number").toString());

        customer("u", 30, false, customer(1, "Ada", "UK"));
        assertEquals("PO-100 / UK", text(view.readValue(), "label"), "the next change of either row builds it again");
    }

    @Test
    void legacyTablesIncludeTheJoinedTable() {
        assertEquals(List.of(ORDERS, CUSTOMERS), MigrationTopology.legacyTables(Migrations.fromSpec(dir.resolve("purchase_orders.yaml"))));
    }

    @Test
    void aDrivingRowLeavingTheFilterIsATombstone() throws IOException {
        driver.close();
        Path spec = dir.resolve("purchase_orders.yaml");
        Files.writeString(spec, Files.readString(spec).replace("    key: [order_number]\n", "    key: [order_number]\n    filter: \"amount > 0\"\n"));
        StreamsBuilder builder = new StreamsBuilder();
        MigrationTopology.addTo(builder, PREFIX, Migrations.fromSpec(spec), registry);
        driver = new TopologyTestDriver(builder.build(), Fixtures.driverProperties(dir.resolve("state2")));
        orders = driver.createInputTopic(Topics.legacy(PREFIX, ORDERS), AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        customers = driver.createInputTopic(Topics.legacy(PREFIX, CUSTOMERS), AvroSerde.keys(registry).serializer(),
                AvroSerde.values(registry).serializer());
        view = driver.createOutputTopic(Topics.newSchema(PREFIX, VIEW), AvroSerde.keys(registry).deserializer(),
                AvroSerde.values(registry).deserializer());

        customer("c", 10, false, customer(1, "Ada", "UK"));
        order("c", 20, false, order(100, "PO-100", 1L, 0));
        assertTrue(view.isEmpty(), "filtered out and never in the target: nothing to delete");
        order("u", 30, false, order(100, "PO-100", 1L, 5));
        assertEquals(30L, version(view.readRecord()));
        order("u", 40, false, order(100, "PO-100", 1L, 0));
        TestRecord<GenericRecord, GenericRecord> r = view.readRecord();
        assertNull(r.value());
        assertEquals(40L, version(r));
        assertEquals("d", header(r.headers(), ChangeHeaders.OP));
    }

    @Test
    void joinedTableKeyedByAnotherColumnIsDeadLettered() {
        Schema otherKey = KeySchemas.of("public", "customers",
                List.of(new KeySchemas.KeyField("name", Schema.create(Schema.Type.STRING))));
        TestInputTopic<GenericRecord, GenericRecord> wrong = driver.createInputTopic(Topics.legacy(PREFIX, CUSTOMERS),
                AvroSerde.keys(registry).serializer(), AvroSerde.values(registry).serializer());
        GenericData.Record k = new GenericData.Record(otherKey);
        k.put("name", "Ada");
        wrong.pipeInput(k, Fixtures.envelope(CUSTOMER_ENVELOPE, null, customer(1, "Ada", "UK"), "c", Fixtures.source("legacy", 10, 1L, false)));

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        String message = header(dead.headers(), DeadLetterFields.ERROR);
        assertTrue(message.contains("purchase_orders.yaml:13: targets.purchase_order_view.join.customer.on.customer_id"), message);
        assertTrue(message.contains("is not the primary key of legacy table public.customers, whose key is [name]"), message);
        assertTrue(view.isEmpty());
    }

    /**
     * Unchanged TOASTed values (Debezium's placeholder, {@link ToastPlaceholders}) on the join path:
     * each side's table holds the filled envelope, so the join, and any re-join later, sees the
     * prior value and never the placeholder.
     */
    @Test
    void toastPlaceholdersAreFilledOnBothSidesOfTheJoin() {
        String p = ToastPlaceholders.PLACEHOLDER;
        String bigName = "Ada ".repeat(3000);
        customer("r", 10, true, customer(1, bigName, "UK"));
        order("r", 10, true, order(100, "PO-100", 1L, 4200));
        assertEquals(bigName, text(view.readRecord().value(), "customer_name"));

        // Joined side: UPDATE customers SET country = 'FR' leaves the TOASTed name out of the WAL.
        customer("u", 30, false, customer(1, p, "FR"));
        TestRecord<GenericRecord, GenericRecord> r = view.readRecord();
        assertEquals(bigName, text(r.value(), "customer_name"));
        assertEquals("FR", text(r.value(), "customer_country"));

        // Driving side: an unchanged TOASTed order_number; then a driving change that re-joins with
        // the stored customer, which must be the filled one.
        order("u", 40, false, order(100, p, 1L, 4300));
        r = view.readRecord();
        assertEquals("PO-100", orderNumber(r));
        assertEquals(4300L, r.value().get("amount_cents"));
        assertEquals(bigName, text(r.value(), "customer_name"));
        assertEquals("PO-100 / FR", text(r.value(), "label"));
        assertTrue(view.isEmpty());
        assertTrue(deadLetters.isEmpty());
    }

    @Test
    void toastPlaceholderWithoutAPriorRowOnTheJoinedSideIsDeadLettered() {
        customer("u", 30, false, customer(7, ToastPlaceholders.PLACEHOLDER, "FR"));

        TestRecord<byte[], byte[]> dead = deadLetters.readRecord();
        String message = header(dead.headers(), DeadLetterFields.ERROR);
        assertTrue(message.contains(CUSTOMERS) && message.contains("{\"id\":7}") && message.contains("'name'")
                && message.contains("REPLICA IDENTITY FULL"), message);
        assertEquals(Topics.legacy(PREFIX, CUSTOMERS), header(dead.headers(), DeadLetterFields.TOPIC));
        assertTrue(view.isEmpty());
    }
}

package dev.understudy.transform;

import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeOrder;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.Topics;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.streams.StreamsBuilder;
import org.apache.kafka.streams.TestInputTopic;
import org.apache.kafka.streams.TestOutputTopic;
import org.apache.kafka.streams.TopologyTestDriver;
import org.apache.kafka.streams.test.TestRecord;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;

import static dev.understudy.transform.Fixtures.CUSTOMER_ENVELOPE;
import static dev.understudy.transform.Fixtures.CUSTOMER_KEY;
import static dev.understudy.transform.Fixtures.CUSTOMER_ROW;
import static dev.understudy.transform.Fixtures.ORDER_ENVELOPE;
import static dev.understudy.transform.Fixtures.ORDER_KEY;
import static dev.understudy.transform.Fixtures.ORDER_ROW;
import static dev.understudy.transform.Fixtures.PREFIX;
import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/**
 * Target keys copied from a non-key legacy column (an order number) handed from one legacy row to
 * another, through the migration topology, against a model of the writer.
 *
 * <p>Each trial draws from a seed a legacy history of orders and customers: a snapshot, then
 * renumbering, hand-overs of one number between two orders (A takes a free number, B takes A's, A
 * takes B's), orders moving between customers, customer renames, deletes and re-inserts of both,
 * and primary-key changes of orders (a delete and a create at one LSN).
 * The two legacy topics are consumed independently, so the trial interleaves their records at
 * random (each topic in its own order). The records of the new-schema topic are applied as the
 * writer applies them (a change lands only when its (version, joined version) is above the one
 * stored for its key, deletes included), and the result must equal the projection of the final
 * legacy state: every order of an existing customer under its number, nothing else.
 *
 * <p>{@code -Dhandover.trials=N} runs more trials; {@code -Dhandover.seed=S} one trial. A failing
 * trial names its seed.
 */
class KeyHandoverModelTest {
    private static final String ORDERS = "public.purchase_orders";
    private static final String CUSTOMERS = "public.customers";
    private static final String VIEW = "public.purchase_order_view";
    /** The same orders without the join: a single-table target keyed by the order number. */
    private static final String SINGLE_TABLE_SPEC = """
            migration: v1_orders_by_number
            flyway: "1"
            sources:
              orders: { table: public.purchase_orders }
            targets:
              purchase_order_view:
                table: public.purchase_order_view
                from: orders
                contract: purchase_order_view.avsc
                key: [order_number]
                columns:
                  order_number: { column: order_number }
                  amount_cents: { column: amount }
                  customer_name: { default: null }
                  customer_country: { default: null }
                  label: { default: null }
            """;

    @TempDir
    Path dir;

    @Test
    void handedOverKeysLandAsTheLegacyDatabaseEndsThroughTheJoin() throws IOException {
        runTrials(true);
    }

    @Test
    void handedOverKeysLandAsTheLegacyDatabaseEndsWithoutAJoin() throws IOException {
        runTrials(false);
    }

    /**
     * The case of the report, by hand: A takes a temporary number, B takes A's, A takes B's, while
     * the customers topic runs ahead (a rename at a higher LSN is joined before the hand-over).
     */
    @Test
    void aHandOverBehindAJoinedChangeKeepsBothRows() throws IOException {
        Trial t = new Trial(0, true);
        t.customer("r", 1, 0, "Ada");
        t.order("r", 10, 0, "PO-1", 1, 1);
        t.order("r", 11, 0, "PO-2", 1, 2);
        t.pipe();
        t.customer("u", 1, 500, "Ada Lovelace");
        t.pipe();
        t.order("u", 10, 100, "PO-TMP", 1, 1);
        t.order("u", 11, 200, "PO-1", 1, 2);
        t.order("u", 10, 300, "PO-2", 1, 1);
        t.pipe();
        assertEquals(t.expected(), t.target(), "writer model after the hand-over");
        t.close();
    }

    private void runTrials(boolean join) throws IOException {
        String one = System.getProperty("handover.seed");
        int trials = Integer.getInteger("handover.trials", 60);
        long base = Long.getLong("handover.base", 1L);
        List<Long> seeds = new ArrayList<>();
        if (one != null) {
            seeds.add(Long.parseLong(one));
        } else {
            for (int i = 0; i < trials; i++) {
                seeds.add(base + i);
            }
        }
        for (long seed : seeds) {
            Trial t = new Trial(seed, join);
            try {
                t.run();
                assertEquals(t.expected(), t.target(), "seed " + seed + (join ? " (join)" : " (single table)")
                        + ": target by the writer's rule vs the legacy projection; replay with -Dhandover.seed=" + seed
                        + "\nhistory:\n" + String.join("\n", t.history));
                assertTrue(t.deadLetters.isEmpty(), "seed " + seed + ": no dead letters");
            } finally {
                t.close();
            }
        }
    }

    private final class Trial {
        final SplittableRandom random;
        final boolean join;
        final InMemoryRegistryClient registry = new InMemoryRegistryClient();
        final TopologyTestDriver driver;
        final TestInputTopic<GenericRecord, GenericRecord> orders;
        final TestInputTopic<GenericRecord, GenericRecord> customers;
        final TestOutputTopic<GenericRecord, GenericRecord> view;
        final TestOutputTopic<byte[], byte[]> deadLetters;
        /** Legacy state: order id -> {number, customer, amount}; customer id -> name. */
        final Map<Long, Object[]> legacyOrders = new TreeMap<>();
        final Map<Long, String> legacyCustomers = new TreeMap<>();
        /** Records not yet piped, per topic, in each topic's order. */
        final List<Runnable> orderQueue = new ArrayList<>();
        final List<Runnable> customerQueue = new ArrayList<>();
        /** The writer's model: target key -> {order, row or null}. */
        final Map<String, Object[]> target = new HashMap<>();
        final List<String> history = new ArrayList<>();
        long lsn = 1000;

        Trial(long seed, boolean join) throws IOException {
            this.random = new SplittableRandom(seed);
            this.join = join;
            Path trialDir = Files.createTempDirectory(dir, "trial");
            try (InputStream in = getClass().getResourceAsStream("/specs/purchase_order_view.avsc")) {
                Files.write(trialDir.resolve("purchase_order_view.avsc"), in.readAllBytes());
            }
            Path spec = trialDir.resolve("spec.yaml");
            if (join) {
                try (InputStream in = getClass().getResourceAsStream("/specs/purchase_orders.yaml")) {
                    Files.write(spec, in.readAllBytes());
                }
            } else {
                Files.writeString(spec, SINGLE_TABLE_SPEC);
            }
            StreamsBuilder builder = new StreamsBuilder();
            MigrationTopology.addTo(builder, PREFIX, Migrations.fromSpec(spec), registry, 1, Map.of());
            driver = new TopologyTestDriver(builder.build(), Fixtures.driverProperties(trialDir.resolve("state")));
            orders = driver.createInputTopic(Topics.legacy(PREFIX, ORDERS), AvroSerde.keys(registry).serializer(),
                    AvroSerde.values(registry).serializer());
            // Without the join nothing reads the customers: their changes are not piped.
            customers = join ? driver.createInputTopic(Topics.legacy(PREFIX, CUSTOMERS), AvroSerde.keys(registry).serializer(),
                    AvroSerde.values(registry).serializer()) : null;
            view = driver.createOutputTopic(Topics.newSchema(PREFIX, VIEW), AvroSerde.keys(registry).deserializer(),
                    AvroSerde.values(registry).deserializer());
            deadLetters = driver.createOutputTopic(Topics.deadLetter(PREFIX), new ByteArrayDeserializer(), new ByteArrayDeserializer());
        }

        void run() {
            int customerCount = 1 + random.nextInt(3);
            int orderCount = 2 + random.nextInt(5);
            for (long c = 1; c <= customerCount; c++) {
                customer("r", c, 0, "C" + c);
            }
            for (long o = 1; o <= orderCount; o++) {
                order("r", o, 0, "PO-" + o, 1 + random.nextInt(customerCount), o);
            }
            long nextOrder = orderCount + 1;
            long nextCustomer = customerCount + 1;
            int steps = 10 + random.nextInt(40);
            for (int i = 0; i < steps; i++) {
                if (random.nextInt(4) == 0) {
                    pipeSome();
                }
                List<Long> ids = new ArrayList<>(legacyOrders.keySet());
                List<Long> customerIds = new ArrayList<>(legacyCustomers.keySet());
                int what = random.nextInt(9);
                if (what <= 2 && ids.size() >= 2) {
                    // Hand-over: in one transaction or in three, the LSNs increase either way.
                    long a = ids.get(random.nextInt(ids.size()));
                    long b = ids.get(random.nextInt(ids.size()));
                    if (a == b) {
                        continue;
                    }
                    String na = number(a);
                    String nb = number(b);
                    renumber(a, freeNumber());
                    renumber(b, na);
                    renumber(a, nb);
                } else if (what == 3 && !ids.isEmpty()) {
                    renumber(ids.get(random.nextInt(ids.size())), freeNumber());
                } else if (what == 4 && !ids.isEmpty() && !customerIds.isEmpty()) {
                    long o = ids.get(random.nextInt(ids.size()));
                    Object[] row = legacyOrders.get(o);
                    order("u", o, ++lsn * 10, (String) row[0], customerIds.get(random.nextInt(customerIds.size())), (Long) row[2]);
                } else if (what == 5 && !customerIds.isEmpty()) {
                    long c = customerIds.get(random.nextInt(customerIds.size()));
                    customer("u", c, ++lsn * 10, "C" + c + "-" + i);
                } else if (what == 6 && !ids.isEmpty() && random.nextInt(3) == 0) {
                    // UPDATE ... SET id = <new id>: one WAL record, which Debezium emits as a delete of
                    // the old key and a create of the new one, both at its LSN.
                    long o = ids.get(random.nextInt(ids.size()));
                    Object[] row = legacyOrders.get(o);
                    long at = ++lsn * 10;
                    deleteOrder(o, at);
                    order("c", nextOrder++, at, (String) row[0], (Long) row[1], (Long) row[2]);
                } else if (what == 6 && !ids.isEmpty()) {
                    long o = ids.get(random.nextInt(ids.size()));
                    deleteOrder(o, ++lsn * 10);
                    if (random.nextBoolean()) {
                        // Re-inserted under its id with another number, or under a new id with the same one.
                        order("c", random.nextBoolean() ? o : nextOrder++, ++lsn * 10, random.nextBoolean() ? freeNumber()
                                : "PO-R" + i, customerIds.isEmpty() ? 1 : customerIds.get(random.nextInt(customerIds.size())), i);
                    }
                } else if (what == 7 && !customerIds.isEmpty() && random.nextInt(3) == 0) {
                    long c = customerIds.get(random.nextInt(customerIds.size()));
                    deleteCustomer(c, ++lsn * 10);
                    if (random.nextBoolean()) {
                        customer("c", c, ++lsn * 10, "C" + c + "-again");
                    }
                } else if (what == 8) {
                    customer("c", nextCustomer++, ++lsn * 10, "New" + i);
                }
            }
            pipe();
        }

        String number(long order) {
            return (String) legacyOrders.get(order)[0];
        }

        String freeNumber() {
            while (true) {
                String n = "PO-" + random.nextInt(30);
                boolean taken = legacyOrders.values().stream().anyMatch(r -> r[0].equals(n));
                if (!taken) {
                    return n;
                }
            }
        }

        void renumber(long order, String number) {
            Object[] row = legacyOrders.get(order);
            order("u", order, ++lsn * 10, number, (Long) row[1], (Long) row[2]);
        }

        void order(String op, long id, long at, String number, long customer, long amount) {
            legacyOrders.put(id, new Object[]{number, customer, amount});
            history.add("order " + op + " id=" + id + " lsn=" + at + " number=" + number + " customer=" + customer);
            GenericData.Record row = new GenericData.Record(ORDER_ROW);
            row.put("id", id);
            row.put("order_number", number);
            row.put("customer_id", customer);
            row.put("amount", amount);
            GenericRecord envelope = Fixtures.envelope(ORDER_ENVELOPE, null, row, op, Fixtures.source("legacy", Math.max(at, 1), at + 7, at == 0));
            GenericRecord key = key(ORDER_KEY, id);
            orderQueue.add(() -> orders.pipeInput(key, envelope));
        }

        /**
         * A delete as PostgreSQL logs it with the default replica identity: the old image holds the
         * key alone, and Debezium may fill the NOT NULL order number with a fallback value.
         */
        void deleteOrder(long id, long at) {
            legacyOrders.remove(id);
            history.add("order d id=" + id + " lsn=" + at);
            GenericData.Record before = new GenericData.Record(ORDER_ROW);
            before.put("id", id);
            before.put("order_number", random.nextBoolean() ? "" : null);
            GenericRecord envelope = Fixtures.envelope(ORDER_ENVELOPE, before, null, "d", Fixtures.source("legacy", at, at + 7, false));
            GenericRecord key = key(ORDER_KEY, id);
            orderQueue.add(() -> {
                orders.pipeInput(key, envelope);
                orders.pipeInput(key, (GenericRecord) null);
            });
        }

        void customer(String op, long id, long at, String name) {
            legacyCustomers.put(id, name);
            history.add("customer " + op + " id=" + id + " lsn=" + at + " name=" + name);
            GenericData.Record row = new GenericData.Record(CUSTOMER_ROW);
            row.put("id", id);
            row.put("name", name);
            row.put("country", "UK");
            GenericRecord envelope = Fixtures.envelope(CUSTOMER_ENVELOPE, null, row, op, Fixtures.source("legacy", Math.max(at, 1), at + 7, at == 0));
            GenericRecord key = key(CUSTOMER_KEY, id);
            if (join) {
                customerQueue.add(() -> customers.pipeInput(key, envelope));
            }
        }

        void deleteCustomer(long id, long at) {
            legacyCustomers.remove(id);
            history.add("customer d id=" + id + " lsn=" + at);
            GenericData.Record before = new GenericData.Record(CUSTOMER_ROW);
            before.put("id", id);
            GenericRecord envelope = Fixtures.envelope(CUSTOMER_ENVELOPE, before, null, "d", Fixtures.source("legacy", at, at + 7, false));
            GenericRecord key = key(CUSTOMER_KEY, id);
            if (join) {
                customerQueue.add(() -> {
                    customers.pipeInput(key, envelope);
                    customers.pipeInput(key, (GenericRecord) null);
                });
            }
        }

        /** Pipes a random part of what is queued, the two topics interleaved at random, each in its order. */
        void pipeSome() {
            int n = random.nextInt(1 + orderQueue.size() + customerQueue.size());
            for (int i = 0; i < n; i++) {
                pipeOne();
            }
            drain();
        }

        void pipe() {
            while (!orderQueue.isEmpty() || !customerQueue.isEmpty()) {
                pipeOne();
            }
            drain();
        }

        private void pipeOne() {
            boolean fromOrders = customerQueue.isEmpty() || (!orderQueue.isEmpty() && random.nextBoolean());
            (fromOrders ? orderQueue : customerQueue).remove(0).run();
        }

        /** Applies the new-schema records as the writer does: strictly newer (version, joined version) only. */
        private void drain() {
            for (TestRecord<GenericRecord, GenericRecord> r : view.readRecordsToList()) {
                String key = r.key().get("order_number").toString();
                ChangeOrder order = ChangeOrder.of(r.headers(), r.value() == null);
                Object[] stored = target.get(key);
                if (stored == null || order.isAfter((ChangeOrder) stored[0])) {
                    target.put(key, new Object[]{order, r.value() == null ? null : row(r.value())});
                }
            }
        }

        Map<String, String> target() {
            Map<String, String> out = new TreeMap<>();
            target.forEach((k, v) -> {
                if (v[1] != null) {
                    out.put(k, (String) v[1]);
                }
            });
            return out;
        }

        /** The projection of the legacy state: what an SQL join (or the plain select) would return. */
        Map<String, String> expected() {
            Map<String, String> out = new TreeMap<>();
            legacyOrders.forEach((id, r) -> {
                if (!join) {
                    out.put((String) r[0], "null|" + r[2]);
                } else if (legacyCustomers.containsKey((Long) r[1])) {
                    out.put((String) r[0], legacyCustomers.get((Long) r[1]) + "|" + r[2]);
                }
            });
            return out;
        }

        private String row(GenericRecord value) {
            return value.get("customer_name") + "|" + value.get("amount_cents");
        }

        void close() {
            driver.close();
        }
    }

    private static GenericRecord key(Schema schema, long id) {
        GenericData.Record k = new GenericData.Record(schema);
        k.put("id", id);
        return k;
    }
}

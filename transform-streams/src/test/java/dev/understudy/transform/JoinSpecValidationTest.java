package dev.understudy.transform;

import dev.understudy.schemas.KeySchemas;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.transform.spec.SpecException;
import dev.understudy.transform.spec.SpecProblem;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The spec errors of joins: each names file:line and the key path, with a fix. */
class JoinSpecValidationTest {
    /** A valid joined target; tests change numbered lines (1-based, as in the messages). */
    private static final List<String> BASE = List.of(
            "migration: v3.0_purchase_order_view",                                  // 1
            "flyway: \"3.0\"",                                                       // 2
            "sources:",                                                              // 3
            "  orders: { table: public.purchase_orders }",                           // 4
            "  customers: { table: public.customers }",                              // 5
            "targets:",                                                              // 6
            "  purchase_order_view:",                                                // 7
            "    table: public.purchase_order_view",                                 // 8
            "    from: orders",                                                      // 9
            "    contract: purchase_order_view.avsc",                                // 10
            "    key: [order_number]",                                               // 11
            "    join:",                                                             // 12
            "      customer: { source: customers, on: { customer_id: id } }",        // 13
            "    columns:",                                                          // 14
            "      order_number: { column: order_number }",                          // 15
            "      customer_name: { column: customer.name }",                        // 16
            "      customer_country: { expression: \"customer.country\" }",          // 17
            "      amount_cents: { column: amount }",                                // 18
            "      label: { default: null }");                                       // 19

    private static final Schema ORDER_ROW = SchemaBuilder.record("Value").namespace("understudy.public.purchase_orders").fields()
            .name("id").type().optional().longType()
            .name("order_number").type().optional().stringType()
            .name("customer_id").type().optional().longType()
            .name("amount").type().optional().longType()
            .endRecord();
    private static final Schema CUSTOMER_ROW = SchemaBuilder.record("Value").namespace("understudy.public.customers").fields()
            .name("id").type().optional().longType()
            .name("name").type().optional().stringType()
            .name("country").type().optional().stringType()
            .endRecord();
    private static final Map<String, Schema> ROWS = Map.of("public.purchase_orders", ORDER_ROW, "public.customers", CUSTOMER_ROW);

    @TempDir
    Path dir;

    private Path file;

    @BeforeEach
    void contract() throws IOException {
        try (InputStream in = getClass().getResourceAsStream("/specs/purchase_order_view.avsc")) {
            Files.write(dir.resolve("purchase_order_view.avsc"), in.readAllBytes());
        }
    }

    private Path write(List<String> lines) throws IOException {
        file = dir.resolve("spec.yaml");
        Files.writeString(file, String.join("\n", lines) + "\n");
        return file;
    }

    private static List<String> replace(List<String> lines, int n, String text) {
        List<String> out = new ArrayList<>(lines);
        out.set(n - 1, text);
        return out;
    }

    private List<SpecProblem> loadProblems(List<String> lines) throws IOException {
        Path f = write(lines);
        return assertThrows(SpecException.class, () -> MigrationSpec.load(f)).problems();
    }

    private void assertOnly(List<SpecProblem> problems, int line, String path, String... parts) {
        assertEquals(1, problems.size(), problems.toString());
        String text = problems.get(0).toString();
        assertTrue(text.startsWith(file + ":" + line + ": " + path + ": "), text);
        for (String part : parts) {
            assertTrue(text.contains(part), "'" + part + "' in: " + text);
        }
    }

    @Test
    void baseIsValidAndMapsToAJoinedMapping() throws IOException {
        MigrationSpec spec = MigrationSpec.load(write(BASE));
        Schema customerKey = KeySchemas.of("public", "customers", List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
        assertEquals(List.of(), spec.validate(ROWS, Map.of("public.customers", customerKey)));
        JoinedTableMapping m = (JoinedTableMapping) spec.mappings().get(0);
        assertEquals("public.purchase_orders", m.sourceTable());
        assertEquals("public.customers", m.joinedTable());
    }

    @Test
    void moreThanOneJoinIsRejectedNamingTheLimit() throws IOException {
        List<String> lines = new ArrayList<>(BASE);
        lines.add(13, "      region: { source: customers, on: { region_id: id } }");
        assertOnly(loadProblems(lines), 12, "targets.purchase_order_view.join", "joins 2 sources [customer, region]",
                "a target can join at most one other source");
    }

    @Test
    void compositeForeignKeyIsRejected() throws IOException {
        assertOnly(loadProblems(replace(BASE, 13, "      customer: { source: customers, on: { customer_id: id, tenant_id: tenant } }")),
                13, "targets.purchase_order_view.join.customer.on", "joins on 2 columns", "composite foreign keys are not supported");
    }

    @Test
    void unknownJoinSource() throws IOException {
        assertOnly(loadProblems(replace(BASE, 13, "      customer: { source: customer, on: { customer_id: id } }")),
                13, "targets.purchase_order_view.join.customer.source", "unknown source alias 'customer'", "Did you mean 'customers'?");
    }

    @Test
    void joinWithoutOn() throws IOException {
        assertOnly(loadProblems(replace(BASE, 13, "      customer: { source: customers }")),
                13, "targets.purchase_order_view.join.customer.on", "missing required key 'on'");
    }

    @Test
    void columnOfAnAliasThatIsNotJoined() throws IOException {
        assertOnly(loadProblems(replace(BASE, 16, "      customer_name: { column: client.name }")),
                16, "targets.purchase_order_view.columns.customer_name.column", "'client.name' reads alias 'client', which this target does not join",
                "customer.name");
    }

    @Test
    void aliasColumnWithoutAnyJoin() throws IOException {
        List<String> lines = new ArrayList<>(BASE);
        lines.remove(12);
        lines.remove(11); // no join: the customer columns now read an alias nobody declared
        lines.set(14, "      customer_country: { default: null }");
        assertOnly(loadProblems(lines), 14, "targets.purchase_order_view.columns.customer_name.column",
                "reads alias 'customer', which this target does not join", "add join:");
    }

    @Test
    void keyColumnFromTheJoinedRow() throws IOException {
        assertOnly(loadProblems(replace(BASE, 15, "      order_number: { column: customer.name }")),
                15, "targets.purchase_order_view.columns.order_number.column", "key column 'order_number' reads the joined row");
    }

    @Test
    void joinOnANonKeyColumnOfTheReferencedSource() throws IOException {
        MigrationSpec spec = MigrationSpec.load(write(replace(BASE, 13, "      customer: { source: customers, on: { customer_id: name } }")));
        Schema customerKey = KeySchemas.of("public", "customers", List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
        assertOnly(spec.validate(ROWS, Map.of("public.customers", customerKey)), 13,
                "targets.purchase_order_view.join.customer.on.customer_id", "column 'name' is not the primary key of legacy table public.customers, whose key is [id]");
        assertEquals(List.of(), spec.validate(ROWS), "without key schemas the key is checked at run time");
    }

    @Test
    void unknownColumnsOnEitherSideOfTheJoin() throws IOException {
        MigrationSpec spec = MigrationSpec.load(write(replace(BASE, 13, "      customer: { source: customers, on: { client_id: ident } }")));
        List<SpecProblem> problems = spec.validate(ROWS);
        assertEquals(2, problems.size(), problems.toString());
        assertTrue(problems.get(0).toString().startsWith(file + ":13: targets.purchase_order_view.join.customer.on: unknown column 'client_id' in legacy table public.purchase_orders"),
                problems.toString());
        assertTrue(problems.get(1).toString().startsWith(file + ":13: targets.purchase_order_view.join.customer.on.client_id: unknown column 'ident' in legacy table public.customers"),
                problems.toString());
    }

    @Test
    void unknownJoinedColumnGetsASuggestion() throws IOException {
        MigrationSpec spec = MigrationSpec.load(write(replace(BASE, 16, "      customer_name: { column: customer.nam }")));
        assertOnly(spec.validate(ROWS), 16, "targets.purchase_order_view.columns.customer_name.column",
                "unknown column 'nam' in legacy table public.customers (joined as 'customer')", "Did you mean 'name'?");
    }

    @Test
    void filterSeesTheDrivingRowOnly() throws IOException {
        List<String> lines = new ArrayList<>(BASE);
        lines.add(11, "    filter: \"customer.country == 'UK'\"");
        MigrationSpec spec = MigrationSpec.load(write(lines));
        assertOnly(spec.validate(ROWS), 12, "targets.purchase_order_view.filter", "unknown column 'customer' in legacy table public.purchase_orders");
        lines.set(11, "    filter: \"amount > 0\"");
        assertEquals(List.of(), MigrationSpec.load(write(lines)).validate(ROWS));
    }
}

package dev.understudy.pipeline;

import dev.understudy.transform.Migrations;
import dev.understudy.transform.TableMapping;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

class InitialBulkLoadTest {
    private static final Path EXAMPLES = Path.of("..", "examples").toAbsolutePath().normalize();

    @Test
    void aJoinIsRefusedNamingTheTargetAndTheWayOut() {
        List<TableMapping> join = Migrations.fromSpec(EXAMPLES.resolve("purchase-orders/v1_purchase_order_view.yaml"));
        List<String> problems = InitialBulkLoad.problems(join);
        assertEquals(1, problems.size(), problems.toString());
        assertTrue(problems.get(0).contains("public.purchase_order_view") && problems.get(0).contains("initial.load=snapshot"),
                problems.get(0));
    }

    @Test
    void singleTableTargetsHaveNoProblem() {
        assertEquals(List.of(), InitialBulkLoad.problems(Migrations.fromSpec(EXAMPLES.resolve("users/v1.2_add_birthdate_to_users.yaml"))));
    }
}

package dev.understudy.pipeline;

import dev.understudy.transform.Migrations;
import dev.understudy.transform.TableMapping;
import org.junit.jupiter.api.Test;

import java.nio.file.Path;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
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

    /**
     * A resumed load re-reads the pages of the chunks it had not loaded and every row written from the
     * snapshot's oldest running transaction on; the xid8 recorded is cut to the 32-bit xid a row's
     * xmin holds, past a wrap-around of the epoch too.
     */
    @Test
    void aResumeReadsTheUnloadedChunksAndTheRowsWrittenSinceTheSnapshot() {
        long xid8 = (3L << 32) + 1_234;
        List<MigrationGenerations.InitialLoadChunk> chunks = List.of(
                new MigrationGenerations.InitialLoadChunk("public.t", 0, "ctid >= '(0,0)'::tid AND ctid < '(10,0)'::tid", 7, xid8, true, 100),
                new MigrationGenerations.InitialLoadChunk("public.t", 1, "ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid", 7, xid8, false, 0),
                new MigrationGenerations.InitialLoadChunk("public.t", 2, "ctid >= '(20,0)'::tid", 7, xid8, false, 0));
        assertEquals("(ctid >= '(10,0)'::tid AND ctid < '(20,0)'::tid) OR (ctid >= '(20,0)'::tid) OR age(xmin) <= age('1234'::xid)",
                InitialBulkLoad.resumeFilter(chunks));
        assertNull(InitialBulkLoad.resumeFilter(List.of(chunks.get(0))), "nothing to read when every chunk was loaded");
    }
}

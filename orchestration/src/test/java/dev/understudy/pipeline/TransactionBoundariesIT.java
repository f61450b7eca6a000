package dev.understudy.pipeline;

import dev.understudy.testkit.AccountsWorkload;
import dev.understudy.testkit.AccountsInvariant;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.sql.Connection;
import java.sql.SQLException;
import java.time.Duration;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assertions.fail;

/**
 * Source transaction boundaries (writer.transaction.boundaries, on by default), on the accounts case
 * (examples/accounts): money moves between legacy accounts, one to four transfers per legacy
 * transaction and now and then a few hundred, so one transaction's rows span every partition of both
 * new-schema topics and several writer batches. Money is conserved at every legacy commit. A reader
 * of the target checks the same, one snapshot per read, all through the workload and the catch-up
 * after it: with whole transactions applied at once it never sees money created or lost, nor a
 * balance that disagrees with the transfers. At the end the target equals the legacy tables.
 */
class TransactionBoundariesIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");
    private static final Path EXAMPLE = Path.of("..", "examples", "accounts").toAbsolutePath().normalize();
    private static final int ACCOUNTS = 2_000;
    private static final long OPENING_BALANCE = 1_000;
    private static final int STATEMENTS_PER_SECOND = 300;
    private static final Duration WORKLOAD = Duration.ofSeconds(25);
    /** The target tables, independently, as SQL on the legacy ones with the spec's renames. */
    private static final String EXPECTED_ACCOUNTS = "SELECT id, owner, balance FROM public.accounts ORDER BY id";
    private static final String ACTUAL_ACCOUNTS = "SELECT id, owner_name, balance FROM public.accounts ORDER BY id";
    private static final String EXPECTED_TRANSFERS = """
            SELECT id, from_id, to_id, amount, (extract(epoch FROM at) * 1000000)::bigint FROM public.transfers ORDER BY id""";
    private static final String ACTUAL_TRANSFERS = """
            SELECT id, from_account, to_account, amount, (extract(epoch FROM transferred_at) * 1000000)::bigint
            FROM public.transfers ORDER BY id""";

    @Test
    void readersOfTheTargetNeverSeePartOfALegacyTransaction(@TempDir Path work) throws Exception {
        MigrationSpec spec = MigrationSpec.load(EXAMPLE.resolve("v1_accounts.yaml"));
        try (EmbeddedStack stack = EmbeddedStack.start(work.resolve("stack"), PG_TIME_ZONE)) {
            try (Connection c = stack.legacy().connect()) {
                AccountsWorkload.createAndFill(c, ACCOUNTS, OPENING_BALANCE);
            }
            PipelineConfig config = TestPipelines.config(stack, work.resolve("streams"),
                    PipelineConfig.FLYWAY_LOCATIONS.name(), "filesystem:" + EXAMPLE.resolve("flyway"), TransformConfig.SETTLE_MS.name(), "3000");
            try (Pipeline pipeline = new Pipeline(config, spec).start()) {
                awaitSnapshotLanded(stack, pipeline);

                AccountsInvariant reader = new AccountsInvariant(stack.target().jdbcUrl(), stack.target().user(), stack.target().password(),
                        ACCOUNTS, OPENING_BALANCE, 20).start();
                AccountsWorkload workload = new AccountsWorkload(stack.legacy().jdbcUrl(), stack.legacy().user(), stack.legacy().password(),
                        STATEMENTS_PER_SECOND).start(2);
                try {
                    Thread.sleep(WORKLOAD.toMillis());
                } finally {
                    workload.close();
                }
                // The reader goes on through the catch-up, when the writer applies the most at once.
                TestPipelines.Sides accounts;
                TestPipelines.Sides transfers;
                try {
                    accounts = TestPipelines.awaitRows(stack, pipeline, EXPECTED_ACCOUNTS, ACTUAL_ACCOUNTS, Duration.ofSeconds(120), true);
                    transfers = TestPipelines.awaitRows(stack, pipeline, EXPECTED_TRANSFERS, ACTUAL_TRANSFERS, Duration.ofSeconds(120), true);
                } finally {
                    reader.close();
                }
                System.out.printf("TransactionBoundariesIT: %s; legacy transactions committed %,d (%s); source transactions applied "
                                + "whole by the writer %,d; writer %s%n", reader.describe(), workload.transactions(), workload.describe(),
                        pipeline.writer().metrics().transactionsApplied(), pipeline.writer().metrics());

                TestPipelines.assertSameRows(accounts);
                TestPipelines.assertSameRows(transfers);
                assertEquals(ACCOUNTS, accounts.actual().size(), "target accounts");
                assertTrue(workload.largeTransactions() > 0, "no large transaction ran: " + workload.describe());
                assertEquals(workload.transfers(), transfers.actual().size(), "target transfers against committed ones");
                assertEquals(0, reader.violations(), "reads of the target saw part of a legacy transaction: " + reader.describe());
                assertTrue(reader.reads() >= 50, "too few reads of the target to tell: " + reader.describe());
                // Boundaries are on by default: the writer applied source transactions whole, not rows as they came.
                assertTrue(pipeline.writer().metrics().transactionsApplied() > 0, "the writer applied no source transaction whole: "
                        + pipeline.writer().metrics());
                assertEquals(0, pipeline.drift().totalOpen(), "drift");
                assertEquals(0, pipeline.writer().metrics().deadLettered(), "dead-lettered records");
            }
        }
    }

    /**
     * Waits until the target holds every account with the opening total (the initial snapshot has
     * been applied): before that the invariants do not hold on the target, whatever the writer does.
     */
    private static void awaitSnapshotLanded(EmbeddedStack stack, Pipeline pipeline) throws Exception {
        long deadline = System.nanoTime() + Duration.ofSeconds(120).toNanos();
        AccountsInvariant.Read last = null;
        SQLException lastError = null;
        while (System.nanoTime() < deadline) {
            assertNull(pipeline.failure(), "pipeline stage failed");
            try (Connection t = stack.target().connect()) {
                last = AccountsInvariant.read(t, ACCOUNTS, OPENING_BALANCE);
                lastError = null;
            } catch (SQLException e) {
                // Flyway creates the tables during start; a read before that is simply early.
                last = null;
                lastError = e;
            }
            if (last != null && last.accounts() == ACCOUNTS && !last.violates()) {
                return;
            }
            Thread.sleep(250);
        }
        fail("the target never held the " + ACCOUNTS + " snapshotted accounts with the opening total " + ACCOUNTS * OPENING_BALANCE
                + "; last read: " + (lastError != null ? "failed: " + lastError.getMessage() : last) + "; writer " + pipeline.writer().metrics());
    }
}

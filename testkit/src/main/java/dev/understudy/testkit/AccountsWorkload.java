package dev.understudy.testkit;

import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.StandardCharsets;
import java.sql.Connection;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayList;
import java.util.List;
import java.util.TreeSet;
import java.util.concurrent.ThreadLocalRandom;
import java.util.concurrent.atomic.AtomicLong;

/**
 * Money moving between the legacy accounts of the accounts case ({@code examples/accounts/legacy.sql}):
 * every legacy transaction holds one to four transfers, and about one in {@value #LARGE_EVERY} holds
 * {@value #LARGE_MIN} to {@value #LARGE_MAX}, so that one transaction's rows spread over every
 * partition of both new-schema topics and over several writer batches. A transfer is three
 * statements: UPDATE the debited account, UPDATE the credited one, INSERT the transfers row. Money is
 * only moved, never created, so at every commit the sum of balances is the opening total and every
 * balance is its opening balance plus incoming minus outgoing transfers ({@link AccountsInvariant}
 * checks the same on the target).
 * <p>
 * Runs on its own threads at a target rate of row-changing statements per second until closed.
 */
public final class AccountsWorkload extends RateLimitedWorkload<AccountsWorkload> {
    /** The legacy DDL, packaged in the testkit jar from {@code examples/accounts}. */
    public static final String LEGACY_SQL_RESOURCE = "examples/accounts/legacy.sql";
    /** About one transaction in this many is large. */
    public static final int LARGE_EVERY = 50;
    public static final int LARGE_MIN = 100;
    public static final int LARGE_MAX = 300;
    private static final int SMALL_MAX = 4;
    /** Statements per transfer: debit, credit, insert. */
    private static final int STATEMENTS_PER_TRANSFER = 3;
    /** Attempts of one transaction before the thread gives up and reports it. */
    private static final int MAX_ATTEMPTS = 20;

    private final AtomicLong largeTransactions = new AtomicLong();
    private final AtomicLong transfers = new AtomicLong();
    private final AtomicLong statements = new AtomicLong();
    private final AtomicLong retries = new AtomicLong();

    /**
     * @param statementsPerSecond target rate of row-changing statements (three per transfer) over all
     *                            threads; 0 or less runs as fast as the database allows
     */
    public AccountsWorkload(String jdbcUrl, String user, String password, int statementsPerSecond) {
        super("accounts", jdbcUrl, user, password, statementsPerSecond);
    }

    /** The legacy DDL of the accounts case, from the classpath. */
    public static String legacySql() {
        try (InputStream in = AccountsWorkload.class.getClassLoader().getResourceAsStream(LEGACY_SQL_RESOURCE)) {
            if (in == null) {
                throw new IllegalStateException("The launcher was built without " + LEGACY_SQL_RESOURCE
                        + " (examples/accounts is packaged by testkit/pom.xml); rebuild it with mvn -pl testkit -am install");
            }
            return new String(in.readAllBytes(), StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new IllegalStateException("Cannot read " + LEGACY_SQL_RESOURCE + " from the classpath: " + e.getMessage(), e);
        }
    }

    /**
     * Runs the legacy DDL ({@link #legacySql()}) and inserts accounts 1 to {@code accounts}, each
     * holding {@code openingBalance}; no transfers yet.
     */
    public static void createAndFill(Connection legacy, int accounts, long openingBalance) throws SQLException {
        if (accounts < 2) {
            throw new IllegalArgumentException("A transfer needs two accounts; got " + accounts);
        }
        try (Statement s = legacy.createStatement()) {
            s.execute(legacySql());
            s.execute("INSERT INTO public.accounts (id, owner, balance) SELECT g, 'Owner ' || g, " + openingBalance
                    + " FROM generate_series(1, " + accounts + ") g");
            s.execute("ANALYZE public.accounts");
        }
    }

    private record Transfer(int from, int to, long amount) {
    }

    @Override
    protected Writer prepare(Connection c) throws SQLException {
        return new TransfersWriter(c);
    }

    /** One thread's statements, and the number of accounts it draws from. */
    private final class TransfersWriter implements Writer {
        private final Connection c;
        private final int accounts;
        private final PreparedStatement lock;
        private final PreparedStatement debit;
        private final PreparedStatement credit;
        private final PreparedStatement insert;

        TransfersWriter(Connection c) throws SQLException {
            this.c = c;
            accounts = (int) maxId(c, "public.accounts");
            if (accounts < 2) {
                throw new IllegalStateException("public.accounts holds " + accounts + " accounts; fill it with AccountsWorkload.createAndFill first");
            }
            lock = c.prepareStatement("SELECT id FROM public.accounts WHERE id = ANY(?) ORDER BY id FOR UPDATE");
            debit = c.prepareStatement("UPDATE public.accounts SET balance = balance - ? WHERE id = ?");
            credit = c.prepareStatement("UPDATE public.accounts SET balance = balance + ? WHERE id = ?");
            insert = c.prepareStatement("INSERT INTO public.transfers (from_id, to_id, amount) VALUES (?, ?, ?)");
        }

        @Override
        public int transaction() throws SQLException {
            ThreadLocalRandom random = ThreadLocalRandom.current();
            boolean large = random.nextInt(LARGE_EVERY) == 0;
            int count = large ? LARGE_MIN + random.nextInt(LARGE_MAX - LARGE_MIN + 1) : 1 + random.nextInt(SMALL_MAX);
            List<Transfer> plan = new ArrayList<>(count);
            for (int i = 0; i < count; i++) {
                int from = 1 + random.nextInt(accounts);
                int to = 1 + random.nextInt(accounts - 1);
                if (to >= from) {
                    to++;
                }
                plan.add(new Transfer(from, to, 1 + random.nextInt(100)));
            }
            for (int attempt = 1; ; attempt++) {
                try {
                    apply(plan);
                    c.commit();
                    break;
                } catch (SQLException e) {
                    c.rollback();
                    // Accounts are locked in id order before any update, so two transactions
                    // cannot wait on each other; a deadlock or serialization failure can still
                    // come from writers outside this workload, and is retried like PostgreSQL
                    // advises (the same transaction again).
                    if (!isConflict(e)) {
                        throw e;
                    }
                    if (attempt == MAX_ATTEMPTS) {
                        throw new SQLException("A transfer transaction failed " + MAX_ATTEMPTS + " times in a row: " + e.getMessage(),
                                e.getSQLState(), e);
                    }
                    retries.incrementAndGet();
                }
            }
            if (large) {
                largeTransactions.incrementAndGet();
            }
            transfers.addAndGet(count);
            statements.addAndGet((long) count * STATEMENTS_PER_TRANSFER);
            return count * STATEMENTS_PER_TRANSFER;
        }

        /** The transaction's statements, after locking every account it touches in id order. */
        private void apply(List<Transfer> plan) throws SQLException {
            TreeSet<Integer> touched = new TreeSet<>();
            for (Transfer t : plan) {
                touched.add(t.from());
                touched.add(t.to());
            }
            lock.setArray(1, c.createArrayOf("int4", touched.toArray()));
            try (ResultSet rs = lock.executeQuery()) {
                int locked = 0;
                while (rs.next()) {
                    locked++;
                }
                if (locked != touched.size()) {
                    throw new IllegalStateException("Only " + locked + " of the " + touched.size()
                            + " accounts a transfer touches exist in public.accounts; accounts must not be deleted while the workload runs");
                }
            }
            for (Transfer t : plan) {
                debit.setLong(1, t.amount());
                debit.setInt(2, t.from());
                debit.executeUpdate();
                credit.setLong(1, t.amount());
                credit.setInt(2, t.to());
                credit.executeUpdate();
                insert.setInt(1, t.from());
                insert.setInt(2, t.to());
                insert.setLong(3, t.amount());
                insert.executeUpdate();
            }
        }
    }

    /** Committed transactions of {@value #LARGE_MIN} to {@value #LARGE_MAX} transfers. */
    public long largeTransactions() {
        return largeTransactions.get();
    }

    /** Committed transfers (rows inserted into public.transfers). */
    public long transfers() {
        return transfers.get();
    }

    /** Committed row-changing statements: three per transfer. */
    public long statements() {
        return statements.get();
    }

    /** Transactions rolled back after a deadlock or serialization failure and run again. */
    public long retries() {
        return retries.get();
    }

    @Override
    public String describe() {
        return String.format("%,d transfers (%,d row changes) in %,d transactions, %,d of them large; %,d retried",
                transfers(), statements(), transactions(), largeTransactions(), retries());
    }
}

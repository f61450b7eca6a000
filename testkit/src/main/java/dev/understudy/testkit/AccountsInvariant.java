package dev.understudy.testkit;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.PreparedStatement;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicLong;

/**
 * What a reader of the target sees of the accounts case's invariants ({@link AccountsWorkload}): a
 * thread that reads the target over and over, each read one SQL statement, and counts the reads in
 * which (a) the sum of balances is not the opening total, or (b) some account's balance is not its
 * opening balance plus incoming minus outgoing transfers as the target's transfers table records
 * them. Both hold at every legacy commit, so a violating read saw part of a legacy transaction.
 * <p>
 * One statement, because in PostgreSQL a statement sees one snapshot at READ COMMITTED (PostgreSQL
 * manual, "Read Committed Isolation Level": a query sees data committed before it began); two
 * statements could each see a different writer commit and report a violation no reader of one
 * snapshot would see. The check means something only once the target holds every account, i.e. after
 * the initial snapshot has been applied; start it then.
 */
public final class AccountsInvariant implements AutoCloseable {
    /** Violating reads kept as samples; later ones are only counted. */
    public static final int SAMPLES = 5;

    /**
     * One read: when it ran, the sum of balances and the opening total it should equal, the accounts
     * present, and how many of them disagree with the transfers table.
     */
    public record Read(Instant at, long sum, long expectedSum, long accounts, long badAccounts) {
        public boolean violates() {
            return sum != expectedSum || badAccounts != 0;
        }

        @Override
        public String toString() {
            return at + ": sum " + sum + " (expected " + expectedSum + "), " + accounts + " accounts, " + badAccounts
                    + " disagreeing with the transfers";
        }
    }

    /**
     * Net transfers per account from both sides of every transfer (one GROUP BY over a UNION ALL),
     * then the accounts whose balance is not opening + net; the sum and the account count come from
     * the same statement, hence the same snapshot.
     */
    static final String CHECK = """
            WITH flows AS (
                SELECT to_account AS account, amount AS delta FROM public.transfers
                UNION ALL
                SELECT from_account, -amount FROM public.transfers
            ), net AS (
                SELECT account, sum(delta) AS delta FROM flows GROUP BY account
            )
            SELECT coalesce(sum(a.balance), 0),
                   count(*),
                   count(*) FILTER (WHERE a.balance <> ? + coalesce(n.delta, 0))
            FROM public.accounts a LEFT JOIN net n ON n.account = a.id""";

    private final String jdbcUrl;
    private final String user;
    private final String password;
    private final long openingBalance;
    private final long expectedSum;
    private final long pauseMs;
    private final AtomicLong reads = new AtomicLong();
    private final AtomicLong violations = new AtomicLong();
    private final List<Read> samples = new ArrayList<>();
    private Thread thread;
    private volatile boolean running;
    private volatile Throwable failure;

    /**
     * @param accounts the accounts the legacy table holds (ids 1 to accounts), each opened with {@code openingBalance}
     * @param pauseMs  pause between reads, so the reader does not take a whole core from the pipeline it watches
     */
    public AccountsInvariant(String jdbcUrl, String user, String password, int accounts, long openingBalance, long pauseMs) {
        this.jdbcUrl = jdbcUrl;
        this.user = user;
        this.password = password;
        this.openingBalance = openingBalance;
        this.expectedSum = accounts * openingBalance;
        this.pauseMs = pauseMs;
    }

    /** One read on {@code target}, outside the reader thread (e.g. to wait until the snapshot has landed). */
    public static Read read(Connection target, int accounts, long openingBalance) throws SQLException {
        try (PreparedStatement ps = target.prepareStatement(CHECK)) {
            return read(ps, accounts * openingBalance, openingBalance);
        }
    }

    private static Read read(PreparedStatement ps, long expectedSum, long openingBalance) throws SQLException {
        ps.setLong(1, openingBalance);
        try (ResultSet rs = ps.executeQuery()) {
            rs.next();
            return new Read(Instant.now(), rs.getLong(1), expectedSum, rs.getLong(2), rs.getLong(3));
        }
    }

    public synchronized AccountsInvariant start() {
        if (thread == null) {
            running = true;
            thread = new Thread(this::run, "accounts-invariant-reader");
            thread.setDaemon(true);
            thread.start();
        }
        return this;
    }

    private void run() {
        try (Connection c = DriverManager.getConnection(jdbcUrl, user, password);
             PreparedStatement ps = c.prepareStatement(CHECK)) {
            // autocommit: every read is its own statement, its own snapshot
            while (running) {
                Read r = read(ps, expectedSum, openingBalance);
                reads.incrementAndGet();
                if (r.violates()) {
                    violations.incrementAndGet();
                    synchronized (samples) {
                        if (samples.size() < SAMPLES) {
                            samples.add(r);
                        }
                    }
                }
                if (pauseMs > 0) {
                    Thread.sleep(pauseMs);
                }
            }
        } catch (SQLException | RuntimeException e) {
            failure = e;
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
    }

    /** Reads completed. */
    public long reads() {
        return reads.get();
    }

    /** Reads in which either invariant failed. */
    public long violations() {
        return violations.get();
    }

    /** The first {@value #SAMPLES} violating reads. */
    public List<Read> samples() {
        synchronized (samples) {
            return List.copyOf(samples);
        }
    }

    public Throwable failure() {
        return failure;
    }

    /** Reads, violations and the first violating samples as one line. */
    public String describe() {
        List<Read> s = samples();
        return String.format("%,d target reads, %,d violating", reads(), violations())
                + (s.isEmpty() ? "" : "; first violations: " + s);
    }

    /** Stops the reader after its current read; throws if it could not read. */
    @Override
    public void close() {
        running = false;
        Thread t;
        synchronized (this) {
            t = thread;
        }
        if (t != null) {
            try {
                t.join(10_000);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
            }
        }
        if (failure != null) {
            throw new IllegalStateException("The accounts invariant reader failed: " + failure.getMessage(), failure);
        }
    }
}

package dev.understudy.generative;

import dev.understudy.generative.SchemaGenerator.Column;
import dev.understudy.generative.SchemaGenerator.LegacySchema;
import dev.understudy.generative.SchemaGenerator.Role;
import dev.understudy.generative.SchemaGenerator.Table;
import dev.understudy.generative.TypeCatalog.Values;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.Deque;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;
import java.util.TreeMap;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * The legacy data and its concurrent workload: the initial rows, then, until stopped, inserts,
 * updates, deletes and re-inserts under the same key, primary-key changes, foreign-key moves,
 * renumbering and hand-over of the unique number some targets are keyed by (A takes a temporary
 * number, B takes A's, A takes B's; in one transaction or in three), filter flips, TOAST-sized
 * values and updates that leave them unchanged, multi-statement transfers and long transactions.
 * <p>
 * Two invariants make the expected projection computable from the final legacy state: every
 * transaction conserves the sum of the driving table's balances (a row's balance is moved away
 * before it is deleted; new rows start at 0), and a row's code never changes between converting and
 * not converting, so whether its changes are dead-lettered is a property of the final row.
 */
final class WorkloadGenerator implements AutoCloseable {
    /** Codes that convert to int (and long). */
    private static final String[] CODES_INT = {"0", "42", "-7", "007", "2147483647", "-2147483648"};
    /** Codes that convert to long only. */
    private static final String[] CODES_LONG = {"2147483648", "-9223372036854775808", "9223372036854775807", "123456789012"};
    /** Codes that convert to neither. */
    private static final String[] CODES_BAD = {"x9", "2.5", "", "  ", "9223372036854775808", "abc", "1,5"};

    private final LegacySchema schema;
    private final String url;
    private final String user;
    private final String password;
    private final long seed;
    private final AtomicLong next;
    private final AtomicBoolean stop = new AtomicBoolean();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final Map<String, AtomicLong> counts = new TreeMap<>();
    private final AtomicLong transactions = new AtomicLong();
    private final AtomicLong refused = new AtomicLong();
    private final List<Thread> threads = new ArrayList<>();

    WorkloadGenerator(LegacySchema schema, String url, String user, String password, long seed, long firstKey) {
        this.schema = schema;
        this.url = url;
        this.user = user;
        this.password = password;
        this.seed = seed;
        this.next = new AtomicLong(firstKey);
    }

    /** SQL: whether the text {@code expr} converts exactly to int ({@code toInt}) or long, as the spec's cast does. */
    static String codeConverts(String expr, boolean toInt) {
        String lo = toInt ? "-2147483648" : "-9223372036854775808";
        String hi = toInt ? "2147483647" : "9223372036854775807";
        return "(CASE WHEN " + expr + " ~ '^-?[0-9]{1,19}$' THEN " + expr + "::numeric BETWEEN " + lo + " AND " + hi + " ELSE false END)";
    }

    /** Inserts the initial rows; returns the conserved total of the driving table's balances. */
    static long fill(Connection c, LegacySchema schema, SplittableRandom r, int parents, int rows, int sideRows, AtomicLong next)
            throws SQLException {
        List<List<String>> parentKeys = new ArrayList<>();
        try (Statement s = c.createStatement()) {
            if (schema.parent() != null) {
                for (int i = 0; i < parents; i++) {
                    List<String> key = SchemaGenerator.newKey(schema.parent(), next.getAndIncrement(), r);
                    parentKeys.add(key);
                    s.addBatch(insertParent(schema.parent(), key, r));
                }
                s.executeBatch();
            }
            for (int i = 0; i < rows; i++) {
                List<String> ref = parentKeys.isEmpty() || r.nextInt(10) == 0 ? null : parentKeys.get(r.nextInt(parentKeys.size()));
                s.addBatch(insertDriving(schema, SchemaGenerator.newKey(schema.driving(), next.getAndIncrement(), r),
                        ref == null ? "NULL" : ref.get(0), schema.openingBalance(), next.getAndIncrement(), r));
            }
            s.executeBatch();
            if (schema.side() != null) {
                for (int i = 0; i < sideRows; i++) {
                    s.addBatch(insertSide(schema.side(), SchemaGenerator.newKey(schema.side(), next.getAndIncrement(), r),
                            next.getAndIncrement(), r));
                }
                s.executeBatch();
            }
        }
        return schema.openingBalance() * rows;
    }

    private static String insertParent(Table p, List<String> key, SplittableRandom r) {
        List<String> names = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (Column c : p.columns()) {
            names.add(c.quoted());
            values.add(switch (c.role()) {
                case KEY -> key.get(0);
                case TITLE -> label(r);
                case RANK -> r.nextInt(8) == 0 ? "NULL" : Integer.toString(r.nextInt(-100, 100));
                default -> c.type().value(r);
            });
        }
        return "INSERT INTO " + p.qualified() + " (" + String.join(", ", names) + ") VALUES (" + String.join(", ", values) + ")";
    }

    private static String insertDriving(LegacySchema schema, List<String> key, String ref, long balance, long number, SplittableRandom r) {
        Table d = schema.driving();
        List<String> names = new ArrayList<>();
        List<String> values = new ArrayList<>();
        int k = 0;
        for (Column c : d.columns()) {
            names.add(c.quoted());
            values.add(switch (c.role()) {
                case KEY -> key.get(k++);
                case REF -> ref;
                case NUM -> Values.literal("N" + number);
                case BALANCE -> Long.toString(balance);
                case LABEL -> label(r);
                case QTY -> qty(r);
                case CODE -> code(r, r.nextInt(3));
                case AMOUNT -> r.nextInt(6) == 0 ? "NULL" : Values.literal(Long.toString(r.nextLong(-1_000_000_000_000L, 1_000_000_000_000L)));
                case NOTE -> note(r);
                default -> c.type().value(r);
            });
        }
        return "INSERT INTO " + d.qualified() + " (" + String.join(", ", names) + ") VALUES (" + String.join(", ", values) + ")";
    }

    private static String insertSide(Table t, List<String> key, long number, SplittableRandom r) {
        List<String> names = new ArrayList<>();
        List<String> values = new ArrayList<>();
        for (Column c : t.columns()) {
            names.add(c.quoted());
            values.add(switch (c.role()) {
                case KEY -> key.get(0);
                case NUM -> Values.literal("S" + number);
                case LABEL -> label(r);
                case QTY -> qty(r);
                default -> c.type().value(r);
            });
        }
        return "INSERT INTO " + t.qualified() + " (" + String.join(", ", names) + ") VALUES (" + String.join(", ", values) + ")";
    }

    /** NULL, '', unicode, a quote: the label feeds expressions and filters. */
    private static String label(SplittableRandom r) {
        int dice = r.nextInt(10);
        if (dice == 0) {
            return "NULL";
        }
        if (dice == 1) {
            return "''";
        }
        return Values.word(r);
    }

    private static String qty(SplittableRandom r) {
        return r.nextInt(8) == 0 ? "NULL" : Integer.toString(r.nextInt(-1000, 1000));
    }

    /** A code of class 0 (converts to int), 1 (to long only) or 2 (to neither); NULL counts as class 0. */
    private static String code(SplittableRandom r, int cls) {
        return switch (cls) {
            case 0 -> r.nextInt(5) == 0 ? "NULL" : Values.literal(CODES_INT[r.nextInt(CODES_INT.length)]);
            case 1 -> Values.literal(CODES_LONG[r.nextInt(CODES_LONG.length)]);
            default -> Values.literal(CODES_BAD[r.nextInt(CODES_BAD.length)]);
        };
    }

    private static String note(SplittableRandom r) {
        int dice = r.nextInt(10);
        if (dice < 3) {
            return Values.toasted(r);
        }
        return dice < 5 ? "NULL" : Values.word(r);
    }

    WorkloadGenerator start() {
        SplittableRandom root = new SplittableRandom(seed);
        SplittableRandom shortRandom = root.split();
        SplittableRandom longRandom = root.split();
        threads.add(new Thread(() -> run(shortRandom, false), "generative-workload"));
        threads.add(new Thread(() -> run(longRandom, true), "generative-long-transactions"));
        threads.forEach(Thread::start);
        return this;
    }

    Throwable failure() {
        return failure.get();
    }

    long transactions() {
        return transactions.get();
    }

    String describe() {
        StringBuilder sb = new StringBuilder();
        synchronized (counts) {
            counts.forEach((k, v) -> sb.append(sb.length() == 0 ? "" : ", ").append(v.get()).append(' ').append(k));
        }
        return sb + " in " + transactions.get() + " transactions (" + refused.get() + " refused by the legacy database and rolled back)";
    }

    @Override
    public void close() throws InterruptedException {
        stop.set(true);
        for (Thread t : threads) {
            t.join(30_000);
        }
    }

    private void run(SplittableRandom r, boolean longTransactions) {
        Deque<List<String>> deleted = new ArrayDeque<>();
        try (Connection c = DriverManager.getConnection(url, user, password)) {
            c.setAutoCommit(false);
            while (!stop.get()) {
                try (Statement s = c.createStatement()) {
                    String op = longTransactions ? longTransaction(s, r) : shortTransaction(s, r, deleted, c);
                    c.commit();
                    transactions.incrementAndGet();
                    count(op);
                } catch (SQLException e) {
                    // Concurrent transactions collide now and then (a unique number taken, a deadlock):
                    // the legacy database refused the whole transaction, which is part of the workload.
                    c.rollback();
                    refused.incrementAndGet();
                }
                Thread.sleep(longTransactions ? 300 + r.nextInt(700) : r.nextInt(6));
            }
        } catch (Throwable t) {
            failure.compareAndSet(null, t);
        }
    }

    private void count(String op) {
        synchronized (counts) {
            counts.computeIfAbsent(op, k -> new AtomicLong()).incrementAndGet();
        }
    }

    /** Random rows of a table: each the key as SQL literals, then the number (if any). */
    private static List<List<String>> pickRows(Statement s, Table t, int n) throws SQLException {
        StringBuilder q = new StringBuilder("SELECT ");
        for (Column k : t.key()) {
            q.append(k.quoted()).append("::text, ");
        }
        Column num = t.role(Role.NUM);
        q.append(num == null ? "NULL" : num.quoted()).append(" FROM ").append(t.qualified()).append(" ORDER BY random() LIMIT ").append(n);
        List<List<String>> out = new ArrayList<>();
        try (ResultSet rs = s.executeQuery(q.toString())) {
            while (rs.next()) {
                List<String> row = new ArrayList<>();
                for (int i = 0; i < t.key().size(); i++) {
                    row.add(Values.literal(rs.getString(i + 1)) + "::" + t.key().get(i).ddl());
                }
                row.add(rs.getString(t.key().size() + 1));
                out.add(row);
            }
        }
        return out;
    }

    /**
     * A balance change of exactly one row: a row picked earlier may have been deleted or re-keyed by
     * the other thread since, and money moved to or from no row would break the conserved total, so
     * the whole transaction is rolled back instead.
     */
    private static void moveOne(Statement s, String sql) throws SQLException {
        int n = s.executeUpdate(sql);
        if (n != 1) {
            throw new SQLException("balance change hit " + n + " rows: " + sql);
        }
    }

    private static String where(Table t, List<String> row) {
        List<String> parts = new ArrayList<>();
        for (int i = 0; i < t.key().size(); i++) {
            parts.add(t.key().get(i).quoted() + " = " + row.get(i));
        }
        return " WHERE " + String.join(" AND ", parts);
    }

    private static String update(Table t, String set, List<String> row) {
        return "UPDATE " + t.qualified() + " SET " + set + where(t, row);
    }

    private String longTransaction(Statement s, SplittableRandom r) throws SQLException {
        Table d = schema.driving();
        Column bal = d.role(Role.BALANCE);
        int transfers = 20 + r.nextInt(80);
        List<List<String>> rows = pickRows(s, d, Math.min(transfers * 2, 200));
        if (rows.size() < 2) {
            return "empty long transactions";
        }
        for (int i = 0; i < transfers; i++) {
            List<String> a = rows.get(r.nextInt(rows.size()));
            List<String> b = rows.get(r.nextInt(rows.size()));
            if (a == b) {
                continue;
            }
            long x = r.nextInt(1, 50);
            moveOne(s, update(d, bal.quoted() + " = " + bal.quoted() + " - " + x, a));
            moveOne(s, update(d, bal.quoted() + " = " + bal.quoted() + " + " + x, b));
            if (i == transfers / 2) {
                // Held open a while: the transaction spans many capture batches and commits of others.
                s.execute("SELECT pg_sleep(" + (0.1 + r.nextInt(4) / 10.0) + ")");
            }
        }
        return "long transactions";
    }

    private String shortTransaction(Statement s, SplittableRandom r, Deque<List<String>> deleted, Connection c) throws SQLException {
        Table d = schema.driving();
        Table p = schema.parent();
        Table side = schema.side();
        int dice = r.nextInt(100);
        if (p != null && dice < 14) {
            return parentChange(s, r, p);
        }
        if (side != null && dice >= 14 && dice < 26) {
            return sideChange(s, r, side, c);
        }
        Column bal = d.role(Role.BALANCE);
        Column num = d.role(Role.NUM);
        List<List<String>> rows = pickRows(s, d, 2);
        if (rows.size() < 2) {
            return "idle";
        }
        List<String> a = rows.get(0);
        List<String> b = rows.get(1);
        int op = r.nextInt(100);
        if (op < 18) {
            long x = r.nextInt(1, 100);
            moveOne(s, update(d, bal.quoted() + " = " + bal.quoted() + " - " + x, a));
            moveOne(s, update(d, bal.quoted() + " = " + bal.quoted() + " + " + x, b));
            return "transfers";
        } else if (op < 30) {
            Column label = d.role(Role.LABEL);
            Column qty = d.role(Role.QTY);
            s.execute(update(d, label.quoted() + " = " + label(r) + ", " + qty.quoted() + " = " + qty(r), a));
            return "label and quantity updates (filter flips)";
        } else if (op < 38) {
            List<Column> payload = d.payload();
            Column col = payload.get(r.nextInt(payload.size()));
            s.execute(update(d, col.quoted() + " = " + col.type().value(r), a));
            return "payload updates";
        } else if (op < 43) {
            Column code = d.role(Role.CODE);
            Column amount = d.role(Role.AMOUNT);
            // The code keeps its class: converting, converting to long only, or converting to nothing.
            String e = code.quoted();
            s.execute(update(d, e + " = CASE WHEN " + e + " IS NULL OR " + codeConverts(e, true) + " THEN " + code(r, 0)
                    + " WHEN " + codeConverts(e, false) + " THEN " + code(r, 1) + " ELSE " + code(r, 2) + " END, "
                    + amount.quoted() + " = " + Values.literal(Long.toString(r.nextLong(-1_000_000, 1_000_000))), a));
            return "code updates";
        } else if (op < 51 && p != null) {
            List<List<String>> parents = pickRows(s, p, 1);
            String ref = parents.isEmpty() || r.nextInt(10) == 0 ? "NULL" : parents.get(0).get(0);
            s.execute(update(d, d.role(Role.REF).quoted() + " = " + ref, a));
            return "foreign-key moves";
        } else if (op < 57) {
            s.execute(update(d, num.quoted() + " = " + Values.literal("N" + next.getAndIncrement()), a));
            return "renumbers";
        } else if (op < 65) {
            // Hand-over: A takes a temporary number, B takes A's, A takes B's; in one transaction or three.
            boolean one = r.nextBoolean();
            s.execute(update(d, num.quoted() + " = " + Values.literal("T" + next.getAndIncrement()), a));
            if (!one) {
                c.commit();
            }
            s.execute(update(d, num.quoted() + " = " + Values.literal(a.get(a.size() - 1)), b));
            if (!one) {
                c.commit();
            }
            s.execute(update(d, num.quoted() + " = " + Values.literal(b.get(b.size() - 1)), a));
            return one ? "number hand-overs in one transaction" : "number hand-overs in three transactions";
        } else if (op < 71) {
            Column k = d.key().get(d.key().size() - 1);
            List<String> key = SchemaGenerator.newKey(d, next.getAndIncrement(), r);
            if (schema.fullIdentity()) {
                s.execute(update(d, k.quoted() + " = " + key.get(key.size() - 1), a));
                return "primary-key changes";
            }
            // With the default replica identity the WAL has neither the old row nor an unchanged
            // out-of-line value, so the new row of a key change could not be completed; the pipeline
            // dead-letters such a change by design (it names REPLICA IDENTITY FULL as the fix). The
            // change rewrites the TOAST-able column too, so the new row is whole in the WAL.
            Column note = d.role(Role.NOTE);
            s.execute(update(d, k.quoted() + " = " + key.get(key.size() - 1) + ", " + note.quoted() + " = " + note.quoted() + " || ''", a));
            return "primary-key changes (with the note rewritten)";
        } else if (op < 77) {
            // The balance moves to B first, so the delete conserves the total. A is locked while its
            // balance is read: a concurrent transfer committed in between would otherwise be lost with it.
            long moved;
            try (ResultSet rs = s.executeQuery("SELECT " + bal.quoted() + " FROM " + d.qualified() + where(d, a) + " FOR UPDATE")) {
                if (!rs.next()) {
                    return "deletes of rows gone meanwhile";
                }
                moved = rs.getLong(1);
            }
            moveOne(s, update(d, bal.quoted() + " = " + bal.quoted() + " + " + moved, b));
            s.execute("DELETE FROM " + d.qualified() + where(d, a));
            deleted.add(a.subList(0, d.key().size()));
            return "deletes";
        } else if (op < 83) {
            List<String> key = !deleted.isEmpty() && r.nextInt(3) != 0 ? deleted.poll()
                    : SchemaGenerator.newKey(d, next.getAndIncrement(), r);
            String ref = "NULL";
            if (p != null) {
                List<List<String>> parents = pickRows(s, p, 1);
                ref = parents.isEmpty() ? "NULL" : parents.get(0).get(0);
            }
            s.execute(insertDriving(schema, key, ref, 0, next.getAndIncrement(), r));
            return "inserts and re-inserts";
        } else if (op < 88) {
            s.execute(update(d, d.role(Role.NOTE).quoted() + " = " + Values.toasted(r), a));
            return "TOAST-sized values";
        } else {
            // Touches neither the note nor the number: a TOASTed note arrives unchanged.
            s.execute(update(d, d.role(Role.QTY).quoted() + " = " + qty(r), a));
            s.execute(update(d, d.role(Role.QTY).quoted() + " = " + qty(r), b));
            return "updates leaving TOAST unchanged";
        }
    }

    private String parentChange(Statement s, SplittableRandom r, Table p) throws SQLException {
        List<List<String>> rows = pickRows(s, p, 1);
        if (rows.isEmpty()) {
            s.execute(insertParent(p, SchemaGenerator.newKey(p, next.getAndIncrement(), r), r));
            return "parent inserts";
        }
        List<String> a = rows.get(0);
        int op = r.nextInt(10);
        if (op < 4) {
            s.execute(update(p, p.role(Role.TITLE).quoted() + " = " + label(r) + ", " + p.role(Role.RANK).quoted() + " = "
                    + r.nextInt(-100, 100), a));
            return "parent renames";
        } else if (op < 5 && !p.payload().isEmpty()) {
            Column col = p.payload().get(r.nextInt(p.payload().size()));
            s.execute(update(p, col.quoted() + " = " + col.type().value(r), a));
            return "parent payload updates";
        } else if (op < 7) {
            s.execute(insertParent(p, SchemaGenerator.newKey(p, next.getAndIncrement(), r), r));
            return "parent inserts";
        } else if (op < 8) {
            // With the foreign key declared its children lose their reference; without it they dangle.
            s.execute("DELETE FROM " + p.qualified() + where(p, a));
            return "parent deletes";
        } else {
            List<String> key = SchemaGenerator.newKey(p, next.getAndIncrement(), r);
            s.execute(update(p, p.key().get(0).quoted() + " = " + key.get(0), a));
            return "parent key changes";
        }
    }

    private String sideChange(Statement s, SplittableRandom r, Table t, Connection c) throws SQLException {
        List<List<String>> rows = pickRows(s, t, 2);
        int op = r.nextInt(10);
        if (rows.size() < 2 || op < 2) {
            s.execute(insertSide(t, SchemaGenerator.newKey(t, next.getAndIncrement(), r), next.getAndIncrement(), r));
            return "side inserts";
        }
        List<String> a = rows.get(0);
        List<String> b = rows.get(1);
        Column num = t.role(Role.NUM);
        if (op < 5) {
            Column col = r.nextBoolean() ? t.role(Role.LABEL) : t.role(Role.QTY);
            s.execute(update(t, col.quoted() + " = " + (col.role() == Role.LABEL ? label(r) : qty(r)), a));
            Column pay = t.payload().get(r.nextInt(t.payload().size()));
            s.execute(update(t, pay.quoted() + " = " + pay.type().value(r), b));
            return "side updates";
        } else if (op < 6) {
            s.execute("DELETE FROM " + t.qualified() + where(t, a));
            return "side deletes";
        } else if (op < 7) {
            List<String> key = SchemaGenerator.newKey(t, next.getAndIncrement(), r);
            s.execute(update(t, t.key().get(0).quoted() + " = " + key.get(0), a));
            return "side key changes";
        } else if (op < 8) {
            s.execute(update(t, num.quoted() + " = " + Values.literal("S" + next.getAndIncrement()), a));
            return "side renumbers";
        } else {
            boolean one = r.nextBoolean();
            s.execute(update(t, num.quoted() + " = " + Values.literal("T" + next.getAndIncrement()), a));
            if (!one) {
                c.commit();
            }
            s.execute(update(t, num.quoted() + " = " + Values.literal(a.get(a.size() - 1)), b));
            if (!one) {
                c.commit();
            }
            s.execute(update(t, num.quoted() + " = " + Values.literal(b.get(b.size() - 1)), a));
            return "side hand-overs";
        }
    }
}

package dev.understudy.capture;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ColumnTypeCheckTest {
    @Test
    void timetzIsRefusedNamingTableColumnTypeAndFix() {
        String p = ColumnTypeCheck.problem("public.shifts", "starts_at", "time with time zone", "timetz", "", "starts_at");
        assertTrue(p.contains("public.shifts.starts_at has type time with time zone"), p);
        assertTrue(p.contains("Fix: "), p);
        assertTrue(p.contains("ALTER TABLE public.shifts ALTER COLUMN starts_at TYPE text"), p);
    }

    @Test
    void intervalIsRefusedUnlessAConstraintKeepsItReadable() {
        String p = ColumnTypeCheck.problem("public.t", "Span", "interval", "interval", "", "\"Span\"");
        assertTrue(p.contains("public.t.Span has type interval"), p);
        assertTrue(p.contains("ADD CHECK (isfinite(\"Span\") AND abs(extract(hour FROM \"Span\")) < 2147483648)"), p);
        // As pg_get_constraintdef prints the suggested constraint.
        assertNull(ColumnTypeCheck.problem("public.t", "Span", "interval", "interval",
                "CHECK ((isfinite(\"Span\") AND (abs(EXTRACT(hour FROM \"Span\")) < (2147483648)::numeric)))", "\"Span\""));
        assertTrue(ColumnTypeCheck.problem("public.t", "Span", "interval", "interval", "CHECK (isfinite(\"Span\"))", "\"Span\"") != null);
    }

    @Test
    void otherTypesPass() {
        assertNull(ColumnTypeCheck.problem("public.t", "c", "timestamp with time zone", "timestamptz", "", "c"));
        assertNull(ColumnTypeCheck.problem("public.t", "c", "time with time zone[]", "_timetz", "", "c"));
    }
}

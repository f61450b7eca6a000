package dev.understudy.writer;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The COPY text format of a value (PostgreSQL docs, "COPY", "Text Format"), as the bulk initial load writes it. */
class CopyTextTest {
    private static String copyText(String value) {
        StringBuilder out = new StringBuilder();
        TableApplier.appendCopyText(out, value);
        return out.toString();
    }

    @Test
    void escapesWhatWouldEndAFieldOrARowAndTheBackslash() {
        assertEquals("\\N", copyText(null), "null");
        assertEquals("", copyText(""), "an empty string is not null");
        assertEquals("\\\\N", copyText("\\N"), "the text \\N, not null");
        assertEquals("a\\tb\\nc\\rd\\\\e", copyText("a\tb\nc\rd\\e"));
        assertEquals("quote ' \" ; drop table x", copyText("quote ' \" ; drop table x"), "nothing else is escaped");
        assertEquals("ünï 𝄞", copyText("ünï 𝄞"));
        assertEquals("\\\\x00ff", copyText("\\x00ff"), "bytea hex text keeps its backslash through COPY");
    }
}

package dev.understudy.transform;

import dev.understudy.schemas.ChangeEnvelope;

import java.nio.ByteBuffer;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;
import java.util.List;

/**
 * Debezium's marker for an unchanged TOASTed column value, and how to recognise it in a decoded
 * legacy row.
 *
 * <p>PostgreSQL does not log an unchanged out-of-line (TOAST) value in an UPDATE unless the column
 * belongs to the table's replica identity; pgoutput sends such a column as 'u' (unchanged TOAST
 * datum) and the Debezium PostgreSQL connector replaces it with the value of its
 * {@code unavailable.value.placeholder} property, converted to the column's type
 * ({@code io.debezium.connector.postgresql.UnchangedToastedPlaceholder}):
 * <ul>
 *   <li>string-typed columns (text, varchar, json, jsonb, xml, uuid, ...): the placeholder string;</li>
 *   <li>bytea: the placeholder's UTF-8 bytes (a {@link ByteBuffer} after the capture's Avro conversion);</li>
 *   <li>arrays: a one-element list holding the placeholder string, or for arrays of numbers a list
 *   of the placeholder's bytes as numbers.</li>
 * </ul>
 * The legacy capture's Debezium configuration ({@code dev.understudy.capture.CaptureSettings}) sets
 * {@code unavailable.value.placeholder} to the same shared constant,
 * {@link dev.understudy.schemas.ChangeEnvelope#UNAVAILABLE_VALUE_PLACEHOLDER} (Debezium's default), so
 * the value the connector writes is the one recognised here.
 */
public final class ToastPlaceholders {
    /** The value of Debezium's {@code unavailable.value.placeholder}; Debezium's default. */
    public static final String PLACEHOLDER = ChangeEnvelope.UNAVAILABLE_VALUE_PLACEHOLDER;

    /** The Debezium property the capture sets to {@link #PLACEHOLDER}. */
    public static final String DEBEZIUM_PROPERTY = "unavailable.value.placeholder";

    private static final byte[] BYTES = PLACEHOLDER.getBytes(StandardCharsets.UTF_8);

    private ToastPlaceholders() {
    }

    /** Whether a decoded Avro field value is the placeholder in any of the forms above. */
    public static boolean isPlaceholder(Object value) {
        if (value instanceof CharSequence s) {
            return PLACEHOLDER.contentEquals(s);
        }
        if (value instanceof ByteBuffer b) {
            return b.remaining() == BYTES.length && b.duplicate().equals(ByteBuffer.wrap(BYTES));
        }
        if (value instanceof byte[] b) {
            return Arrays.equals(b, BYTES);
        }
        if (value instanceof List<?> list) {
            if (list.size() == 1) {
                return isPlaceholder(list.get(0));
            }
            if (list.size() == BYTES.length) {
                for (int i = 0; i < BYTES.length; i++) {
                    if (!(list.get(i) instanceof Number n) || n.longValue() != BYTES[i]) {
                        return false;
                    }
                }
                return true;
            }
        }
        return false;
    }
}

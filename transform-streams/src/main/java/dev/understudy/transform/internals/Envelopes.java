package dev.understudy.transform.internals;

import dev.understudy.schemas.ChangeEnvelope;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;

/** Checked reads of a decoded {@link ChangeEnvelope change envelope}. */
public final class Envelopes {
    private Envelopes() {
    }

    /** The op of the envelope; fails when the record is not a change envelope. */
    public static String op(GenericRecord envelope) {
        Schema schema = envelope.getSchema();
        for (String f : new String[]{ChangeEnvelope.BEFORE, ChangeEnvelope.AFTER, ChangeEnvelope.OP, ChangeEnvelope.SOURCE}) {
            if (schema.getField(f) == null) {
                throw new MalformedChangeException("Value is a " + schema.getFullName()
                        + " record, not a change envelope: it has no '" + f + "' field");
            }
        }
        Object op = envelope.get(ChangeEnvelope.OP);
        if (op == null) {
            throw new MalformedChangeException("Change envelope has a null op");
        }
        return op.toString();
    }

    public static GenericRecord before(GenericRecord envelope) {
        return (GenericRecord) envelope.get(ChangeEnvelope.BEFORE);
    }

    public static GenericRecord after(GenericRecord envelope) {
        return (GenericRecord) envelope.get(ChangeEnvelope.AFTER);
    }

    /** The after image of a c, u or r change; fails when it is missing. */
    public static GenericRecord requiredAfter(GenericRecord envelope, String op) {
        GenericRecord after = after(envelope);
        if (after == null) {
            throw new MalformedChangeException("Change with op '" + op + "' has no 'after' row image; "
                    + "creates, updates and snapshot reads must carry the new row");
        }
        return after;
    }

    /** The source block; fails when missing. */
    public static GenericRecord source(GenericRecord envelope) {
        Object source = envelope.get(ChangeEnvelope.SOURCE);
        if (!(source instanceof GenericRecord s)) {
            throw new MalformedChangeException("Change envelope has no 'source' block");
        }
        return s;
    }

    /** A non-null long of the source block (lsn). */
    public static long sourceLong(GenericRecord source, String field) {
        Object v = source.getSchema().getField(field) == null ? null : source.get(field);
        if (!(v instanceof Number n)) {
            throw new MalformedChangeException("Change envelope's source block has no '" + field + "'");
        }
        return n.longValue();
    }

    /** A nullable long of the source block (txId). */
    public static Long sourceOptionalLong(GenericRecord source, String field) {
        Object v = source.getSchema().getField(field) == null ? null : source.get(field);
        return v instanceof Number n ? n.longValue() : null;
    }

    /** A boolean of the source block (snapshot); absent reads as false. */
    public static boolean sourceFlag(GenericRecord source, String field) {
        Object v = source.getSchema().getField(field) == null ? null : source.get(field);
        return Boolean.TRUE.equals(v);
    }

    public static boolean isUpsert(String op) {
        return ChangeEnvelope.OP_CREATE.equals(op) || ChangeEnvelope.OP_UPDATE.equals(op) || ChangeEnvelope.OP_READ.equals(op);
    }

    public static MalformedChangeException unknownOp(String op) {
        return new MalformedChangeException("Change envelope has op '" + op + "'; expected one of c, u, d, r");
    }
}

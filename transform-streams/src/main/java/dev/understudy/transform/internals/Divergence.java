package dev.understudy.transform.internals;

import dev.understudy.schemas.RowValues;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericRecord;

import java.util.ArrayList;
import java.util.List;
import java.util.Objects;

/**
 * How one key's expected and actual rows disagree: the kind, and for MISMATCH the differing
 * fields. Symbols follow the {@code DivergenceKind} enum of {@code divergence-event.avsc}.
 */
public record Divergence(Kind kind, List<FieldDifference> fields) {

    public enum Kind { MISSING, UNEXPECTED, MISMATCH, RESOLVED }

    /** One differing field, with expected and actual values as {@link RowValues#text normalised text}. */
    public record FieldDifference(String name, String expected, String actual) {
    }

    public Divergence {
        fields = List.copyOf(fields);
    }

    /**
     * Compares the rows over the contract's fields, by name, as normalised text: Avro Utf8 and
     * String, or int and long, of equal value compare equal, and columns of the target that the
     * contract does not know are ignored.
     *
     * @return null when the rows agree (including both absent)
     */
    public static Divergence between(GenericRecord expected, GenericRecord actual, Schema contract) {
        if (expected == null && actual == null) {
            return null;
        }
        if (actual == null) {
            return new Divergence(Kind.MISSING, List.of());
        }
        if (expected == null) {
            return new Divergence(Kind.UNEXPECTED, List.of());
        }
        List<FieldDifference> diffs = new ArrayList<>();
        for (Schema.Field f : contract.getFields()) {
            String e = RowValues.fieldText(expected, f.name());
            String a = RowValues.fieldText(actual, f.name());
            if (!Objects.equals(e, a)) {
                diffs.add(new FieldDifference(f.name(), e, a));
            }
        }
        return diffs.isEmpty() ? null : new Divergence(Kind.MISMATCH, diffs);
    }
}

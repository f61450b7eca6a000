package dev.understudy.writer;

import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.junit.jupiter.api.Test;

import java.math.BigInteger;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.List;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;

class ColumnTextTest {

    @Test
    void rendersWhatPostgresqlReads() {
        Schema date = LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT));
        Schema micros = LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
        Schema time = LogicalTypes.timeMicros().addToSchema(Schema.create(Schema.Type.LONG));
        Schema decimal = LogicalTypes.decimal(10, 2).addToSchema(Schema.create(Schema.Type.BYTES));
        Schema nullableMicros = Schema.createUnion(Schema.create(Schema.Type.NULL), micros);

        assertNull(ColumnText.text(null, nullableMicros));
        assertEquals("1969-12-31", ColumnText.text(-1, date));
        assertEquals("1969-12-31T23:59:59.999999Z", ColumnText.text(-1L, nullableMicros));
        assertEquals("13:45:10.000001", ColumnText.text(49_510_000_001L, time));
        assertEquals("-12345.67", ColumnText.text(ByteBuffer.wrap(BigInteger.valueOf(-1234567).toByteArray()), decimal));
        assertEquals("\\x00ff", ColumnText.text(ByteBuffer.wrap(new byte[]{0, (byte) 0xff}), Schema.create(Schema.Type.BYTES)));
        assertEquals("42", ColumnText.text(42L, Schema.create(Schema.Type.LONG)));
    }

    @Test
    void rendersArraysAsPostgresqlArrayLiterals() {
        Schema strings = SchemaBuilder.array().items().nullable().stringType();
        assertEquals("{\"a\",NULL,\"say \\\"hi\\\"\",\"back\\\\slash\"}",
                ColumnText.text(new GenericData.Array<>(strings, Arrays.asList("a", null, "say \"hi\"", "back\\slash")), strings));
        Schema nested = SchemaBuilder.array().items().array().items().intType();
        assertEquals("{{\"1\",\"2\"},{\"3\"}}", ColumnText.text(List.of(List.of(1, 2), List.of(3)), nested));
    }
}

package dev.understudy.schemas;

import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.avro.util.Utf8;
import org.junit.jupiter.api.Test;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.List;
import java.util.Map;
import java.util.SplittableRandom;

import static org.junit.jupiter.api.Assertions.assertArrayEquals;
import static org.junit.jupiter.api.Assertions.assertThrows;

/** The serializer's record writer writes what Avro's generic writer writes, byte for byte, and fails where it fails. */
class AvroSerializerTest {
    private static final Schema INNER = SchemaBuilder.record("Inner").namespace("t").fields()
            .optionalLong("n").optionalString("s").endRecord();
    private static final Schema COLOR = SchemaBuilder.enumeration("Color").namespace("t").symbols("RED", "GREEN");
    private static final Schema FIXED = SchemaBuilder.fixed("Four").namespace("t").size(4);
    private static final Schema TS = LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
    private static final Schema DATE = LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT));
    private static final Schema DECIMAL = LogicalTypes.decimal(20, 4).addToSchema(Schema.create(Schema.Type.BYTES));

    private static Schema nullable(Schema s, boolean nullFirst) {
        Schema n = Schema.create(Schema.Type.NULL);
        return Schema.createUnion(nullFirst ? List.of(n, s) : List.of(s, n));
    }

    private static final Schema ROW = SchemaBuilder.record("Row").namespace("t").fields()
            .name("l").type(nullable(Schema.create(Schema.Type.LONG), true)).withDefault(null)
            .name("i").type(nullable(Schema.create(Schema.Type.INT), false)).noDefault()
            .name("s").type(nullable(Schema.create(Schema.Type.STRING), true)).withDefault(null)
            .name("b").type(nullable(Schema.create(Schema.Type.BYTES), true)).withDefault(null)
            .name("z").type(nullable(Schema.create(Schema.Type.BOOLEAN), true)).withDefault(null)
            .name("d").type(nullable(Schema.create(Schema.Type.DOUBLE), true)).withDefault(null)
            .name("f").type(nullable(Schema.create(Schema.Type.FLOAT), true)).withDefault(null)
            .name("ts").type(nullable(TS, true)).withDefault(null)
            .name("date").type(nullable(DATE, true)).withDefault(null)
            .name("dec").type(nullable(DECIMAL, true)).withDefault(null)
            .name("inner").type(nullable(INNER, true)).withDefault(null)
            .name("color").type(nullable(COLOR, true)).withDefault(null)
            .name("fixed").type(nullable(FIXED, true)).withDefault(null)
            .name("list").type(nullable(Schema.createArray(nullable(Schema.create(Schema.Type.LONG), true)), true)).withDefault(null)
            .name("map").type(nullable(Schema.createMap(Schema.create(Schema.Type.STRING)), true)).withDefault(null)
            .name("wide").type(Schema.createUnion(Schema.create(Schema.Type.NULL), Schema.create(Schema.Type.LONG),
                    Schema.create(Schema.Type.STRING))).withDefault(null)
            .requiredLong("plain")
            .endRecord();

    @Test
    void writesTheBytesOfAvrosGenericWriter() throws IOException {
        SplittableRandom random = new SplittableRandom(20261208L);
        AvroSerializer.RecordWriter fast = new AvroSerializer.RecordWriter(ROW);
        GenericDatumWriter<GenericRecord> avro = new GenericDatumWriter<>(ROW);
        for (int n = 0; n < 5_000; n++) {
            GenericRecord row = randomRow(random);
            assertArrayEquals(bytes(avro, row), bytes(fast, row), () -> "row " + row);
        }
    }

    @Test
    void refusesWhatAvroRefuses() {
        GenericRecord row = randomRow(new SplittableRandom(1));
        row.put("l", 5); // an Integer where the union holds long: no branch fits
        AvroSerializer.RecordWriter fast = new AvroSerializer.RecordWriter(ROW);
        assertThrows(org.apache.avro.UnresolvedUnionException.class, () -> bytes(fast, row));
        GenericRecord other = randomRow(new SplittableRandom(2));
        other.put("inner", new GenericData.Record(SchemaBuilder.record("Other").namespace("t").fields().optionalLong("n").endRecord()));
        assertThrows(org.apache.avro.UnresolvedUnionException.class, () -> bytes(fast, other));
    }

    @Test
    void aRecordThatFailsHalfwayLeavesNothingInTheNext() {
        RegistryClient registry = new InMemoryRegistryClient();
        AvroSerializer serializer = new AvroSerializer(registry, false);
        AvroDeserializer deserializer = new AvroDeserializer(registry);
        GenericRecord good = randomRow(new SplittableRandom(3));
        GenericRecord bad = randomRow(new SplittableRandom(4));
        bad.put("s", "a long string written before the failure " + "x".repeat(500));
        bad.put("plain", "not a long"); // fails after the string was encoded
        assertThrows(org.apache.kafka.common.errors.SerializationException.class, () -> serializer.serialize("t", bad));
        org.junit.jupiter.api.Assertions.assertEquals(good.toString(), deserializer.deserialize("t", serializer.serialize("t", good)).toString());
    }

    private static GenericRecord randomRow(SplittableRandom r) {
        GenericData.Record row = new GenericData.Record(ROW);
        row.put("l", r.nextBoolean() ? null : r.nextLong());
        row.put("i", r.nextBoolean() ? null : r.nextInt());
        row.put("s", r.nextInt(3) == 0 ? null : r.nextBoolean() ? "s" + r.nextLong() : new Utf8("u" + r.nextInt()));
        row.put("b", r.nextBoolean() ? null : ByteBuffer.wrap(new byte[]{(byte) r.nextInt(), 2, 3}));
        row.put("z", r.nextBoolean() ? null : r.nextBoolean());
        row.put("d", r.nextBoolean() ? null : r.nextDouble());
        row.put("f", r.nextBoolean() ? null : (float) r.nextDouble());
        row.put("ts", r.nextBoolean() ? null : r.nextLong());
        row.put("date", r.nextBoolean() ? null : r.nextInt());
        row.put("dec", r.nextBoolean() ? null : ByteBuffer.wrap(new java.math.BigInteger(64, new java.util.Random(r.nextLong())).toByteArray()));
        if (r.nextBoolean()) {
            GenericData.Record inner = new GenericData.Record(INNER);
            inner.put("n", r.nextBoolean() ? null : r.nextLong());
            inner.put("s", r.nextBoolean() ? null : "x");
            row.put("inner", inner);
        }
        row.put("color", r.nextBoolean() ? null : new GenericData.EnumSymbol(COLOR, r.nextBoolean() ? "RED" : "GREEN"));
        row.put("fixed", r.nextBoolean() ? null : new GenericData.Fixed(FIXED, new byte[]{1, 2, 3, (byte) r.nextInt()}));
        row.put("list", r.nextBoolean() ? null : List.of(r.nextLong(), r.nextLong()));
        row.put("map", r.nextBoolean() ? null : Map.of("k", "v" + r.nextInt()));
        row.put("wide", switch (r.nextInt(3)) {
            case 0 -> null;
            case 1 -> r.nextLong();
            default -> "w" + r.nextInt();
        });
        row.put("plain", r.nextLong());
        return row;
    }

    private static byte[] bytes(GenericDatumWriter<GenericRecord> writer, GenericRecord row) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, null);
        writer.write(row, encoder);
        encoder.flush();
        return out.toByteArray();
    }
}

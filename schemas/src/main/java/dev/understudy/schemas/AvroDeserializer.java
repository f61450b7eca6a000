package dev.understudy.schemas;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumReader;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryDecoder;
import org.apache.avro.io.DecoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Deserializer;

import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Reads Confluent wire-format Avro with the writer's schema, fetched from the registry by id.
 * A null payload (tombstone) reads as null.
 */
public final class AvroDeserializer implements Deserializer<GenericRecord> {
    private final RegistryClient registry;
    private final Map<Integer, GenericDatumReader<GenericRecord>> readers = new ConcurrentHashMap<>();
    private final ThreadLocal<BinaryDecoder> decoders = new ThreadLocal<>();

    public AvroDeserializer(RegistryClient registry) {
        this.registry = registry;
    }

    @Override
    public GenericRecord deserialize(String topic, byte[] data) {
        if (data == null) {
            return null;
        }
        int id = WireFormat.schemaId(data, "topic '" + topic + "'");
        GenericDatumReader<GenericRecord> reader = readers.computeIfAbsent(id, i -> {
            Schema schema = registry.byId(i);
            return new GenericDatumReader<>(schema);
        });
        BinaryDecoder decoder = DecoderFactory.get().binaryDecoder(data, WireFormat.HEADER_SIZE,
                data.length - WireFormat.HEADER_SIZE, decoders.get());
        decoders.set(decoder);
        try {
            return reader.read(null, decoder);
        } catch (Exception e) {
            throw new SerializationException("Cannot decode an Avro payload with schema id " + id + " from topic '"
                    + topic + "': " + e.getMessage(), e);
        }
    }
}

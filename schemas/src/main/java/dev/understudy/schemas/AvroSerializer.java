package dev.understudy.schemas;

import org.apache.avro.Schema;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.IdentityHashMap;
import java.util.Map;

/**
 * Serializes Avro records in the Confluent wire format, registering each writer schema under the
 * subject given by {@link SubjectNaming} (TopicNameStrategy: {@code <topic>-key} / {@code <topic>-value}).
 * A null record serializes to null, so deletes travel as Kafka tombstones.
 */
public final class AvroSerializer implements Serializer<GenericRecord> {
    private final RegistryClient registry;
    private final boolean isKey;
    // Schemas are immutable and the pipeline reuses the same instances, so identity lookups avoid
    // hashing a schema per record; the registry client caches by equality behind this.
    private final Map<Schema, Map<String, Integer>> ids = new IdentityHashMap<>();
    private final Map<Schema, GenericDatumWriter<GenericRecord>> writers = new IdentityHashMap<>();
    private final ThreadLocal<ByteArrayOutputStream> buffers = ThreadLocal.withInitial(() -> new ByteArrayOutputStream(256));
    private final ThreadLocal<BinaryEncoder> encoders = new ThreadLocal<>();

    public AvroSerializer(RegistryClient registry, boolean isKey) {
        this.registry = registry;
        this.isKey = isKey;
    }

    @Override
    public byte[] serialize(String topic, GenericRecord record) {
        if (record == null) {
            return null;
        }
        Schema schema = record.getSchema();
        int id = schemaId(topic, schema);
        GenericDatumWriter<GenericRecord> writer;
        synchronized (writers) {
            writer = writers.computeIfAbsent(schema, GenericDatumWriter::new);
        }
        ByteArrayOutputStream out = buffers.get();
        out.reset();
        out.write(WireFormat.MAGIC_BYTE);
        out.write(id >>> 24);
        out.write(id >>> 16);
        out.write(id >>> 8);
        out.write(id);
        BinaryEncoder encoder = EncoderFactory.get().directBinaryEncoder(out, encoders.get());
        encoders.set(encoder);
        try {
            writer.write(record, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException e) {
            throw new SerializationException("Cannot serialize a " + schema.getFullName() + " record for topic '" + topic
                    + "' (" + (isKey ? "key" : "value") + "): " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    private int schemaId(String topic, Schema schema) {
        synchronized (ids) {
            Integer id = ids.computeIfAbsent(schema, s -> new java.util.HashMap<>()).get(topic);
            if (id != null) {
                return id;
            }
        }
        int id = registry.register(SubjectNaming.topicName(topic, isKey), schema);
        synchronized (ids) {
            ids.get(schema).put(topic, id);
        }
        return id;
    }
}

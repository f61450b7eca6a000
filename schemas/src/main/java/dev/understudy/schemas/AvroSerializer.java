package dev.understudy.schemas;

import org.apache.avro.Conversion;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericDatumWriter;
import org.apache.avro.generic.GenericEnumSymbol;
import org.apache.avro.generic.GenericFixed;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.io.BinaryEncoder;
import org.apache.avro.io.Encoder;
import org.apache.avro.io.EncoderFactory;
import org.apache.kafka.common.errors.SerializationException;
import org.apache.kafka.common.serialization.Serializer;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.util.Arrays;
import java.util.Collection;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * Serializes Avro records in the Confluent wire format. The subject comes from the client's
 * {@link SerdeConfig#subjectNameStrategy()} (TopicNameStrategy by default). With auto-register on,
 * a schema the subject lacks is registered; off, it must already be registered. With
 * use-latest-version, records are written with the subject's latest schema, fields matched by name.
 * A null record serializes to null, so deletes travel as Kafka tombstones.
 */
public final class AvroSerializer implements Serializer<GenericRecord> {
    private final RegistryClient registry;
    private final boolean isKey;
    // Schemas are immutable and the pipeline reuses the same instances, so identity lookups avoid
    // hashing a schema per record; the registry client caches by equality behind this.
    private final Map<Schema, Map<String, Integer>> ids = new IdentityHashMap<>();
    private final Map<Schema, GenericDatumWriter<GenericRecord>> writers = new IdentityHashMap<>();
    private final ThreadLocal<Buffer> buffers = ThreadLocal.withInitial(() -> new Buffer(256));
    private final ThreadLocal<BinaryEncoder> encoders = new ThreadLocal<>();
    // use.latest.version: per topic, the latest schema, fetched once per serializer as Confluent's
    // serializer does (it caches the latest version for latest.cache.ttl.sec, unbounded by default).
    private final Map<String, Schema> latestByTopic = new ConcurrentHashMap<>();

    public AvroSerializer(RegistryClient registry, boolean isKey) {
        this.registry = registry;
        this.isKey = isKey;
    }

    @Override
    public byte[] serialize(String topic, GenericRecord record) {
        if (record == null) {
            return null;
        }
        SerdeConfig config = registry.serdeConfig();
        if (config.useLatestVersion()) {
            record = asLatest(topic, record, config);
        }
        Schema schema = record.getSchema();
        int id = schemaId(topic, schema, config);
        GenericDatumWriter<GenericRecord> writer;
        synchronized (writers) {
            writer = writers.computeIfAbsent(schema, RecordWriter::new);
        }
        Buffer out = buffers.get();
        out.reset();
        out.write(WireFormat.MAGIC_BYTE);
        out.write(id >>> 24);
        out.write(id >>> 16);
        out.write(id >>> 8);
        out.write(id);
        // Buffered: the encoder gathers a record's bytes and hands them over in a few writes, where the
        // direct encoder writes each value's bytes to the stream on its own.
        BinaryEncoder encoder = EncoderFactory.get().binaryEncoder(out, encoders.get());
        encoders.set(encoder);
        try {
            writer.write(record, encoder);
            encoder.flush();
        } catch (IOException | RuntimeException e) {
            // A record that failed halfway leaves bytes in the encoder's buffer, which reusing it would
            // hand to the next record's stream: the next record gets an encoder of its own.
            encoders.remove();
            throw new SerializationException("Cannot serialize a " + schema.getFullName() + " record for topic '" + topic
                    + "' (" + (isKey ? "key" : "value") + "): " + e.getMessage(), e);
        }
        return out.toByteArray();
    }

    /** The record rewritten with the subject's latest schema, fields matched by name (defaults for the rest). */
    private GenericRecord asLatest(String topic, GenericRecord record, SerdeConfig config) {
        Schema latest = latestByTopic.computeIfAbsent(topic, t -> {
            String subject = config.subjectNameStrategy().subject(t, isKey, record.getSchema());
            return registry.latest(subject).map(RegistryClient.Registered::schema).orElseThrow(() -> new SerializationException(
                    "use.latest.version is on (registry.use.latest.version=true) but subject '" + subject
                            + "' has no registered schema; register the contract first or turn use-latest-version off"));
        });
        if (latest.equals(record.getSchema())) {
            return record;
        }
        GenericData.Record out = new GenericData.Record(latest);
        for (Schema.Field f : latest.getFields()) {
            Schema.Field own = record.getSchema().getField(f.name());
            if (own != null) {
                out.put(f.pos(), record.get(own.pos()));
            } else if (f.hasDefaultValue()) {
                out.put(f.pos(), GenericData.get().getDefaultValue(f));
            } else {
                throw new SerializationException("Cannot write a " + record.getSchema().getFullName() + " record with the latest schema of topic '"
                        + topic + "': its field '" + f.name() + "' has no value in the record and no default");
            }
        }
        return out;
    }

    private int schemaId(String topic, Schema schema, SerdeConfig config) {
        synchronized (ids) {
            Integer id = ids.computeIfAbsent(schema, s -> new HashMap<>()).get(topic);
            if (id != null) {
                return id;
            }
        }
        String subject = config.subjectNameStrategy().subject(topic, isKey, schema);
        int id;
        if (config.autoRegister()) {
            try {
                id = registry.register(subject, schema);
            } catch (RegistryException e) {
                // Kafka's contract: serializers fail with SerializationException; the registry's
                // refusal (e.g. 409 incompatible) or outage stays in the cause for callers to tell apart.
                throw new SerializationException("Cannot register schema " + schema.getFullName() + " under subject '" + subject
                        + "' for topic '" + topic + "': " + e.getMessage(), e);
            }
        } else {
            id = registry.lookup(subject, schema).orElseThrow(() -> new SerializationException("Schema " + schema.getFullName()
                    + " is not registered under subject '" + subject + "' and auto-registration is off"
                    + " (registry.auto.register=false); register it first (e.g. from the contract in schemas/) or turn auto-registration on"));
        }
        synchronized (ids) {
            ids.get(schema).put(topic, id);
        }
        return id;
    }

    /**
     * Avro's generic writer, writing the same bytes (AvroSerializerTest compares them) without two
     * lookups it makes for every value, which were a tenth of the cost of serializing a row:
     * the union branch of a value in a nullable union ({@code ["null", T]}, every optional column) is
     * known from the value's class when that class is T's own, where Avro finds the branch by the
     * value's type name; and a logical type's conversion is looked up only when GenericData has any
     * registered ({@link GenericData#getConversions()} is a live view of them).
     */
    static final class RecordWriter extends GenericDatumWriter<GenericRecord> {
        private final Collection<Conversion<?>> conversions;

        RecordWriter(Schema schema) {
            super(schema, GenericData.get());
            this.conversions = getData().getConversions();
        }

        @Override
        protected void write(Schema schema, Object datum, Encoder out) throws IOException {
            if (datum != null && schema.getLogicalType() != null && !conversions.isEmpty()) {
                super.write(schema, datum, out);
            } else {
                writeWithoutConversion(schema, datum, out);
            }
        }

        @Override
        protected int resolveUnion(Schema union, Object datum) {
            List<Schema> types = union.getTypes();
            if (types.size() == 2) {
                int nullAt = types.get(0).getType() == Schema.Type.NULL ? 0 : types.get(1).getType() == Schema.Type.NULL ? 1 : -1;
                if (nullAt >= 0) {
                    if (datum == null) {
                        return nullAt;
                    }
                    if (isOwn(types.get(1 - nullAt), datum)) {
                        return 1 - nullAt;
                    }
                }
            }
            return super.resolveUnion(union, datum);
        }

        /** Whether {@code datum} is a value of {@code schema} by its class alone (else Avro resolves the union itself). */
        private static boolean isOwn(Schema schema, Object datum) {
            return switch (schema.getType()) {
                case LONG -> datum instanceof Long;
                case INT -> datum instanceof Integer;
                case STRING -> datum instanceof CharSequence;
                case BYTES -> datum instanceof ByteBuffer;
                case BOOLEAN -> datum instanceof Boolean;
                case DOUBLE -> datum instanceof Double;
                case FLOAT -> datum instanceof Float;
                case RECORD -> datum instanceof GenericRecord r && r.getSchema() == schema;
                case ENUM -> datum instanceof GenericEnumSymbol<?> e && e.getSchema() == schema;
                case FIXED -> datum instanceof GenericFixed f && f.getSchema() == schema;
                default -> false;
            };
        }
    }

    /** A byte array stream without ByteArrayOutputStream's locking: each thread writes its own. */
    private static final class Buffer extends ByteArrayOutputStream {
        Buffer(int size) {
            super(size);
        }

        @Override
        public void write(int b) {
            if (count == buf.length) {
                buf = Arrays.copyOf(buf, buf.length * 2);
            }
            buf[count++] = (byte) b;
        }

        @Override
        public void write(byte[] b, int off, int len) {
            if (count + len > buf.length) {
                buf = Arrays.copyOf(buf, Math.max(buf.length * 2, count + len));
            }
            System.arraycopy(b, off, buf, count, len);
            count += len;
        }

        @Override
        public void reset() {
            count = 0;
        }

        @Override
        public byte[] toByteArray() {
            return Arrays.copyOf(buf, count);
        }
    }
}

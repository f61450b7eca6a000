package dev.understudy.schemas;

import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.common.serialization.Serde;
import org.apache.kafka.common.serialization.Serdes;

/** Key and value serdes over one registry client. */
public final class AvroSerde {
    private AvroSerde() {
    }

    public static Serde<GenericRecord> keys(RegistryClient registry) {
        return Serdes.serdeFrom(new AvroSerializer(registry, true), new AvroDeserializer(registry));
    }

    public static Serde<GenericRecord> values(RegistryClient registry) {
        return Serdes.serdeFrom(new AvroSerializer(registry, false), new AvroDeserializer(registry));
    }
}

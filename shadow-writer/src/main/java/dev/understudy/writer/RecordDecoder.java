package dev.understudy.writer;

import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.RegistryException;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;

import java.util.Map;

/**
 * Turns a consumed record into a {@link RowChange}, or into a {@link DeadLetter} when it cannot be
 * one (undecodable key or value, missing key or version header). A registry that cannot be reached
 * is not the record's fault: {@link #decode} throws {@link RegistryException} for it, and the writer
 * retries rather than dead-letter good records.
 */
public final class RecordDecoder {
    private final AvroDeserializer deserializer;
    private final Map<String, String> topicTables;

    /** @param topicTables topic to schema-qualified target table */
    public RecordDecoder(RegistryClient registry, Map<String, String> topicTables) {
        this.deserializer = new AvroDeserializer(registry);
        this.topicTables = Map.copyOf(topicTables);
    }

    /** Either a change or a dead letter; exactly one is non-null. */
    public record Decoded(RowChange change, DeadLetter deadLetter) {
    }

    /**
     * Decodes one record.
     *
     * @throws RegistryException when the registry is unreachable or failing (HTTP 5xx or 429): retry later
     */
    public Decoded decode(ConsumerRecord<byte[], byte[]> record) {
        String table = topicTables.get(record.topic());
        if (table == null) {
            throw new IllegalArgumentException("No target table is configured for topic " + record.topic());
        }
        // Long.MIN_VALUE marks a missing header: any other value orders (repair writes 0 after
        // forgetting a key's version).
        long version = ChangeHeaders.getLong(record.headers(), ChangeHeaders.VERSION, Long.MIN_VALUE);
        long lsn = ChangeHeaders.getLong(record.headers(), ChangeHeaders.LSN, -1);
        long joinedVersion = ChangeHeaders.getLong(record.headers(), ChangeHeaders.JOINED_VERSION, 0);
        // Absent on rows of producers that predate generations (or lineages): generation 0, lineage 0.
        ChangeHeaders.Stamp stamp = ChangeHeaders.Stamp.of(record.headers());
        if (record.key() == null) {
            return dead(record, table, version, lsn, null, "Record has no key; records on " + record.topic()
                    + " must be keyed by the primary key of " + table + ". Fix the producer of this topic");
        }
        GenericRecord key;
        try {
            key = deserializer.deserialize(record.topic(), record.key());
        } catch (RuntimeException e) {
            rethrowIfTransient(e);
            return dead(record, table, version, lsn, null, "Key deserialization failed (" + e.getMessage()
                    + ") -- the key is not Avro in the Confluent wire format with a schema this registry knows; "
                    + "check the producer's serializer and registry, then replay the record from the dead-letter topic");
        }
        String keyJson;
        try {
            keyJson = KeyJson.encode(key);
        } catch (RuntimeException e) {
            return dead(record, table, version, lsn, null, "Key deserialization failed: the key is not a record ("
                    + e + "); key the records with a record of the primary key");
        }
        GenericRecord value = null;
        if (record.value() != null) {
            try {
                value = deserializer.deserialize(record.topic(), record.value());
            } catch (RuntimeException e) {
                rethrowIfTransient(e);
                return dead(record, table, version, lsn, keyJson, "Value deserialization failed (" + e.getMessage()
                        + ") -- the value is not Avro in the Confluent wire format with a schema this registry knows; "
                        + "check the producer's serializer and registry, then replay the record from the dead-letter topic");
            }
        }
        if (version == Long.MIN_VALUE) {
            return dead(record, table, version, lsn, keyJson, "Missing or malformed header " + ChangeHeaders.VERSION
                    + " (an 8-byte big-endian long): without it the change cannot be ordered against others for the same key. "
                    + "Records on new-schema topics must be written by the transform, which sets it");
        }
        return new Decoded(new RowChange(table, key, value, version, joinedVersion, stamp.generation(), stamp.lineage(), lsn, record.topic(), record.partition(),
                record.offset(), record.key(), record.value()), null);
    }

    private static void rethrowIfTransient(RuntimeException e) {
        RegistryException r = RegistryException.transientCause(e);
        if (r != null) {
            throw r;
        }
    }

    private static Decoded dead(ConsumerRecord<byte[], byte[]> record, String table, long version, long lsn,
                                String keyJson, String error) {
        return new Decoded(null, new DeadLetter(table, record.topic(), record.partition(), record.offset(), version, lsn,
                keyJson, record.key(), record.value(), null, error, System.currentTimeMillis()));
    }
}

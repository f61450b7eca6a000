package dev.understudy.writer;

import dev.understudy.schemas.AvroSerializer;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.InMemoryRegistryClient;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.RegistryException;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.record.TimestampType;
import org.junit.jupiter.api.Test;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.Map;
import java.util.Optional;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RecordDecoderTest {
    private static final String TOPIC = "understudy.new.public.users";
    private static final Schema KEY = KeySchemas.of("public", "users", List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));
    private static final Schema VALUE = Contracts.load("users.avsc");

    private final InMemoryRegistryClient registry = new InMemoryRegistryClient();
    private final AvroSerializer keys = new AvroSerializer(registry, true);
    private final AvroSerializer values = new AvroSerializer(registry, false);
    private final RecordDecoder decoder = new RecordDecoder(registry, Map.of(TOPIC, "public.users"));

    private ConsumerRecord<byte[], byte[]> record(byte[] key, byte[] value, Long version, Long lsn) {
        RecordHeaders headers = new RecordHeaders();
        if (version != null) {
            headers.add(ChangeHeaders.VERSION, ChangeHeaders.encodeLong(version));
        }
        if (lsn != null) {
            headers.add(ChangeHeaders.LSN, ChangeHeaders.encodeLong(lsn));
        }
        return new ConsumerRecord<>(TOPIC, 2, 77L, 0L, TimestampType.CREATE_TIME, 0, 0, key, value, headers, Optional.empty());
    }

    private GenericRecord key(long id) {
        GenericRecord k = new GenericData.Record(KEY);
        k.put("id", id);
        return k;
    }

    private GenericRecord value(long id) {
        GenericRecord v = new GenericData.Record(VALUE);
        v.put("id", id);
        v.put("email", "u" + id + "@example.com");
        return v;
    }

    @Test
    void decodesAnUpsertWithItsHeaders() {
        RecordDecoder.Decoded d = decoder.decode(record(keys.serialize(TOPIC, key(5)), values.serialize(TOPIC, value(5)), 900L, 901L));
        assertNull(d.deadLetter());
        RowChange c = d.change();
        assertEquals("public.users", c.table());
        assertEquals("{\"id\":5}", c.keyJson());
        assertEquals(900L, c.version());
        assertEquals(901L, c.lsn());
        assertEquals(2, c.partition());
        assertEquals(77L, c.offset());
        assertEquals("u5@example.com", c.value().get("email").toString());
    }

    @Test
    void aTombstoneIsADelete() {
        RecordDecoder.Decoded d = decoder.decode(record(keys.serialize(TOPIC, key(5)), null, 3L, null));
        assertTrue(d.change().isDelete());
        assertEquals(-1L, d.change().lsn());
    }

    @Test
    void anUndecodableValueIsADeadLetterWithCoordinates() {
        byte[] garbage = "not avro".getBytes(StandardCharsets.UTF_8);
        RecordDecoder.Decoded d = decoder.decode(record(keys.serialize(TOPIC, key(5)), garbage, 3L, 4L));
        assertNull(d.change());
        DeadLetter dl = d.deadLetter();
        assertEquals(TOPIC, dl.topic());
        assertEquals(2, dl.partition());
        assertEquals(77L, dl.offset());
        assertEquals("{\"id\":5}", dl.keyJson());
        assertNull(dl.sqlState());
        assertTrue(dl.error().startsWith("Value deserialization failed"), dl.error());
        assertEquals(garbage, dl.rawValue());
    }

    @Test
    void anUndecodableKeyOrAMissingKeyIsADeadLetter() {
        RecordDecoder.Decoded d = decoder.decode(record(new byte[]{0, 0, 0, 0, 99, 1}, null, 3L, null));
        assertNotNull(d.deadLetter());
        assertTrue(d.deadLetter().error().startsWith("Key deserialization failed"), d.deadLetter().error());
        assertNull(d.deadLetter().keyJson());
        assertTrue(decoder.decode(record(null, null, 3L, null)).deadLetter().error().contains("no key"));
    }

    @Test
    void aMissingVersionIsADeadLetter() {
        RecordDecoder.Decoded d = decoder.decode(record(keys.serialize(TOPIC, key(5)), values.serialize(TOPIC, value(5)), null, null));
        assertTrue(d.deadLetter().error().contains(ChangeHeaders.VERSION), d.deadLetter().error());
    }

    @Test
    void anUnreachableRegistryIsThrownForRetryNotDeadLettered() {
        byte[] k = keys.serialize(TOPIC, key(5));
        RegistryClient down = new RegistryClient() {
            @Override
            public int register(String subject, Schema schema) {
                throw new RegistryException("Cannot reach the schema registry", -1, -1, null);
            }

            @Override
            public Schema byId(int id) {
                throw new RegistryException("Cannot reach the schema registry", -1, -1, null);
            }

            @Override
            public Optional<Registered> latest(String subject) {
                return Optional.empty();
            }

            @Override
            public Optional<Integer> lookup(String subject, Schema schema) {
                throw new RegistryException("Cannot reach the schema registry", -1, -1, null);
            }

            @Override
            public java.util.List<String> incompatibilities(String subject, Schema schema) {
                throw new RegistryException("Cannot reach the schema registry", -1, -1, null);
            }

            @Override
            public void setCompatibility(String subject, String level) {
                throw new RegistryException("Cannot reach the schema registry", -1, -1, null);
            }
        };
        RecordDecoder unreachable = new RecordDecoder(down, Map.of(TOPIC, "public.users"));
        assertThrows(RegistryException.class, () -> unreachable.decode(record(k, null, 1L, null)));
    }
}

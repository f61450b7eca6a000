package dev.understudy.generative;

import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.SerdeConfig;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;

import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * What a failing trial prints about a differing key: every record with that key on a topic (its
 * partition, offset, change headers and a short form of the value), so the stage that lost or
 * kept the row shows: capture (legacy topic), migration (new-schema topic) or writer (bookkeeping).
 */
public final class Diagnostics {
    private Diagnostics() {
    }

    /** Records of {@code topic} whose key's field values, joined with '|', equal one of {@code keys}. */
    public static List<String> records(String bootstrap, String registryUrl, String topic, Set<String> keys, int limit) {
        List<String> out = new ArrayList<>();
        AvroDeserializer avro = new AvroDeserializer(new ConfluentRegistryClient(registryUrl, SerdeConfig.defaults()));
        try (KafkaConsumer<byte[], byte[]> consumer = new KafkaConsumer<>(Map.of(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap,
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false, ConsumerConfig.MAX_POLL_RECORDS_CONFIG, 5_000,
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"),
                new ByteArrayDeserializer(), new ByteArrayDeserializer())) {
            List<TopicPartition> parts = consumer.partitionsFor(topic).stream().map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(parts);
            consumer.seekToBeginning(parts);
            Map<TopicPartition, Long> ends = consumer.endOffsets(parts);
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (parts.stream().anyMatch(p -> consumer.position(p) < ends.get(p)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<byte[], byte[]> rec : consumer.poll(Duration.ofMillis(500))) {
                    GenericRecord key;
                    try {
                        key = avro.deserialize(topic, rec.key());
                    } catch (RuntimeException e) {
                        continue;
                    }
                    if (key == null) {
                        continue;
                    }
                    List<String> parts2 = new ArrayList<>();
                    key.getSchema().getFields().forEach(f -> parts2.add(String.valueOf(key.get(f.pos()))));
                    String k = String.join("|", parts2);
                    if (!keys.contains(k) || out.size() >= limit) {
                        continue;
                    }
                    StringBuilder sb = new StringBuilder(topic + "[" + rec.partition() + "]@" + rec.offset() + " key " + k);
                    for (Header h : rec.headers()) {
                        if (h.key().startsWith("understudy.")) {
                            String v = h.value() != null && h.value().length == 8
                                    ? Long.toString(java.nio.ByteBuffer.wrap(h.value()).getLong())
                                    : h.value() == null ? "null" : new String(h.value(), StandardCharsets.UTF_8);
                            sb.append(' ').append(h.key().substring("understudy.".length())).append('=').append(v);
                        }
                    }
                    String value;
                    try {
                        GenericRecord v = avro.deserialize(topic, rec.value());
                        value = v == null ? "tombstone" : v.toString();
                    } catch (RuntimeException e) {
                        value = "(undecodable: " + e.getMessage() + ")";
                    }
                    sb.append(' ').append(value.length() > 400 ? value.substring(0, 400) + "..." : value);
                    out.add(sb.toString());
                }
            }
        } catch (RuntimeException e) {
            out.add("cannot read " + topic + ": " + e);
        }
        return out;
    }
}

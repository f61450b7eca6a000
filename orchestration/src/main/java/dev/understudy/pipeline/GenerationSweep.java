package dev.understudy.pipeline;

import com.fasterxml.jackson.databind.ObjectMapper;
import dev.understudy.schemas.AvroSerde;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.KeyJson;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.TableMapping;
import dev.understudy.writer.WriterBookkeeping;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import org.apache.kafka.common.serialization.Serializer;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.SQLException;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * The last step of a generation's backfill: deletes the target rows the new generation does not
 * produce.
 * <p>
 * Once the new generation has re-read the whole legacy history and the writer has applied what it
 * emitted, every row that exists under the new spec carries the new generation in the writer's
 * bookkeeping. A key still at an older generation (and not deleted) is one the new generation never
 * wrote: its source row was deleted or re-keyed, and the new generation's re-read never emitted the
 * row under the old key (a join may skip an intermediate result during a fast re-read: Kafka
 * Streams' foreign-key join drops a response computed for a value that has since changed, KIP-213).
 * <p>
 * The sweep does not delete in the target directly: it writes a tombstone for each such key to the
 * new-schema topic, so that the writer applies it like any other change and the comparison learns
 * that the key is expected to be gone. The tombstone carries the new generation and the target's
 * lineage in it, with the version and joined version the key's row was written at: at the same
 * lineage it wins over that row by its generation alone, and loses against any row the new
 * generation writes for the key, at a higher version or, at the same one, as a row before a
 * tombstone ({@code ChangeOrder}); a new lineage outranks the older row whatever the versions.
 */
public final class GenerationSweep {
    private static final Logger LOG = LoggerFactory.getLogger(GenerationSweep.class);
    private static final ObjectMapper JSON = new ObjectMapper();

    private GenerationSweep() {
    }

    /** Writes the tombstones; returns how many. */
    static long sweep(PipelineConfig config, RegistryClient registry, String prefix, List<TableMapping> mappings, long generation,
                      Map<String, Long> lineages) {
        Map<String, Object> producerConfig = Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        long total = 0;
        Serializer<GenericRecord> keys = AvroSerde.keys(registry).serializer();
        try (Connection c = DriverManager.getConnection(config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                config.get(PipelineConfig.TARGET_PASSWORD));
             KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(producerConfig, new ByteArraySerializer(), new ByteArraySerializer())) {
            for (TableMapping m : mappings) {
                String topic = Topics.newSchema(prefix, m.targetTable());
                List<Future<?>> sent = new ArrayList<>();
                ChangeHeaders.Stamp stamp = new ChangeHeaders.Stamp(generation, lineages.getOrDefault(m.targetTable(), 0L));
                for (WriterBookkeeping.StoredVersion row : WriterBookkeeping.olderGenerations(c, m.targetTable(), generation)) {
                    GenericRecord key = KeyJson.decode(row.key(), m.targetKeySchema(), m.targetTable());
                    sent.add(producer.send(new ProducerRecord<>(topic, null, keys.serialize(topic, key), null,
                            ChangeHeaders.forSyntheticDelete(row.version(), row.joinedVersion(), stamp))));
                }
                for (Future<?> f : sent) {
                    f.get();
                }
                if (!sent.isEmpty()) {
                    LOG.info("Generation {} does not produce {} row(s) of {} that an earlier generation wrote: tombstones sent to {}",
                            generation, sent.size(), m.targetTable(), topic);
                }
                total += sent.size();
            }
        } catch (SQLException e) {
            throw new IllegalStateException("Cannot read " + WriterBookkeeping.versionTable() + " on " + config.get(PipelineConfig.TARGET_JDBC_URL)
                    + " to find rows generation " + generation + " does not produce (SQLSTATE " + e.getSQLState() + "): " + e.getMessage().strip(), e);
        } catch (ExecutionException e) {
            throw new IllegalStateException("Cannot write sweep tombstones of generation " + generation + ": " + e.getCause().getMessage(), e.getCause());
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while sweeping generation " + generation, e);
        }
        return total;
    }
}

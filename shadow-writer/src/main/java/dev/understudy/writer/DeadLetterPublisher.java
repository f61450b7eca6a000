package dev.understudy.writer;

import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.schemas.Topics;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.Producer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.KafkaException;
import org.apache.kafka.common.errors.InterruptException;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArraySerializer;

import java.time.Duration;
import java.util.ArrayList;
import java.util.Collection;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;

/**
 * Publishes dead letters to the dead-letter topic ({@link Topics#deadLetter}) and waits for the
 * broker's acknowledgement, so that a dead letter is durable before the offsets of its record are
 * committed: the record is then either applied, dead-lettered, or read again, never lost.
 * <p>
 * A dead-letter record carries the original key and value bytes unchanged (Confluent wire format,
 * readable with the same registry) and these headers, all UTF-8 text so that a console consumer shows
 * them: {@value #TOPIC}, {@value #PARTITION}, {@value #OFFSET}, {@value #LSN}, {@value #VERSION},
 * {@value #TABLE}, {@value #KEY}, {@value #SQLSTATE}, {@value #ERROR} (at most {@value #MAX_ERROR_CHARS}
 * characters) and {@value #FAILED_AT_MS}. Headers whose value is unknown (no SQLSTATE for a record
 * that never reached the database, no key for an undecodable key) are left out.
 * <p>
 * Ahead of those, it keeps the original record's change headers ({@link ChangeHeaders}: version,
 * LSN, generation, lineage, op, transaction id), in their original binary encoding, because a replay must
 * re-produce them: the writer orders changes by these headers ({@code ChangeOrder}) and would
 * otherwise dead-letter the replayed record again or apply it out of order. When the original
 * headers are not at hand, version, joined version, LSN, generation and lineage are written from the decoded change; a
 * record that was never decoded then carries no change headers.
 * <p>
 * Takes any {@link Producer}, so a caller can share or configure its own.
 */
public final class DeadLetterPublisher implements AutoCloseable {
    // The header vocabulary is DeadLetterFields', shared with the capture's dead letters.
    public static final String TOPIC = DeadLetterFields.TOPIC;
    public static final String PARTITION = DeadLetterFields.PARTITION;
    public static final String OFFSET = DeadLetterFields.OFFSET;
    public static final String LSN = DeadLetterFields.LSN;
    public static final String VERSION = DeadLetterFields.VERSION;
    public static final String TABLE = DeadLetterFields.TABLE;
    public static final String KEY = DeadLetterFields.KEY;
    public static final String SQLSTATE = DeadLetterFields.SQLSTATE;
    public static final String ERROR = DeadLetterFields.ERROR;
    public static final String FAILED_AT_MS = DeadLetterFields.FAILED_AT_MS;
    public static final int MAX_ERROR_CHARS = 2000;

    private final Producer<byte[], byte[]> producer;
    private final String topic;
    private final boolean ownsProducer;

    /** Publishes through {@code producer} to {@code topic}; the caller keeps ownership of the producer. */
    public DeadLetterPublisher(Producer<byte[], byte[]> producer, String topic) {
        this(producer, topic, false);
    }

    private DeadLetterPublisher(Producer<byte[], byte[]> producer, String topic, boolean ownsProducer) {
        this.producer = Objects.requireNonNull(producer, "producer");
        this.topic = Objects.requireNonNull(topic, "topic");
        this.ownsProducer = ownsProducer;
    }

    /**
     * A publisher with its own producer to {@code Topics.deadLetter(prefix)}: acks=all and
     * idempotence, so an acknowledged dead letter survives a broker failure and a retried send is
     * not duplicated. {@code overrides} are applied last (security settings, client id, ...).
     */
    public static DeadLetterPublisher create(String bootstrapServers, String prefix, Map<String, ?> overrides) {
        Map<String, Object> props = new HashMap<>();
        props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrapServers);
        props.put(ProducerConfig.ACKS_CONFIG, "all");
        props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
        props.put(ProducerConfig.LINGER_MS_CONFIG, 0);
        props.put(ProducerConfig.CLIENT_ID_CONFIG, "understudy-shadow-writer-dlq");
        props.putAll(overrides);
        Producer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer());
        return new DeadLetterPublisher(producer, Topics.deadLetter(prefix), true);
    }

    /** The dead-letter topic. */
    public String topic() {
        return topic;
    }

    /** Publishes one dead letter and waits for the acknowledgement. */
    public RecordMetadata publish(DeadLetter deadLetter) {
        return publishAll(List.of(deadLetter)).get(0);
    }

    /**
     * Sends all dead letters, then waits for every acknowledgement (sending first lets the
     * producer batch them).
     *
     * @throws KafkaException when a send fails; its cause is the producer's exception, a
     *                        {@link org.apache.kafka.common.errors.RetriableException} when retrying may help
     */
    public List<RecordMetadata> publishAll(List<DeadLetter> deadLetters) {
        if (deadLetters.isEmpty()) {
            return List.of();
        }
        List<Future<RecordMetadata>> sent = new ArrayList<>(deadLetters.size());
        for (DeadLetter dl : deadLetters) {
            sent.add(producer.send(toRecord(topic, dl)));
        }
        List<RecordMetadata> acked = new ArrayList<>(sent.size());
        for (int i = 0; i < sent.size(); i++) {
            try {
                acked.add(sent.get(i).get());
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                throw new InterruptException("Interrupted while waiting for the dead-letter topic " + topic
                        + " to acknowledge " + deadLetters.get(i).coordinates(), e);
            } catch (ExecutionException e) {
                Throwable cause = e.getCause() == null ? e : e.getCause();
                throw new KafkaException("Cannot publish the dead letter for " + deadLetters.get(i).coordinates()
                        + " (table " + deadLetters.get(i).table() + ") to " + topic + ": " + cause.getMessage()
                        + "; check that the topic exists and the writer may produce to it", cause);
            }
        }
        return acked;
    }


    /**
     * Gives each dead letter of {@code letters} without original headers the headers of its record
     * in {@code records} (matched by topic, partition and offset), so the dead-letter record keeps
     * the op and transaction id too, which a decoded change does not hold.
     */
    public static void attachOriginalHeaders(List<DeadLetter> letters,
                                             Collection<? extends Collection<ConsumerRecord<byte[], byte[]>>> records) {
        if (letters.isEmpty()) {
            return;
        }
        Map<String, Headers> byCoordinates = new HashMap<>();
        for (DeadLetter dl : letters) {
            if (dl.originalHeaders() == null) {
                byCoordinates.put(dl.coordinates(), null);
            }
        }
        for (Collection<ConsumerRecord<byte[], byte[]>> partition : records) {
            for (ConsumerRecord<byte[], byte[]> r : partition) {
                String coordinates = r.topic() + "[" + r.partition() + "]@" + r.offset();
                if (byCoordinates.containsKey(coordinates)) {
                    byCoordinates.put(coordinates, r.headers());
                }
            }
        }
        letters.replaceAll(dl -> dl.originalHeaders() == null && byCoordinates.get(dl.coordinates()) != null
                ? dl.withOriginalHeaders(byCoordinates.get(dl.coordinates())) : dl);
    }

    /**
     * The dead-letter record for {@code deadLetter}: original key and value, the original change
     * headers, then the coordinates and cause as headers.
     */
    public static ProducerRecord<byte[], byte[]> toRecord(String topic, DeadLetter deadLetter) {
        RecordHeaders headers = new RecordHeaders();
        addChangeHeaders(headers, deadLetter);
        DeadLetterFields.onto(headers, DeadLetterFields.WRITER)
                .origin(deadLetter.topic(), deadLetter.partition(), deadLetter.offset())
                .lsn(deadLetter.lsn() >= 0 ? deadLetter.lsn() : null)
                .version(deadLetter.version() >= 0 ? deadLetter.version() : null)
                .table(deadLetter.table())
                .key(deadLetter.keyJson())
                .sqlState(deadLetter.sqlState())
                .error(truncate(deadLetter.error()))
                .failedAt(deadLetter.failedAtMs());
        return new ProducerRecord<>(topic, null, deadLetter.rawKey(), deadLetter.rawValue(), headers);
    }

    static String truncate(String error) {
        if (error == null || error.length() <= MAX_ERROR_CHARS) {
            return error;
        }
        // Do not split a surrogate pair: a lone surrogate would not encode to UTF-8.
        int end = MAX_ERROR_CHARS;
        if (Character.isHighSurrogate(error.charAt(end - 1))) {
            end--;
        }
        return error.substring(0, end);
    }

    private static void addChangeHeaders(RecordHeaders headers, DeadLetter deadLetter) {
        if (deadLetter.originalHeaders() != null) {
            ChangeHeaders.copyKeptByDeadLetters(deadLetter.originalHeaders(), headers);
            return;
        }
        // Without the original headers, only a decoded change (known stamp) has trustworthy values.
        if (deadLetter.stamp() == null) {
            return;
        }
        ChangeHeaders.addDecodedChange(headers, deadLetter.version(), deadLetter.joinedVersion(), deadLetter.lsn(), deadLetter.stamp());
    }

    /** Closes the producer when this publisher created it. */
    @Override
    public void close() {
        if (ownsProducer) {
            producer.close(Duration.ofSeconds(30));
        }
    }
}

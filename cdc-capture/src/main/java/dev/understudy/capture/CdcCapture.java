package dev.understudy.capture;

import dev.understudy.schemas.AvroSerializer;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.SerdeConfig;
import io.debezium.embedded.Connect;
import io.debezium.engine.DebeziumEngine;
import io.debezium.engine.RecordChangeEvent;
import io.debezium.engine.format.ChangeEventFormat;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.connect.source.SourceRecord;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicReference;

/**
 * Tails one PostgreSQL database's WAL with Debezium Embedded (pgoutput): an initial snapshot, then
 * streaming. Each row change becomes one Avro change event on {@code <prefix>.<family>.<schema>.<table>},
 * keyed by primary key.
 * <p>
 * Delivery: a batch handed over by Debezium is produced to Kafka, then flushed, and only when every
 * record of it has been acknowledged are its records marked processed. Debezium commits source
 * offsets (to a Kafka topic) only for processed records, so after a crash capture resumes at or
 * before the first unacknowledged change: changes may repeat, never vanish. Downstream stages are
 * idempotent for exactly that reason.
 */
public final class CdcCapture implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(CdcCapture.class);

    private final CaptureSettings settings;
    private final KafkaProducer<GenericRecord, GenericRecord> producer;
    private final ChangeEventConverter converter;
    private final CaptureMetrics metrics = new CaptureMetrics();
    private final AtomicReference<Throwable> failure = new AtomicReference<>();
    private final DebeziumEngine<RecordChangeEvent<SourceRecord>> engine;
    private final ExecutorService executor;
    private volatile boolean closed;

    public CdcCapture(CaptureSettings settings, RegistryClient registry) {
        this.settings = settings;
        // Row schemas derive from the captured tables, so nobody can register them beforehand: capture
        // always registers them (the registry still enforces the subject's compatibility level), and
        // always writes with the table's current schema.
        SerdeConfig own = registry.serdeConfig();
        registry = registry.withSerdeConfig(new SerdeConfig(own.subjectNameStrategy(), true, false));
        this.converter = new ChangeEventConverter(settings.name());
        this.producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, settings.bootstrapServers(),
                ProducerConfig.CLIENT_ID_CONFIG, "understudy-capture-" + settings.name(),
                ProducerConfig.ACKS_CONFIG, "all",
                ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true,
                ProducerConfig.LINGER_MS_CONFIG, 5,
                ProducerConfig.BATCH_SIZE_CONFIG, 262_144,
                ProducerConfig.COMPRESSION_TYPE_CONFIG, "lz4"),
                new AvroSerializer(registry, true), new AvroSerializer(registry, false));
        this.engine = DebeziumEngine.create(ChangeEventFormat.of(Connect.class))
                .using(settings.debeziumProperties())
                .notifying(this::handleBatch)
                .using((success, message, error) -> {
                    if (!success && !closed) {
                        Throwable t = error != null ? error : new IllegalStateException(message);
                        failure.compareAndSet(null, t);
                        LOG.error("Capture '{}' of {} stopped: {}", settings.name(), settings.jdbcUrl(), message, error);
                    }
                })
                .build();
        this.executor = Executors.newSingleThreadExecutor(r -> {
            Thread t = new Thread(r, "understudy-capture-" + settings.name());
            t.setDaemon(true);
            return t;
        });
    }

    public CdcCapture start() {
        executor.execute(engine);
        return this;
    }

    private void handleBatch(List<RecordChangeEvent<SourceRecord>> batch,
                             DebeziumEngine.RecordCommitter<RecordChangeEvent<SourceRecord>> committer) throws InterruptedException {
        List<Future<?>> sends = new ArrayList<>(batch.size());
        long snapshotRows = 0;
        long streamed = 0;
        long lastLsn = -1;
        long lastTs = -1;
        for (RecordChangeEvent<SourceRecord> event : batch) {
            SourceRecord record = event.record();
            ChangeEventConverter.Converted c;
            try {
                c = converter.convert(record);
            } catch (RuntimeException e) {
                // A row Debezium read but we cannot represent: stop rather than skip it silently; the
                // offset is not committed, so the change is read again after the fix.
                throw new IllegalStateException("Capture '" + settings.name() + "' cannot convert a change on topic "
                        + record.topic() + " at source offset " + record.sourceOffset() + ": " + e.getMessage(), e);
            }
            if (c == null) {
                continue;
            }
            try {
                sends.add(producer.send(new ProducerRecord<>(c.topic(), c.key(), c.envelope())));
            } catch (org.apache.kafka.common.errors.SerializationException e) {
                // Serialization registers the table's current row schema; the registry refuses it when
                // the table's structure changed in a way the subject's compatibility level forbids.
                // Stopping here (offsets stay before this change) drops nothing: after the subject's
                // level or the table is fixed, capture resumes with this very change.
                GenericRecord source = (GenericRecord) c.envelope().get("source");
                throw new IllegalStateException("Capture '" + settings.name() + "' stops at table " + source.get("schema") + "."
                        + source.get("table") + " (LSN " + c.lsn() + "): the schema registry refused its row schema for topic '"
                        + c.topic() + "': " + rootMessage(e) + ". The table changed incompatibly (for example a column's type changed);"
                        + " revert the change, or change the subject's compatibility level deliberately, then restart the pipeline", e);
            }
            if (c.snapshot()) {
                snapshotRows++;
            } else {
                streamed++;
                lastTs = ((Number) ((GenericRecord) c.envelope().get("source")).get("tsMs")).longValue();
            }
            lastLsn = Math.max(lastLsn, c.lsn());
        }
        producer.flush();
        for (Future<?> f : sends) {
            try {
                f.get();
            } catch (java.util.concurrent.ExecutionException e) {
                throw new IllegalStateException("Kafka at " + settings.bootstrapServers() + " did not acknowledge a change from capture '"
                        + settings.name() + "': " + e.getCause() + ". Capture stops here; its offsets stay at the last acknowledged batch.", e.getCause());
            }
        }
        for (RecordChangeEvent<SourceRecord> event : batch) {
            committer.markProcessed(event);
        }
        committer.markBatchFinished();
        metrics.snapshotRows.addAndGet(snapshotRows);
        metrics.streamedChanges.addAndGet(streamed);
        if (streamed > 0) {
            if (!metrics.snapshotCompleted) {
                metrics.snapshotCompletedAtMs = System.currentTimeMillis();
            }
            metrics.snapshotCompleted = true;
            metrics.lastSourceTsMs.set(lastTs);
        }
        if (lastLsn >= 0) {
            metrics.lastLsn.accumulateAndGet(lastLsn, Math::max);
        }
        metrics.batches.incrementAndGet();
        metrics.lastBatchAckMs.set(System.currentTimeMillis());
    }

    private static String rootMessage(Throwable e) {
        Throwable t = e;
        while (t.getCause() != null && t.getCause() != t) {
            t = t.getCause();
        }
        return t == e ? String.valueOf(e.getMessage()) : e.getMessage() + " (" + t.getMessage() + ")";
    }

    public CaptureMetrics metrics() {
        return metrics;
    }

    public CaptureSettings settings() {
        return settings;
    }

    /** Why the capture stopped, if it stopped on its own. */
    public Throwable failure() {
        return failure.get();
    }

    @Override
    public void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            engine.close();
        } catch (Exception e) {
            LOG.warn("Closing capture '{}' engine: {}", settings.name(), e.toString());
        }
        executor.shutdown();
        try {
            if (!executor.awaitTermination(30, TimeUnit.SECONDS)) {
                LOG.warn("Capture '{}' engine did not stop within 30 s", settings.name());
            }
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
        }
        producer.close(java.time.Duration.ofSeconds(10));
    }
}

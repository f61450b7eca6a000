package dev.understudy.cutover;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.AvroSerializer;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.MigrationTopology;
import dev.understudy.transform.TableMapping;
import dev.understudy.verify.CatchUp;
import dev.understudy.verify.VerifyHistory;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.admin.Admin;
import org.apache.kafka.clients.admin.AdminClientConfig;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.consumer.OffsetAndTimestamp;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.serialization.StringDeserializer;
import org.apache.kafka.common.serialization.StringSerializer;

import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * {@code understudy cutover status}: READY only on evidence, every blocking reason listed otherwise.
 * <ol>
 *   <li><b>Drift zero for the window.</b> Every comparison task of every target table reported zero
 *   open divergences for the whole window, read back from the drift topic (each task reports at least
 *   every 5 s), including its state when the window began; and each reported recently.</li>
 *   <li><b>Lag under the threshold.</b> Measured, not estimated: the legacy WAL position now, then the
 *   time until the target has applied everything before it ({@link CatchUp}: slot, migration, writer).</li>
 *   <li><b>A clean verify at or after a position.</b> The newest finished {@code understudy verify} of
 *   the pipeline covered every target table, found nothing, and read the legacy database at or after
 *   the required WAL position.</li>
 * </ol>
 * Each decision is published with its evidence to {@code <name>.cutover}, the audit trail.
 */
public final class CutoverGate {
    /** A task that has not reported for this long is not running (it reports at least every 5 s). */
    static final Duration REPORT_TIMEOUT = Duration.ofSeconds(15);

    /** One decision and its evidence. */
    public record Decision(boolean ready, List<String> reasons, long driftWindowMs, long driftObservedMs, long driftOpenMax, Long lagMs,
                           long maxLagMs, VerifyHistory.Run verify, long requiredVerifyLsn, long atMs) {
        /** The decision as an operator reads it, one line per piece of evidence; {@code topic} is where it was recorded. */
        public String describe(String topic) {
            StringBuilder sb = new StringBuilder(ready ? "READY" : "NOT READY").append('\n');
            sb.append(String.format("  drift: zero required for %d s; observed %d s; most open on one task: %d%n", driftWindowMs / 1000,
                    driftObservedMs / 1000, driftOpenMax));
            sb.append(String.format("  end-to-end lag: %s (at most %d ms)%n", lagMs == null ? "over the limit" : lagMs + " ms", maxLagMs));
            sb.append(String.format("  verify: %s%n", verify == null ? "none"
                    : verify.runId() + " at LSN " + lsn(verify.snapshotLsn()) + ", " + (verify.clean() ? "clean" : verify.differences()
                    + " difference(s)") + " (required at or after " + lsn(requiredVerifyLsn) + ")"));
            for (String r : reasons) {
                sb.append("  blocked: ").append(r).append('\n');
            }
            return sb.append("  decision recorded on ").append(topic).append('\n').toString();
        }
    }

    private final PipelineConfig config;
    private final List<? extends TableMapping> mappings;
    private final Duration driftWindow;
    private final Duration maxLag;
    private final long requiredVerifyLsn;

    public CutoverGate(PipelineConfig config, List<? extends TableMapping> mappings, Duration driftWindow, Duration maxLag, long requiredVerifyLsn) {
        this.config = config;
        this.mappings = List.copyOf(mappings);
        this.driftWindow = driftWindow;
        this.maxLag = maxLag;
        this.requiredVerifyLsn = requiredVerifyLsn;
    }

    public Decision decide() throws Exception {
        long now = System.currentTimeMillis();
        String prefix = config.get(PipelineConfig.PIPELINE_NAME);
        ConfluentRegistryClient registry = new ConfluentRegistryClient(config.get(PipelineConfig.REGISTRY_URL), config.serdeConfig());
        List<String> reasons = new ArrayList<>();
        List<String> tables = mappings.stream().map(TableMapping::targetTable).distinct().toList();

        long[] drift = drift(prefix, registry, tables, now, reasons);

        Long lagMs = null;
        try (Connection legacy = DriverManager.getConnection(config.get(PipelineConfig.LEGACY_JDBC_URL), config.get(PipelineConfig.LEGACY_USER),
                config.get(PipelineConfig.LEGACY_PASSWORD));
             Statement s = legacy.createStatement();
             ResultSet rs = s.executeQuery("SELECT (pg_current_wal_insert_lsn() - '0/0')::bigint");
             CatchUp catchUp = new CatchUp(config, MigrationTopology.legacyTables(List.copyOf(mappings)), tables)) {
            rs.next();
            long lsn = rs.getLong(1);
            long start = System.nanoTime();
            try {
                catchUp.await(lsn, maxLag);
                lagMs = (System.nanoTime() - start) / 1_000_000;
            } catch (IllegalStateException e) {
                reasons.add("end-to-end lag is above " + maxLag.toMillis() + " ms: " + e.getMessage());
            }
        }

        VerifyHistory.Run verify;
        try (Connection target = DriverManager.getConnection(config.get(PipelineConfig.TARGET_JDBC_URL), config.get(PipelineConfig.TARGET_USER),
                config.get(PipelineConfig.TARGET_PASSWORD))) {
            verify = VerifyHistory.newest(target, prefix);
        }
        if (verify == null) {
            reasons.add("no verify has finished for pipeline '" + prefix + "'; run understudy verify");
        } else {
            Set<String> missingTables = new LinkedHashSet<>(tables);
            missingTables.removeAll(verify.tables());
            if (!verify.clean()) {
                reasons.add("the newest verify (" + verify.runId() + ") found " + verify.differences() + " differing row(s); repair them"
                        + " (understudy repair) and verify again");
            }
            if (!missingTables.isEmpty()) {
                reasons.add("the newest verify (" + verify.runId() + ") did not cover " + missingTables);
            }
            if (verify.snapshotLsn() < requiredVerifyLsn) {
                reasons.add("the newest verify (" + verify.runId() + ") read the legacy database at LSN " + lsn(verify.snapshotLsn())
                        + ", before the required " + lsn(requiredVerifyLsn) + "; verify again");
            }
        }

        Decision decision = new Decision(reasons.isEmpty(), List.copyOf(reasons), driftWindow.toMillis(), drift[0], drift[1], lagMs,
                maxLag.toMillis(), verify, requiredVerifyLsn, now);
        publish(prefix, registry, decision);
        return decision;
    }

    /** Reads the drift topic over the window; returns {observed ms, most open}, adding reasons. */
    private long[] drift(String prefix, ConfluentRegistryClient registry, List<String> tables, long now, List<String> reasons) {
        long windowStart = now - driftWindow.toMillis();
        String topic = Topics.drift(prefix);
        Map<String, long[]> before = new HashMap<>();      // key -> {atMs, open} of the last report before the window
        Map<String, Long> maxOpenInWindow = new HashMap<>();
        Map<String, Long> lastReport = new HashMap<>();
        Map<String, Long> firstReport = new HashMap<>();
        try (KafkaConsumer<String, GenericRecord> consumer = new KafkaConsumer<>(Map.of(
                ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP),
                ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false,
                // The comparison application writes drift reports in Kafka transactions (exactly-once):
                // reports of an aborted attempt must not count.
                ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed"), new StringDeserializer(), new AvroDeserializer(registry))) {
            List<TopicPartition> partitions = consumer.partitionsFor(topic, Duration.ofSeconds(10)).stream()
                    .map(p -> new TopicPartition(topic, p.partition())).toList();
            consumer.assign(partitions);
            Map<TopicPartition, Long> search = new HashMap<>();
            // From a heartbeat or two before the window: the state each task was in when it began.
            partitions.forEach(tp -> search.put(tp, windowStart - REPORT_TIMEOUT.toMillis()));
            Map<TopicPartition, OffsetAndTimestamp> from = consumer.offsetsForTimes(search);
            Map<TopicPartition, Long> ends = consumer.endOffsets(partitions);
            for (TopicPartition tp : partitions) {
                OffsetAndTimestamp o = from.get(tp);
                consumer.seek(tp, o == null ? ends.get(tp) : o.offset());
            }
            long deadline = System.nanoTime() + Duration.ofSeconds(30).toNanos();
            while (partitions.stream().anyMatch(tp -> consumer.position(tp) < ends.get(tp)) && System.nanoTime() < deadline) {
                for (ConsumerRecord<String, GenericRecord> r : consumer.poll(Duration.ofMillis(200))) {
                    GenericRecord v = r.value();
                    if (v == null || !tables.contains(v.get("table").toString())) {
                        continue;
                    }
                    long at = (Long) v.get("atMs");
                    long open = (Long) v.get("open");
                    firstReport.merge(r.key(), at, Math::min);
                    lastReport.merge(r.key(), at, Math::max);
                    if (at < windowStart) {
                        long[] prev = before.get(r.key());
                        if (prev == null || prev[0] <= at) {
                            before.put(r.key(), new long[]{at, open});
                        }
                    } else {
                        maxOpenInWindow.merge(r.key(), open, Math::max);
                    }
                }
            }
        }
        Set<String> expected = new LinkedHashSet<>();
        try (Admin admin = Admin.create(Map.of(
                AdminClientConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP)))) {
            for (String t : tables) {
                int n = admin.describeTopics(List.of(Topics.newSchema(prefix, t))).allTopicNames().get().get(Topics.newSchema(prefix, t))
                        .partitions().size();
                for (int p = 0; p < n; p++) {
                    expected.add(t + "#" + p);
                }
            }
        } catch (Exception e) {
            reasons.add("cannot list the new-schema topics' partitions: " + e.getMessage());
        }
        long openMax = 0;
        long observedFrom = now;
        for (String key : expected) {
            Long last = lastReport.get(key);
            if (last == null || now - last > REPORT_TIMEOUT.toMillis()) {
                reasons.add("comparison task " + key + " has not reported drift " + (last == null ? "in the window" : "for " + (now - last) / 1000 + " s")
                        + "; is the pipeline running?");
                observedFrom = now;
                continue;
            }
            long[] prev = before.get(key);
            long open = Math.max(prev == null ? 0 : prev[1], maxOpenInWindow.getOrDefault(key, 0L));
            openMax = Math.max(openMax, open);
            if (open > 0) {
                reasons.add("drift was not zero during the last " + driftWindow.toSeconds() + " s: up to " + open + " open divergence(s) on "
                        + key + " (see " + Topics.divergence(prefix) + ")");
            }
            long start = prev != null ? windowStart : firstReport.get(key);
            observedFrom = Math.min(observedFrom, Math.max(start, windowStart));
        }
        // A task whose first report falls inside the window was not watched for all of it.
        long latestStart = expected.stream().filter(k -> lastReport.containsKey(k) && !before.containsKey(k))
                .mapToLong(firstReport::get).max().orElse(windowStart);
        if (latestStart > windowStart) {
            reasons.add("drift is known for only " + (now - latestStart) / 1000 + " s of the " + driftWindow.toSeconds()
                    + " s window; wait for the rest of it");
            observedFrom = Math.max(observedFrom, latestStart);
        }
        return new long[]{now - observedFrom, openMax};
    }

    private void publish(String prefix, ConfluentRegistryClient registry, Decision d) throws Exception {
        GenericData.Record v = new GenericData.Record(Contracts.CUTOVER_DECISION);
        v.put("pipeline", prefix);
        v.put("atMs", d.atMs());
        v.put("ready", d.ready());
        v.put("reasons", d.reasons());
        v.put("driftWindowMs", d.driftWindowMs());
        v.put("driftObservedMs", d.driftObservedMs());
        v.put("driftOpenMax", d.driftOpenMax());
        v.put("lagMs", d.lagMs());
        v.put("maxLagMs", d.maxLagMs());
        v.put("verifyRunId", d.verify() == null ? null : d.verify().runId());
        v.put("verifySnapshotLsn", d.verify() == null ? null : d.verify().snapshotLsn());
        v.put("verifyClean", d.verify() == null ? null : d.verify().clean());
        v.put("requiredVerifyLsn", d.requiredVerifyLsn());
        try (KafkaProducer<String, GenericRecord> producer = new KafkaProducer<>(Map.of(
                ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, config.get(PipelineConfig.KAFKA_BOOTSTRAP),
                ProducerConfig.ACKS_CONFIG, "all"), new StringSerializer(), new AvroSerializer(registry, false))) {
            producer.send(new ProducerRecord<>(Topics.cutover(prefix), prefix, v)).get();
        }
    }

    public static String lsn(long lsn) {
        return lsn < 0 ? "none" : Long.toHexString(lsn >>> 32).toUpperCase() + "/" + Long.toHexString(lsn & 0xFFFFFFFFL).toUpperCase();
    }
}

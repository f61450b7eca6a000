package dev.understudy.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.AvroDeserializer;
import dev.understudy.schemas.ChangeHeaders;
import dev.understudy.schemas.ChangeOrder;
import dev.understudy.schemas.DeadLetterFields;
import dev.understudy.schemas.ConfluentRegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.writer.DeadLetterPublisher;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.clients.consumer.ConsumerConfig;
import org.apache.kafka.clients.consumer.ConsumerRecord;
import org.apache.kafka.clients.consumer.KafkaConsumer;
import org.apache.kafka.clients.producer.KafkaProducer;
import org.apache.kafka.clients.producer.ProducerConfig;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.clients.producer.RecordMetadata;
import org.apache.kafka.common.PartitionInfo;
import org.apache.kafka.common.TopicPartition;
import org.apache.kafka.common.header.Header;
import org.apache.kafka.common.header.Headers;
import org.apache.kafka.common.header.internals.RecordHeaders;
import org.apache.kafka.common.serialization.ByteArrayDeserializer;
import org.apache.kafka.common.serialization.ByteArraySerializer;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.TreeMap;
import java.util.concurrent.Callable;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.Future;
import java.util.function.Consumer;

/**
 * Inspects the dead-letter topic ({@link Topics#deadLetter}) and re-applies the writer's dead letters
 * once the target is fixed. Both read the topic from its start to its end at the moment they start,
 * with an unnamed consumer: nothing is committed, so they can run any number of times.
 */
@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = "Inspect the dead-letter topic <pipeline>.dlq and replay the writer's dead letters after fixing the target.",
        subcommands = {DlqCommand.ListLetters.class, DlqCommand.Replay.class})
final class DlqCommand implements Runnable {
    private static final Duration POLL = Duration.ofMillis(500);
    private static final Duration READ_TIMEOUT = Duration.ofSeconds(60);

    @picocli.CommandLine.Spec
    picocli.CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    /** Options shared by the subcommands. */
    static class Common {
        @Option(names = "--config", required = true, description = "Properties file with the pipeline settings (see README, Configuration).")
        Path config;

        @Option(names = "--table", description = "Only dead letters of this table (public.users, or just users).")
        String table;

        PipelineConfig cfg;

        PipelineConfig cfg() {
            if (cfg == null) {
                cfg = PipelineConfig.load(config);
            }
            return cfg;
        }

        String prefix() {
            return cfg().get(PipelineConfig.PIPELINE_NAME);
        }

        String bootstrap() {
            return cfg().get(PipelineConfig.KAFKA_BOOTSTRAP);
        }

        boolean tableMatches(Letter l) {
            if (table == null) {
                return true;
            }
            return table.equals(l.table) || (l.table != null && !table.contains(".") && l.table.endsWith("." + table));
        }
    }

    // ---------------------------------------------------------------------------------------------

    @Command(name = "list", mixinStandardHelpOptions = true,
            description = {"Print every record of the dead-letter topic, from its start to its current end: dlq partition@offset, "
                    + "failure time, stage (capture, transform or writer), table, key, original topic[partition]@offset, LSN, version, "
                    + "SQLSTATE and the first line of the error; then counts per table and per SQLSTATE.",
                    "Reads without a consumer group: nothing is committed and nothing is changed."})
    static final class ListLetters extends Common implements Callable<Integer> {
        @Option(names = "--limit", description = "Print at most this many dead letters, the oldest first; the summary still counts all.")
        Integer limit;

        @Option(names = "--json", description = "One JSON object per line (\"type\":\"dead_letter\"), then one \"type\":\"summary\" line.")
        boolean json;

        @Override
        public Integer call() {
            String topic = Topics.deadLetter(prefix());
            PrintStream out = System.out;
            KeyDecoder keys = new KeyDecoder(cfg());
            Map<String, Long> byTable = new TreeMap<>();
            Map<String, Long> bySqlState = new TreeMap<>();
            Map<String, Long> byStage = new TreeMap<>();
            List<Letter> letters = new ArrayList<>();
            Map<Integer, long[]> ranges = readDeadLetters(bootstrap(), topic, Map.of(), null, l -> {
                if (!tableMatches(l)) {
                    return;
                }
                letters.add(l);
                byTable.merge(l.table == null ? "(unknown)" : l.table, 1L, Long::sum);
                bySqlState.merge(l.sqlState == null ? "(none)" : l.sqlState, 1L, Long::sum);
                byStage.merge(l.stage, 1L, Long::sum);
            });
            if (ranges == null) {
                printNoTopic(out, topic, json);
                return 0;
            }
            // Partitions interleave in the order polled; in time order the list reads as what happened.
            letters.sort(CHRONOLOGICAL);
            long total = letters.size();
            long shown = limit == null ? total : Math.min(total, Math.max(0, limit));
            for (Letter l : letters.subList(0, (int) shown)) {
                if (l.key == null) {
                    l.key = keys.describe(l);
                }
                out.println(json ? toJson(l.toMap()) : l.toLine());
            }
            if (json) {
                Map<String, Object> summary = new LinkedHashMap<>();
                summary.put("type", "summary");
                summary.put("topic", topic);
                summary.put("dead_letters", total);
                summary.put("shown", shown);
                summary.put("by_stage", byStage);
                summary.put("by_table", byTable);
                summary.put("by_sqlstate", bySqlState);
                out.println(toJson(summary));
            } else {
                out.printf("%d dead letter(s) in %s%s%s%n", total, topic, table == null ? "" : " for table " + table,
                        shown < total ? " (" + shown + " shown)" : "");
                if (total > 0) {
                    out.println("  by stage:    " + counts(byStage));
                    out.println("  by table:    " + counts(byTable));
                    out.println("  by SQLSTATE: " + counts(bySqlState));
                }
            }
            return 0;
        }
    }

    // ---------------------------------------------------------------------------------------------

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = {"Re-produce the writer's dead letters to the new-schema topics they came from, with their original key, "
                    + "value and change headers (version, LSN, generation, op, txid), so the running (or next) writer applies them "
                    + "through its normal ordering guard. Fix the target first (constraint, column type, ...).",
                    "Replaying twice is harmless: the writer orders changes by (generation, version) and drops a change it has "
                    + "already applied or that a later change of the same row superseded. A dead letter whose row has a later "
                    + "record on its topic (a newer change, or an earlier replay) is skipped, so that the comparison does not "
                    + "take the old change for the row's latest state.",
                    "Dead letters of the transform (stage transform) are not replayed: they need their legacy "
                    + "record re-processed by the transform, which this command does not do; they are counted and listed as skipped.",
                    "The output ends with the dead-letter offsets covered and the --from-offset that continues after them, "
                    + "so a range is replayed once."})
    static final class Replay extends Common implements Callable<Integer> {
        @Option(names = "--from-offset", paramLabel = "N | P:N[,P:N...]",
                description = "Start at this dead-letter offset: N for every partition, or P:N per partition (others from their start).")
        String fromOffset;

        @Option(names = "--dry-run", description = "Print what would be replayed and skipped; produce nothing.")
        boolean dryRun;

        @Override
        public Integer call() throws Exception {
            String prefix = prefix();
            String topic = Topics.deadLetter(prefix);
            PrintStream out = System.out;
            Map<Integer, Long> starts = new HashMap<>();
            Long allStart = parseFromOffset(fromOffset, starts);

            List<Letter> candidates = new ArrayList<>();
            Map<String, Long> skipped = new TreeMap<>();
            Map<Integer, long[]> covered = readDeadLetters(bootstrap(), topic, starts, allStart, l -> {
                if (!tableMatches(l)) {
                    return;
                }
                String reason = unreplayable(l, prefix);
                if (reason != null) {
                    skip(out, skipped, l, reason);
                } else {
                    candidates.add(l);
                }
            });
            if (covered == null) {
                printNoTopic(out, topic, false);
                return 0;
            }

            // A later record of the same key at the same or a higher (generation, version) on the original
            // topic is what the writer holds for the row (or an earlier replay of this very change): the
            // writer would drop the replay, and the comparison, which takes the last record of a key as what
            // the target should hold, would be misled into reporting drift.
            Map<String, List<long[]>> later = laterRecords(bootstrap(), candidates);
            Map<String, Long> replayed = new TreeMap<>();
            List<Letter> toProduce = new ArrayList<>();
            for (Letter l : candidates) {
                long[] newer = null;
                for (long[] r : later.getOrDefault(keyOf(l), List.of())) {
                    if (r[0] > l.origOffset && order(r).compareTo(l.order()) >= 0) {
                        newer = r;
                        break;
                    }
                }
                if (newer != null) {
                    skip(out, skipped, l, "superseded by the record of this key at " + l.origTopic + "[" + l.origPartition + "]@"
                            + newer[0] + " (a newer change, or an earlier replay of this one)");
                } else {
                    toProduce.add(l);
                }
            }

            toProduce.sort(CHRONOLOGICAL);
            if (!dryRun && !toProduce.isEmpty()) {
                produce(toProduce);
            }
            for (Letter l : toProduce) {
                replayed.merge(l.table, 1L, Long::sum);
                out.printf("%s dlq %d@%d -> %s[%d]: %s key %s, version %s, generation %d%n", dryRun ? "would replay" : "replayed",
                        l.dlqPartition, l.dlqOffset, l.origTopic, l.origPartition, l.table, l.key == null ? "-" : l.key,
                        l.version == null ? "-" : l.version, l.generation);
            }

            long replayedTotal = replayed.values().stream().mapToLong(Long::longValue).sum();
            long skippedTotal = skipped.values().stream().mapToLong(Long::longValue).sum();
            out.printf("%s %d dead letter(s)%s%s%n", dryRun ? "Dry run: would replay" : "Replayed", replayedTotal,
                    replayed.isEmpty() ? "" : " (" + counts(replayed) + ")",
                    dryRun || replayedTotal == 0 ? "" : "; the writer applies them through its (generation, version) guard");
            if (skippedTotal > 0) {
                out.printf("Skipped %d: %s%n", skippedTotal, counts(skipped));
            }
            if (skipped.containsKey(TRANSFORM_REASON)) {
                out.println("  Transform-stage dead letters are not replayed: they need their legacy record re-processed by the "
                        + "transform (fix the record or the mapping, then re-produce it to the topic in " + DeadLetterFields.TOPIC + ").");
            }
            out.println("Dead-letter offsets covered: " + describeCovered(covered));
            out.println("To replay only later dead letters next time: --from-offset " + nextFromOffset(covered));
            return 0;
        }

        private void produce(List<Letter> letters) throws InterruptedException {
            Map<String, Object> props = new HashMap<>();
            props.put(ProducerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap());
            props.put(ProducerConfig.ACKS_CONFIG, "all");
            props.put(ProducerConfig.ENABLE_IDEMPOTENCE_CONFIG, true);
            props.put(ProducerConfig.CLIENT_ID_CONFIG, "understudy-dlq-replay");
            try (KafkaProducer<byte[], byte[]> producer = new KafkaProducer<>(props, new ByteArraySerializer(), new ByteArraySerializer())) {
                Map<String, Integer> partitionCounts = new HashMap<>();
                List<Future<RecordMetadata>> sent = new ArrayList<>();
                for (Letter l : letters) {
                    int partitions = partitionCounts.computeIfAbsent(l.origTopic, t -> producer.partitionsFor(t).size());
                    // The original partition keeps the change behind the earlier changes of its key.
                    Integer partition = l.origPartition >= 0 && l.origPartition < partitions ? l.origPartition : null;
                    RecordHeaders headers = new RecordHeaders();
                    for (String name : DeadLetterPublisher.CHANGE_HEADERS) {
                        Header h = l.record.headers().lastHeader(name);
                        if (h != null) {
                            headers.add(name, h.value());
                        }
                    }
                    sent.add(producer.send(new ProducerRecord<>(l.origTopic, partition, l.record.key(), l.record.value(), headers)));
                }
                for (int i = 0; i < sent.size(); i++) {
                    try {
                        sent.get(i).get();
                    } catch (ExecutionException e) {
                        Letter l = letters.get(i);
                        throw new IllegalStateException("Cannot replay dead letter " + l.dlqPartition + "@" + l.dlqOffset + " to "
                                + l.origTopic + ": " + e.getCause().getMessage() + " (" + i + " of " + sent.size()
                                + " acknowledged; replaying again is harmless)", e.getCause());
                    }
                }
            }
        }

        private static void skip(PrintStream out, Map<String, Long> skipped, Letter l, String reason) {
            skipped.merge(reason.startsWith("superseded") ? "superseded" : reason, 1L, Long::sum);
            out.printf("skipped dlq %d@%d (%s %s, %s): %s%n", l.dlqPartition, l.dlqOffset, l.stage,
                    l.table == null ? "-" : l.table, l.origin(), reason);
        }
    }

    /** By failure time (the record time for letters without one), then dead-letter partition and offset. */
    static final java.util.Comparator<Letter> CHRONOLOGICAL = java.util.Comparator
            .comparingLong((Letter l) -> l.failedAtMs != null ? l.failedAtMs : l.record.timestamp())
            .thenComparingInt(l -> l.dlqPartition).thenComparingLong(l -> l.dlqOffset);

    static final String TRANSFORM_REASON = "transform stage, not replayable";

    /** Why {@code l} cannot be replayed, or null when it can. */
    static String unreplayable(Letter l, String prefix) {
        if (DeadLetterFields.CAPTURE.equals(l.stage)) {
            return "the capture could not convert the legacy change (see its column and error); it never reached Kafka, so there is "
                    + "nothing to replay: fix the value in the legacy row (or the table's type, see docs/types.md) and the next change "
                    + "of the row carries it, or re-capture the row with `understudy repair --table`";
        }
        if (!DeadLetterFields.WRITER.equals(l.stage)) {
            return DeadLetterFields.TRANSFORM.equals(l.stage) ? TRANSFORM_REASON : "not written by understudy (no dead-letter headers)";
        }
        if (l.origTopic == null || !l.origTopic.startsWith(prefix + ".new.") || l.origPartition < 0 || l.origOffset < 0) {
            return "original topic is not a new-schema topic of pipeline " + prefix;
        }
        if (l.record.headers().lastHeader(ChangeHeaders.VERSION) == null) {
            return "no change headers (dead-lettered before they were kept, or the record had no valid version)";
        }
        return null;
    }

    // ---------------------------------------------------------------------------------------------

    /** One record of the dead-letter topic, with what its headers say. */
    static final class Letter {
        final ConsumerRecord<byte[], byte[]> record;
        final int dlqPartition;
        final long dlqOffset;
        final String stage;
        String table;
        String key;
        String origTopic;
        int origPartition = -1;
        long origOffset = -1;
        Long lsn;
        Long version;
        long joinedVersion;
        long generation;

        /** The dead-lettered change's order; an unknown version is the oldest. */
        ChangeOrder order() {
            return new ChangeOrder(generation, version == null ? Long.MIN_VALUE : version, joinedVersion, record.value() == null);
        }

        String sqlState;
        String error;
        Long failedAtMs;

        Letter(ConsumerRecord<byte[], byte[]> r, String prefix) {
            this.record = r;
            this.dlqPartition = r.partition();
            this.dlqOffset = r.offset();
            Headers h = r.headers();
            this.generation = ChangeHeaders.getLong(h, ChangeHeaders.GENERATION, 0);
            this.joinedVersion = ChangeHeaders.getLong(h, ChangeHeaders.JOINED_VERSION, 0);
            if (h.lastHeader(DeadLetterFields.TOPIC) != null) {
                String named = text(h, DeadLetterFields.STAGE);
                stage = named == null ? DeadLetterFields.WRITER : named;
                table = text(h, DeadLetterFields.TABLE);
                key = text(h, DeadLetterFields.KEY);
                origTopic = text(h, DeadLetterFields.TOPIC);
                origPartition = (int) number(h, DeadLetterFields.PARTITION, -1);
                origOffset = number(h, DeadLetterFields.OFFSET, -1);
                lsn = optional(h, DeadLetterFields.LSN);
                version = optional(h, DeadLetterFields.VERSION);
                sqlState = text(h, DeadLetterFields.SQLSTATE);
                error = text(h, DeadLetterFields.ERROR);
                failedAtMs = optional(h, DeadLetterFields.FAILED_AT_MS);
                String exception = text(h, DeadLetterFields.EXCEPTION);
                if (exception != null) {
                    error = exception.substring(exception.lastIndexOf('.') + 1) + ": " + error;
                }
                if (DeadLetterFields.TRANSFORM.equals(stage)) {
                    // The transform keeps the record as it was: its table is the topic's, and its
                    // position is in the change headers it carried.
                    table = table == null ? tableOf(origTopic, prefix) : table;
                    long v = ChangeHeaders.getLong(h, ChangeHeaders.VERSION, Long.MIN_VALUE);
                    if (version == null && v != Long.MIN_VALUE) {
                        version = v;
                    }
                    long lsnValue = ChangeHeaders.getLong(h, ChangeHeaders.LSN, -1);
                    if (lsn == null && lsnValue >= 0) {
                        lsn = lsnValue;
                    }
                }
            } else {
                stage = "unknown";
            }
            if (error != null) {
                int nl = error.indexOf('\n');
                error = nl < 0 ? error : error.substring(0, nl);
            }
        }

        String origin() {
            return origTopic == null ? "-" : origTopic + "[" + origPartition + "]@" + origOffset;
        }

        String toLine() {
            return String.format("dlq %d@%d  %s  %-7s  %s  key %s  from %s  lsn %s  version %s  sqlstate %s  %s",
                    dlqPartition, dlqOffset, failedAtMs == null ? "-" : Instant.ofEpochMilli(failedAtMs), stage,
                    table == null ? "-" : table, key == null ? "-" : key, origin(), lsn == null ? "-" : lsn,
                    version == null ? "-" : version + (generation != 0 ? " (generation " + generation + ")" : ""),
                    sqlState == null ? "-" : sqlState, error == null ? "-" : error);
        }

        Map<String, Object> toMap() {
            Map<String, Object> m = new LinkedHashMap<>();
            m.put("type", "dead_letter");
            m.put("dlq_partition", dlqPartition);
            m.put("dlq_offset", dlqOffset);
            m.put("failed_at", failedAtMs == null ? null : Instant.ofEpochMilli(failedAtMs).toString());
            m.put("stage", stage);
            m.put("table", table);
            m.put("key", key);
            m.put("topic", origTopic);
            m.put("partition", origPartition);
            m.put("offset", origOffset);
            m.put("lsn", lsn);
            m.put("version", version);
            m.put("generation", generation);
            m.put("sqlstate", sqlState);
            m.put("error", error);
            return m;
        }
    }

    /** The schema-qualified table in a topic name {@code <prefix>.<kind>.<schema>.<table>}, or null. */
    static String tableOf(String topic, String prefix) {
        if (topic == null || !topic.startsWith(prefix + ".")) {
            return null;
        }
        String rest = topic.substring(prefix.length() + 1);
        int dot = rest.indexOf('.');
        return dot < 0 || rest.indexOf('.', dot + 1) < 0 ? null : rest.substring(dot + 1);
    }

    /** Keys of dead letters the writer could not decode, and of transform ones, decoded for display if possible. */
    static final class KeyDecoder {
        private final AvroDeserializer deserializer;

        KeyDecoder(PipelineConfig cfg) {
            this.deserializer = new AvroDeserializer(new ConfluentRegistryClient(cfg.get(PipelineConfig.REGISTRY_URL), cfg.serdeConfig()));
        }

        String describe(Letter l) {
            if (l.record.key() == null || l.origTopic == null) {
                return null;
            }
            try {
                GenericRecord key = deserializer.deserialize(l.origTopic, l.record.key());
                return key == null ? null : key.toString();
            } catch (RuntimeException e) {
                // Not Avro of a known schema (often why it was dead-lettered): there is nothing better to show.
                return null;
            }
        }
    }

    private static String text(Headers h, String name) {
        Header header = h.lastHeader(name);
        return header == null || header.value() == null ? null : new String(header.value(), StandardCharsets.UTF_8);
    }

    private static Long optional(Headers h, String name) {
        String t = text(h, name);
        try {
            return t == null ? null : Long.parseLong(t.trim());
        } catch (NumberFormatException e) {
            return null;
        }
    }

    private static long number(Headers h, String name, long fallback) {
        Long v = optional(h, name);
        return v == null ? fallback : v;
    }

    /**
     * Reads {@code topic} from {@code starts} (per partition; else {@code allStart}; else the beginning)
     * up to its end offsets as of now. Returns per partition the offsets read, {start, end}, or null
     * when the topic does not exist.
     */
    static Map<Integer, long[]> readDeadLetters(String bootstrap, String topic, Map<Integer, Long> starts, Long allStart,
                                                Consumer<Letter> each) {
        String prefix = topic.substring(0, topic.length() - ".dlq".length());
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            List<PartitionInfo> infos = consumer.partitionsFor(topic, READ_TIMEOUT);
            if (infos == null || infos.isEmpty()) {
                return null;
            }
            List<TopicPartition> partitions = infos.stream().map(p -> new TopicPartition(topic, p.partition()))
                    .sorted(java.util.Comparator.comparingInt(TopicPartition::partition)).toList();
            Map<TopicPartition, long[]> ranges = readRange(consumer, partitions, tp -> starts.getOrDefault(tp.partition(), allStart),
                    r -> each.accept(new Letter(r, prefix)));
            Map<Integer, long[]> out = new TreeMap<>();
            ranges.forEach((tp, r) -> out.put(tp.partition(), r));
            return out;
        }
    }

    /**
     * For the keys of {@code letters}: every record of the key on its original topic partition from
     * the earliest dead-lettered offset there to the current end, as {offset, generation, version}.
     */
    static Map<String, List<long[]>> laterRecords(String bootstrap, List<Letter> letters) {
        Map<TopicPartition, Long> from = new HashMap<>();
        for (Letter l : letters) {
            from.merge(new TopicPartition(l.origTopic, l.origPartition), l.origOffset, Math::min);
        }
        Map<String, List<long[]>> out = new HashMap<>();
        if (from.isEmpty()) {
            return out;
        }
        java.util.Set<String> wanted = new java.util.HashSet<>();
        letters.forEach(l -> wanted.add(keyOf(l)));
        try (KafkaConsumer<byte[], byte[]> consumer = consumer(bootstrap)) {
            readRange(consumer, new ArrayList<>(from.keySet()), from::get, r -> {
                String k = keyOf(r.topic(), r.partition(), r.key());
                if (wanted.contains(k)) {
                    out.computeIfAbsent(k, x -> new ArrayList<>()).add(new long[]{r.offset(),
                            ChangeHeaders.getLong(r.headers(), ChangeHeaders.GENERATION, 0),
                            ChangeHeaders.getLong(r.headers(), ChangeHeaders.VERSION, Long.MIN_VALUE),
                            ChangeHeaders.getLong(r.headers(), ChangeHeaders.JOINED_VERSION, 0), r.value() == null ? 1 : 0});
                }
            });
        }
        return out;
    }

    /** The order of a later record of the original topic: {offset, generation, version, joined version, delete (1)}. */
    private static ChangeOrder order(long[] record) {
        return new ChangeOrder(record[1], record[2], record[3], record[4] == 1);
    }

    private static String keyOf(Letter l) {
        return keyOf(l.origTopic, l.origPartition, l.record.key());
    }

    private static String keyOf(String topic, int partition, byte[] key) {
        return topic + "[" + partition + "]" + (key == null ? "null" : java.util.HexFormat.of().formatHex(key));
    }

    private static KafkaConsumer<byte[], byte[]> consumer(String bootstrap) {
        Map<String, Object> props = new HashMap<>();
        props.put(ConsumerConfig.BOOTSTRAP_SERVERS_CONFIG, bootstrap);
        props.put(ConsumerConfig.ENABLE_AUTO_COMMIT_CONFIG, false);
        props.put(ConsumerConfig.CLIENT_ID_CONFIG, "understudy-dlq");
        // Only committed records: a dead letter of an aborted transaction was never a dead letter.
        props.put(ConsumerConfig.ISOLATION_LEVEL_CONFIG, "read_committed");
        return new KafkaConsumer<>(props, new ByteArrayDeserializer(), new ByteArrayDeserializer());
    }

    /**
     * Assigns {@code partitions}, seeks each to its start (null: the beginning) and reads to the end
     * offsets of now; returns per partition the offsets read, {start, end}.
     */
    private static Map<TopicPartition, long[]> readRange(KafkaConsumer<byte[], byte[]> consumer, List<TopicPartition> partitions,
                                  java.util.function.Function<TopicPartition, Long> start,
                                  Consumer<ConsumerRecord<byte[], byte[]>> each) {
        consumer.assign(partitions);
        Map<TopicPartition, Long> ends = consumer.endOffsets(partitions, READ_TIMEOUT);
        Map<TopicPartition, Long> beginnings = consumer.beginningOffsets(partitions, READ_TIMEOUT);
        List<TopicPartition> open = new ArrayList<>();
        Map<TopicPartition, long[]> ranges = new LinkedHashMap<>();
        for (TopicPartition tp : partitions) {
            Long s = start.apply(tp);
            long from = s == null ? beginnings.get(tp) : Math.max(s, beginnings.get(tp));
            ranges.put(tp, new long[]{Math.min(from, ends.get(tp)), ends.get(tp)});
            if (from < ends.get(tp)) {
                consumer.seek(tp, from);
                open.add(tp);
            }
        }
        consumer.assign(open);
        long deadline = System.nanoTime() + READ_TIMEOUT.toNanos();
        while (!open.isEmpty()) {
            if (System.nanoTime() > deadline) {
                throw new IllegalStateException("Timed out after " + READ_TIMEOUT.toSeconds() + " s reading " + open
                        + " up to offsets " + ends + "; check that Kafka is reachable");
            }
            for (ConsumerRecord<byte[], byte[]> r : consumer.poll(POLL)) {
                if (r.offset() < ends.get(new TopicPartition(r.topic(), r.partition()))) {
                    each.accept(r);
                }
            }
            // Positions, not offsets seen: transaction markers and compacted gaps have no record.
            open.removeIf(tp -> consumer.position(tp) >= ends.get(tp));
            consumer.assign(open);
        }
        return ranges;
    }

    /** Parses {@code N} (returned) or {@code P:N,...} (into {@code perPartition}); null for no option. */
    static Long parseFromOffset(String text, Map<Integer, Long> perPartition) {
        if (text == null || text.isBlank()) {
            return null;
        }
        try {
            if (!text.contains(":")) {
                return Long.parseLong(text.trim());
            }
            for (String part : text.split(",")) {
                String[] pn = part.trim().split(":");
                perPartition.put(Integer.parseInt(pn[0].trim()), Long.parseLong(pn[1].trim()));
            }
            return null;
        } catch (RuntimeException e) {
            throw new IllegalArgumentException("--from-offset '" + text + "' is neither N nor P:N[,P:N...] (e.g. 0:12,1:7)");
        }
    }

    /** {start, end} per partition as "partition 0 offsets 3..7, partition 1 none". */
    private static String describeCovered(Map<Integer, long[]> covered) {
        List<String> parts = new ArrayList<>();
        covered.forEach((p, r) -> parts.add("partition " + p + (r[0] < r[1] ? " offsets " + r[0] + ".." + (r[1] - 1) : " none")));
        return String.join(", ", parts);
    }

    /** The end offset of every partition: a later replay from there sees only dead letters written after this one. */
    private static String nextFromOffset(Map<Integer, long[]> covered) {
        List<String> parts = new ArrayList<>();
        covered.forEach((p, r) -> parts.add(p + ":" + r[1]));
        return String.join(",", parts);
    }

    private static void printNoTopic(PrintStream out, String topic, boolean json) {
        if (json) {
            out.println(toJson(Map.of("type", "summary", "topic", topic, "dead_letters", 0, "exists", false)));
        } else {
            out.println("No dead-letter topic " + topic + " on this cluster: nothing has been dead-lettered "
                    + "(or pipeline.name in the config is not the pipeline's).");
        }
    }

    private static String counts(Map<String, Long> counts) {
        List<String> parts = new ArrayList<>();
        counts.forEach((k, v) -> parts.add(k + " " + v));
        return String.join(", ", parts);
    }

    private static final ObjectMapper JSON = new ObjectMapper();

    private static String toJson(Object value) {
        try {
            return JSON.writeValueAsString(value);
        } catch (JsonProcessingException e) {
            throw new IllegalStateException(e);
        }
    }
}

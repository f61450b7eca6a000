package dev.understudy.cli;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.understudy.dlq.DeadLetter;
import dev.understudy.dlq.DeadLetterKeys;
import dev.understudy.dlq.DeadLetterRange;
import dev.understudy.dlq.DeadLetterReader;
import dev.understudy.dlq.DeadLetterReplay;
import dev.understudy.dlq.DeadLetterSummary;
import dev.understudy.dlq.ReplayReport;
import dev.understudy.dlq.StartOffsets;
import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.schemas.DeadLetterFields;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.PrintStream;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.Callable;

/**
 * Inspects the dead-letter topic ({@link dev.understudy.schemas.Topics#deadLetter}) and re-applies the
 * writer's dead letters once the target is fixed: {@link DeadLetterReader} and {@link DeadLetterReplay}
 * do the work, this prints it.
 */
@Command(name = "dlq", mixinStandardHelpOptions = true,
        description = "Inspect the dead-letter topic <pipeline>.dlq and replay the writer's dead letters after fixing the target.",
        subcommands = {DlqCommand.ListLetters.class, DlqCommand.Replay.class})
final class DlqCommand implements Runnable {
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
    }

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
            PipelineConfig cfg = PipelineConfig.load(config);
            PrintStream out = System.out;
            DeadLetterKeys keys = new DeadLetterKeys(cfg);
            DeadLetterReader reader = new DeadLetterReader(cfg);
            Optional<DeadLetterRange> range = reader.read(StartOffsets.FROM_START, DeadLetter.ofTable(table));
            if (range.isEmpty()) {
                printNoTopic(out, reader.topic(), json);
                return 0;
            }
            // Partitions interleave in the order polled; in time order the list reads as what happened.
            List<DeadLetter> letters = range.get().chronological();
            DeadLetterSummary summary = DeadLetterSummary.of(letters);
            long total = summary.total();
            long shown = limit == null ? total : Math.min(total, Math.max(0, limit));
            for (DeadLetter l : letters.subList(0, (int) shown)) {
                DeadLetter described = keys.described(l);
                out.println(json ? toJson(described.fields()) : described.line());
            }
            if (json) {
                out.println(toJson(summary.fields(reader.topic(), shown)));
            } else {
                out.printf("%d dead letter(s) in %s%s%s%n", total, reader.topic(), table == null ? "" : " for table " + table,
                        shown < total ? " (" + shown + " shown)" : "");
                if (total > 0) {
                    out.println("  by stage:    " + counts(summary.byStage()));
                    out.println("  by table:    " + counts(summary.byTable()));
                    out.println("  by SQLSTATE: " + counts(summary.bySqlState()));
                }
            }
            return 0;
        }
    }

    @Command(name = "replay", mixinStandardHelpOptions = true,
            description = {"Re-produce the writer's dead letters to the new-schema topics they came from, with their original key, "
                    + "value and change headers (version, LSN, generation, lineage, op, txid), so the running (or next) writer applies them "
                    + "through its normal ordering guard. Fix the target first (constraint, column type, ...).",
                    "Replaying twice is harmless: the writer orders changes (by lineage, version, joined version, generation) and drops a change it has "
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
            PrintStream out = System.out;
            DeadLetterReplay replay = new DeadLetterReplay(PipelineConfig.load(config));
            StartOffsets from = StartOffsets.parse(fromOffset);
            Optional<ReplayReport> planned = replay.plan(from, DeadLetter.ofTable(table));
            if (planned.isEmpty()) {
                printNoTopic(out, replay.topic(), false);
                return 0;
            }
            ReplayReport report = planned.get();
            for (ReplayReport.Skip s : report.skipped()) {
                DeadLetter l = s.letter();
                out.printf("skipped dlq %d@%d (%s %s, %s): %s%n", l.dlqPartition(), l.dlqOffset(), l.stage(),
                        l.table() == null ? "-" : l.table(), l.origin(), s.reason());
            }
            if (!dryRun) {
                replay.replay(report);
            }
            for (DeadLetter l : report.replayed()) {
                out.printf("%s dlq %d@%d -> %s[%d]: %s key %s, version %s, generation %d%n", dryRun ? "would replay" : "replayed",
                        l.dlqPartition(), l.dlqOffset(), l.originTopic(), l.originPartition(), l.table(), l.key() == null ? "-" : l.key(),
                        l.version() == null ? "-" : l.version(), l.generation());
            }
            int replayed = report.replayed().size();
            out.printf("%s %d dead letter(s)%s%s%n", dryRun ? "Dry run: would replay" : "Replayed", replayed,
                    replayed == 0 ? "" : " (" + counts(report.replayedByTable()) + ")",
                    dryRun || replayed == 0 ? "" : "; the writer applies them through its ordering guard");
            if (!report.skipped().isEmpty()) {
                out.printf("Skipped %d: %s%n", report.skipped().size(), counts(report.skippedByKind()));
            }
            if (report.skippedTransformLetters()) {
                out.println("  Transform-stage dead letters are not replayed: they need their legacy record re-processed by the "
                        + "transform (fix the record or the mapping, then re-produce it to the topic in " + DeadLetterFields.TOPIC + ").");
            }
            out.println("Dead-letter offsets covered: " + report.describeCovered());
            out.println("To replay only later dead letters next time: --from-offset " + report.nextFromOffset());
            return 0;
        }
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

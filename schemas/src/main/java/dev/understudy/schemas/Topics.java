package dev.understudy.schemas;

/**
 * Topic names, in one place. {@code prefix} defaults to "understudy" and separates pipelines
 * sharing a Kafka cluster.
 * <ul>
 *   <li>{@code <prefix>.legacy.<schema>.<table>}: change events captured from the legacy database;</li>
 *   <li>{@code <prefix>.new.<schema>.<table>}: rows of the new schema, what the target should hold;</li>
 *   <li>{@code <prefix>.target.<schema>.<table>}: change events captured from the target database, what it holds;</li>
 *   <li>{@code <prefix>.divergence}, {@code <prefix>.drift}, {@code <prefix>.dlq}.</li>
 * </ul>
 */
public final class Topics {
    private Topics() {
    }

    public static String legacy(String prefix, String qualifiedTable) {
        return prefix + ".legacy." + qualifiedTable;
    }

    public static String newSchema(String prefix, String qualifiedTable) {
        return prefix + ".new." + qualifiedTable;
    }

    public static String target(String prefix, String qualifiedTable) {
        return prefix + ".target." + qualifiedTable;
    }

    public static String divergence(String prefix) {
        return prefix + ".divergence";
    }

    public static String drift(String prefix) {
        return prefix + ".drift";
    }

    public static String deadLetter(String prefix) {
        return prefix + ".dlq";
    }

    /**
     * Source transaction commits announced by a capture: one partition, key the capture name (UTF-8),
     * value the commit order of a transaction ({@link ChangeHeaders#COMMIT_ORDER}) as an 8-byte
     * big-endian long, produced only after Kafka acknowledged every change of that transaction and of
     * all transactions before it.
     */
    public static String commits(String prefix) {
        return prefix + ".commits";
    }

    /** Results of {@code understudy verify}, one {@code VerifyResult} per table and run, keyed by table. */
    public static String verify(String prefix) {
        return prefix + ".verify";
    }

    /** The cutover gate's decisions with their evidence ({@code CutoverDecision}), keyed by pipeline: the audit trail. */
    public static String cutover(String prefix) {
        return prefix + ".cutover";
    }

    /** A capture's source offsets (Debezium's offset storage, compacted); {@code family} is {@code legacy} or {@code target}. */
    public static String offsets(String prefix, String family) {
        return prefix + ".offsets." + family;
    }

    /** The shadow writer's consumer group, also the key of its positions in the target. */
    public static String writerGroup(String prefix) {
        return prefix + "-shadow-writer";
    }

    /**
     * The Kafka Streams application (and consumer group) of spec generation {@code generation}'s
     * migration: a new generation is a new application, so it re-reads the legacy topics from their start.
     */
    public static String migrationApplication(String prefix, long generation) {
        return prefix + "-migration-g" + generation;
    }

    /** The Kafka Streams application of the comparison. */
    public static String comparisonApplication(String prefix) {
        return prefix + "-comparison";
    }

    /**
     * Whether {@code topic} is one of Kafka Streams application {@code applicationId}'s own topics
     * that carry records from one sub-topology to the next: a repartition topic
     * ({@code <application.id>-<name>-repartition}) or a foreign-key join's subscription and response
     * topics ({@code <application.id>-<name>-topic}, KIP-213); not a changelog
     * ({@code -changelog}). A generation's prefix never prefixes another generation's, because the
     * number is followed by the dash.
     */
    public static boolean isStreamsRecordTopic(String applicationId, String topic) {
        return topic.startsWith(applicationId + "-") && (topic.endsWith("-repartition") || topic.endsWith("-topic"));
    }
}

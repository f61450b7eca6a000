package dev.understudy.schemas;

import org.apache.avro.Schema;

import java.util.Locale;

/**
 * How a serializer names the registry subject of a key or value schema; the three strategies of
 * Confluent's serializers (io.confluent.kafka.serializers.subject.*), with the same results.
 */
public enum SubjectNameStrategy {
    /** {@code <topic>-key} / {@code <topic>-value}: one schema lineage per topic (Confluent's default). */
    TOPIC,
    /** The record's full name: one lineage per record type, whatever the topic. */
    RECORD,
    /** {@code <topic>-<record full name>}: one lineage per record type within a topic. */
    TOPIC_RECORD;

    public String subject(String topic, boolean isKey, Schema schema) {
        return switch (this) {
            case TOPIC -> SubjectNaming.topicName(topic, isKey);
            case RECORD -> recordName(schema, topic);
            case TOPIC_RECORD -> topic + "-" + recordName(schema, topic);
        };
    }

    private static String recordName(Schema schema, String topic) {
        if (schema.getType() != Schema.Type.RECORD) {
            throw new IllegalArgumentException("The record name strategies need a record schema, but topic '" + topic
                    + "' carries a " + schema.getType() + "; use the topic strategy (registry.subject.name.strategy=topic)");
        }
        return schema.getFullName();
    }

    /** Parses topic, record or topic_record (any case; dashes allowed), naming the accepted values when it fails. */
    public static SubjectNameStrategy parse(String text) {
        String t = text.trim().toUpperCase(Locale.ROOT).replace('-', '_');
        for (SubjectNameStrategy s : values()) {
            if (s.name().equals(t) || (s.name().replace("_", "") + "NAMESTRATEGY").equals(t.replace("_", ""))) {
                return s;
            }
        }
        throw new IllegalArgumentException("unknown subject name strategy '" + text + "'; expected topic, record or topic_record");
    }
}

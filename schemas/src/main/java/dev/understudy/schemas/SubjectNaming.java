package dev.understudy.schemas;

/** Confluent's default TopicNameStrategy: the subject is the topic name suffixed with -key or -value. */
public final class SubjectNaming {
    private SubjectNaming() {
    }

    public static String topicName(String topic, boolean isKey) {
        return topic + (isKey ? "-key" : "-value");
    }
}

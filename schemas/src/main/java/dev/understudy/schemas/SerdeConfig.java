package dev.understudy.schemas;

/**
 * How serializers use the registry, mirroring the Confluent serializer settings of the same names.
 *
 * @param subjectNameStrategy {@code key.subject.name.strategy} / {@code value.subject.name.strategy}
 * @param autoRegister        {@code auto.register.schemas}: register a schema the subject lacks; when
 *                            false, a schema must already be registered (looked up, never created)
 * @param useLatestVersion    {@code use.latest.version}: write with the subject's latest registered
 *                            schema instead of the record's own (fields matched by name)
 */
public record SerdeConfig(SubjectNameStrategy subjectNameStrategy, boolean autoRegister, boolean useLatestVersion) {
    public static SerdeConfig defaults() {
        return new SerdeConfig(SubjectNameStrategy.TOPIC, true, false);
    }
}

package dev.understudy.pipeline;

import dev.understudy.schemas.Compatibility;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.RegistryClient;
import dev.understudy.schemas.Topics;
import dev.understudy.transform.TableMapping;
import org.apache.avro.Schema;

import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;

/**
 * Registers the new-schema contracts (and their key schemas) before anything is produced, at the
 * configured compatibility level. A contract the registry would refuse stops the start with the
 * subject, the field, the rule and the fix, instead of failing on the first record later.
 */
final class ContractRegistration {
    private ContractRegistration() {
    }

    static void registerAll(RegistryClient registry, String prefix, List<TableMapping> mappings, String level) {
        Map<String, Schema> subjects = new LinkedHashMap<>();
        var strategy = registry.serdeConfig().subjectNameStrategy();
        // Dashboards read these: their contracts are held to the same level as the tables'.
        subjects.put(strategy.subject(Topics.divergence(prefix), false, Contracts.DIVERGENCE_EVENT), Contracts.DIVERGENCE_EVENT);
        subjects.put(strategy.subject(Topics.drift(prefix), false, Contracts.DRIFT), Contracts.DRIFT);
        for (TableMapping m : mappings) {
            String topic = Topics.newSchema(prefix, m.targetTable());
            subjects.put(strategy.subject(topic, true, m.targetKeySchema()), m.targetKeySchema());
            subjects.put(strategy.subject(topic, false, m.targetValueSchema()), m.targetValueSchema());
        }
        String upper = level.toUpperCase(Locale.ROOT);
        List<String> problems = new ArrayList<>();
        for (Map.Entry<String, Schema> e : subjects.entrySet()) {
            registry.setCompatibility(e.getKey(), upper);
            Schema latest = registry.latest(e.getKey()).map(RegistryClient.Registered::schema).orElse(null);
            List<String> reasons = Compatibility.explain(registry.incompatibilities(e.getKey(), e.getValue()), e.getValue(), latest);
            if (!reasons.isEmpty()) {
                int latestVersion = registry.latest(e.getKey()).map(RegistryClient.Registered::version).orElse(0);
                problems.add("contract " + e.getValue().getFullName() + " is not " + upper + " compatible with subject '" + e.getKey()
                        + "' (latest version " + latestVersion + "):\n      " + String.join("\n      ", reasons));
            }
        }
        if (!problems.isEmpty()) {
            throw new IllegalStateException("The schema registry would refuse " + problems.size() + " contract(s); nothing was produced:\n  - "
                    + String.join("\n  - ", problems));
        }
        for (Map.Entry<String, Schema> e : subjects.entrySet()) {
            registry.register(e.getKey(), e.getValue());
        }
    }
}

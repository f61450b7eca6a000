package dev.understudy.transform.spec;

import java.util.List;

/**
 * A migration spec that cannot be used, with every problem found (not just the first), one per
 * line of the message. An IllegalArgumentException because it is also what a {@link SpecTableMapping}
 * throws when a legacy row does not match the spec, which {@link dev.understudy.transform.TableMapping}
 * documents as IllegalArgumentException.
 */
public final class SpecException extends IllegalArgumentException {
    private final transient List<SpecProblem> problems;

    public SpecException(List<SpecProblem> problems) {
        super(message(problems));
        this.problems = List.copyOf(problems);
    }

    public List<SpecProblem> problems() {
        return problems;
    }

    private static String message(List<SpecProblem> problems) {
        StringBuilder sb = new StringBuilder("Migration spec has ").append(problems.size())
                .append(problems.size() == 1 ? " problem:" : " problems:");
        for (SpecProblem p : problems) {
            sb.append("\n  ").append(p);
        }
        return sb.toString();
    }
}

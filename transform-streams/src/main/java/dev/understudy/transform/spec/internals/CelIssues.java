package dev.understudy.transform.spec.internals;

import dev.cel.common.CelIssue;
import dev.cel.common.CelValidationResult;

import java.util.stream.Collectors;

/** CEL compiler issues as one line of text: "message (at column N)", joined. */
final class CelIssues {
    private CelIssues() {
    }

    static String summary(CelValidationResult result) {
        return result.getErrors().stream().map(CelIssues::one).collect(Collectors.joining("; "));
    }

    static String one(CelIssue issue) {
        // CelSourceLocation columns are 0-based; count from 1 as the line numbers do.
        int column = issue.getSourceLocation().getColumn();
        return issue.getMessage() + (column >= 0 ? " (at column " + (column + 1) + ")" : "");
    }
}

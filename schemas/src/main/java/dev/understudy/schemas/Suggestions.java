package dev.understudy.schemas;

import java.util.Collection;
import java.util.Comparator;
import java.util.Optional;

/** "Did you mean" for misspelt names (spec keys, config keys, columns): the closest candidate by edit distance, if close enough. */
public final class Suggestions {
    private Suggestions() {
    }

    public static Optional<String> closest(String name, Collection<String> candidates) {
        int limit = Math.max(2, name.length() / 3);
        return candidates.stream()
                .map(c -> new Object[]{c, distance(name.toLowerCase(), c.toLowerCase())})
                .filter(p -> (int) p[1] <= limit)
                .min(Comparator.comparingInt(p -> (int) p[1]))
                .map(p -> (String) p[0]);
    }

    /** " Did you mean 'x'?" or the empty string. */
    public static String didYouMean(String name, Collection<String> candidates) {
        return closest(name, candidates).map(c -> " Did you mean '" + c + "'?").orElse("");
    }

    static int distance(String a, String b) {
        int[] prev = new int[b.length() + 1];
        int[] cur = new int[b.length() + 1];
        for (int j = 0; j <= b.length(); j++) {
            prev[j] = j;
        }
        for (int i = 1; i <= a.length(); i++) {
            cur[0] = i;
            for (int j = 1; j <= b.length(); j++) {
                int cost = a.charAt(i - 1) == b.charAt(j - 1) ? 0 : 1;
                cur[j] = Math.min(Math.min(cur[j - 1] + 1, prev[j] + 1), prev[j - 1] + cost);
            }
            int[] t = prev;
            prev = cur;
            cur = t;
        }
        return prev[b.length()];
    }
}

package dev.understudy.schemas.config;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class ConfigKeyTest {
    private static final ConfigKey<String> URL = ConfigKey.requiredString("a.url", "Where a is.");
    private static final ConfigKey<String> SECRET = ConfigKey.secret("a.password", "", "A's password.");
    private static final ConfigKey<Integer> COUNT = ConfigKey.positiveInt("a.count", 3, "How many.");
    private static final ConfigKey<Long> WAIT = ConfigKey.positiveLong("b.wait.ms", 10, "Milliseconds to wait.");
    private static final ConfigKey<Boolean> FLAG = ConfigKey.bool("b.flag", true, "Whether.");
    private static final ConfigKey<String> MODE = ConfigKey.choice("b.mode", "one", List.of("one", "two"), "Which.")
            .withValidator(v -> v.equals("two") ? "is not supported yet" : null);
    /** As two stages would compose them: their lists concatenated. */
    private static final List<ConfigKey<?>> KEYS = List.of(URL, SECRET, COUNT, WAIT, FLAG, MODE);

    @Test
    void defaultsFillWhatIsUnsetAndTextIsParsedToTheKeysType() {
        ConfigValues v = ConfigValues.parse(KEYS, Map.of("a.url", " x ", "b.wait.ms", "25", "b.flag", "FALSE"));
        assertEquals("x", v.get(URL));
        assertEquals(3, v.get(COUNT));
        assertEquals(25L, v.get(WAIT));
        assertEquals(false, v.get(FLAG));
        assertEquals("one", v.get(MODE));
        assertEquals("an integer (default: 3)", COUNT.expectation());
        assertEquals("a string (required)", URL.expectation());
    }

    @Test
    void everyProblemIsReportedAtOnceNamingTheKey() {
        List<String> problems = new ArrayList<>();
        ConfigValues v = ConfigValues.parse(KEYS, Map.of("a.count", "0", "b.wait.ms", "soon", "b.flag", "yes", "b.mode", "two",
                "a.pasword", "hunter2", "a.password", "   "), problems);
        assertEquals(6, problems.size(), problems.toString());
        assertTrue(problems.contains("unknown key 'a.pasword'; did you mean 'a.password'?"), problems.toString());
        assertTrue(problems.contains("missing required key 'a.url': expects a string (required). Where a is."), problems.toString());
        assertTrue(problems.contains("key 'a.count' has value '0': must be greater than 0"), problems.toString());
        assertTrue(problems.contains("key 'b.wait.ms' has value 'soon': expects an integer (default: 10)"), problems.toString());
        assertTrue(problems.contains("key 'b.flag' has value 'yes': expects true or false (default: true)"), problems.toString());
        assertTrue(problems.contains("key 'b.mode' has value 'two': is not supported yet"), problems.toString());
        // Refused values have none; the others are there for checks between keys.
        assertNull(v.get(COUNT));
        assertEquals("", v.get(SECRET));

        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> ConfigValues.parse(KEYS, Map.of()));
        assertTrue(e.getMessage().contains("missing required key 'a.url'"), e.getMessage());
    }

    @Test
    void aStageSelectsItsOwnKeysAndSecretsStayHidden() {
        ConfigValues all = ConfigValues.parse(KEYS, Map.of("a.url", "x", "a.password", "s3cret", "b.wait.ms", "7"));
        assertTrue(all.toString().contains("a.password=******"), all.toString());
        ConfigValues b = all.select(List.of(WAIT, FLAG, MODE));
        assertEquals(7L, b.get(WAIT));
        assertEquals(List.of(WAIT, FLAG, MODE), b.keys());
        assertEquals(b, ConfigValues.parse(List.of(WAIT, FLAG, MODE), Map.of("b.wait.ms", "7")));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> b.get(URL));
        assertTrue(e.getMessage().contains("'a.url'"), e.getMessage());
    }

    @Test
    void aKeyDeclaredTwiceIsRefused() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class,
                () -> ConfigValues.parse(List.of(COUNT, ConfigKey.positiveInt("a.count", 5, "Again.")), Map.of()));
        assertTrue(e.getMessage().contains("'a.count' is declared twice"), e.getMessage());
    }
}

package dev.understudy.stack;

import org.junit.jupiter.api.Test;

import java.io.StringReader;
import java.util.Properties;

import static org.junit.jupiter.api.Assertions.assertEquals;

class EmbeddedStackTest {

    @Test
    void propertyValuesSurviveLoading() throws Exception {
        for (String value : new String[] {"jdbc:postgresql://localhost:5432/legacy", "a=b:c#d!e", " leading space",
                "back\\slash", "line\nbreak\ttab", "ünïcödé €", ""}) {
            Properties loaded = new Properties();
            loaded.load(new StringReader("k=" + EmbeddedStack.escapePropertyValue(value) + "\n"));
            assertEquals(value, loaded.getProperty("k"), value);
        }
    }

    @Test
    void bootstrapServersUseTheLoopbackAddress() {
        assertEquals("127.0.0.1:9092", EmbeddedKafka.loopbackBootstrap("localhost:9092"));
        assertEquals("127.0.0.1:1,127.0.0.1:2", EmbeddedKafka.loopbackBootstrap("localhost:1,localhost:2"));
    }
}

package dev.understudy.schemas;

import org.junit.jupiter.api.Test;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicBoolean;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class PausePointsTest {
    @Test
    void anInstalledListenerHearsEveryPointUntilItsHandleCloses() throws Exception {
        List<String> heard = new ArrayList<>();
        try (AutoCloseable ignored = PausePoints.install(heard::add)) {
            PausePoints.reach(PausePoints.WRITER_DECODED);
            PausePoints.reach(PausePoints.CAPTURE_BATCH_ACKNOWLEDGED);
        }
        PausePoints.reach(PausePoints.WRITER_BATCH_COMMITTED);
        assertEquals(List.of(PausePoints.WRITER_DECODED, PausePoints.CAPTURE_BATCH_ACKNOWLEDGED), heard);
    }

    @Test
    void aPauseHoldsTheThreadAtItsHitUntilReleased() throws Exception {
        PausePoints.Pause pause = PausePoints.pauseAt(PausePoints.WRITER_BATCH_APPLIED, 2, 30_000);
        AtomicBoolean passed = new AtomicBoolean();
        try (AutoCloseable ignored = PausePoints.install(pause)) {
            Thread stage = new Thread(() -> {
                PausePoints.reach(PausePoints.WRITER_BATCH_APPLIED); // hit 1 goes through
                PausePoints.reach(PausePoints.WRITER_DECODED);       // another point does not count
                PausePoints.reach(PausePoints.WRITER_BATCH_APPLIED); // hit 2 is held
                passed.set(true);
            });
            stage.start();
            assertTrue(pause.awaitReached(10_000), "the stage never reached its second hit");
            Thread.sleep(200);
            assertFalse(passed.get(), "the pause let the thread through before its release");
            pause.release();
            stage.join(10_000);
            assertTrue(passed.get());
        }
    }

    @Test
    void thePropertyNamesAPointAndAHit() {
        assertNull(PausePoints.fromProperty(" "));
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> PausePoints.fromProperty("writer.decoded:x"));
        assertTrue(e.getMessage().contains("-D" + PausePoints.PROPERTY) && e.getMessage().contains("whole number"), e.getMessage());
        // A listener for another point never halts this JVM.
        PausePoints.Listener l = PausePoints.fromProperty("no.such.point:1");
        l.reached(PausePoints.WRITER_DECODED);
    }
}

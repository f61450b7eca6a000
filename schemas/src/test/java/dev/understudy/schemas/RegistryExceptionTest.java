package dev.understudy.schemas;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RegistryExceptionTest {
    private static RegistryException status(int httpStatus) {
        return new RegistryException("registry said " + httpStatus, httpStatus, -1, null);
    }

    @Test
    void onlyANotFoundIsTheRecordsFault() {
        assertFalse(status(404).isTransient(), "an unknown schema id will not appear by asking again");
        for (int s : new int[]{-1, 401, 403, 408, 429, 500, 502, 503}) {
            assertTrue(status(s).isTransient(), "HTTP " + s + " fails every record alike until the registry is fixed");
        }
    }

    @Test
    void theCauseChainDecides() {
        RegistryException unreachable = status(-1);
        assertSame(unreachable, RegistryException.transientCause(new IllegalStateException("decoding failed", unreachable)));
        assertNull(RegistryException.transientCause(new IllegalStateException("decoding failed", status(404))));
        assertNull(RegistryException.transientCause(new IllegalArgumentException("not Avro")));
        assertNull(RegistryException.transientCause(null));
    }
}

package org.ecgnet.core;

import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

/** Shared test assertion: an action must be refused with an IllegalArgumentException naming the problem. */
final class Refusals {
    private Refusals() {}

    /** Runs {@code r}; passes only if it throws IllegalArgumentException whose message contains {@code message}. */
    static void assertRefused(String message, Runnable r) {
        try {
            r.run();
        } catch (IllegalArgumentException e) {
            assertTrue("message '" + e.getMessage() + "' should contain '" + message + "'",
                    e.getMessage().contains(message));
            return;
        }
        fail("expected IllegalArgumentException: " + message);
    }
}

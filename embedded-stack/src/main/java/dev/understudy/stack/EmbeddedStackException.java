package dev.understudy.stack;

/**
 * A component of the embedded stack could not be started or prepared. The message names the
 * component, the directory or port involved and what to do about it.
 */
public class EmbeddedStackException extends RuntimeException {
    private static final long serialVersionUID = 1L;

    public EmbeddedStackException(String message) {
        super(message);
    }

    public EmbeddedStackException(String message, Throwable cause) {
        super(message, cause);
    }
}

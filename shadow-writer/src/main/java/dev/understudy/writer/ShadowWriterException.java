package dev.understudy.writer;

/** The error that stopped a {@link ShadowWriter}; the message names the step, the records and what to do. */
public class ShadowWriterException extends RuntimeException {
    public ShadowWriterException(String message, Throwable cause) {
        super(message, cause);
    }
}

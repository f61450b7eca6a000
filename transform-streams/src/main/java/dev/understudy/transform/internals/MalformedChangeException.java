package dev.understudy.transform.internals;

/** A change record that cannot be processed as it is: a wrong envelope, an op without its row image. */
public final class MalformedChangeException extends RuntimeException {
    public MalformedChangeException(String message) {
        super(message);
    }
}

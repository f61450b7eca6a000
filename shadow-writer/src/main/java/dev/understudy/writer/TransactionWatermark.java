package dev.understudy.writer;

/**
 * How far source transactions are complete in the new-schema topics: every new-schema record of every
 * legacy transaction with a commit order ({@code understudy.commit_order} header) up to
 * {@link #complete()} has been produced and acknowledged. Records produced later carry a higher commit
 * order, or re-read history the writer has applied before.
 * <p>
 * The writer applies the records of transactions up to the watermark in one target transaction,
 * once it has read its partitions up to their end offsets measured after the watermark moved; that
 * is what keeps readers of the target from ever seeing part of a legacy transaction.
 */
@FunctionalInterface
public interface TransactionWatermark {
    /** No transaction known to be complete yet. */
    long NONE = Long.MIN_VALUE;

    /** The highest commit order whose transaction (and every earlier one) is complete, or {@link #NONE}. Thread-safe, cheap. */
    long complete();

    /**
     * What the watermark waits for now, in words (which step, which partitions short of which
     * offsets), for a writer reporting that it has held records for long; empty when it does not say.
     */
    default String waitingFor() {
        return "";
    }
}

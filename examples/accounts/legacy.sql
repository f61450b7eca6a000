-- Legacy side of the accounts case: a ledger service's balances and the transfers between them.
-- A transfer is one legacy transaction's debit, credit and transfers row together, so at every
-- commit the sum of balances is unchanged and each balance equals its opening balance plus the
-- transfers into it minus the transfers out of it. A reader of the target sees the same only
-- while the writer applies each legacy transaction whole (writer.transaction.boundaries).
CREATE TABLE public.accounts (
    id      int PRIMARY KEY,
    owner   text NOT NULL,
    balance bigint NOT NULL
);
CREATE TABLE public.transfers (
    id      bigserial PRIMARY KEY,
    from_id int NOT NULL,
    to_id   int NOT NULL,
    amount  bigint NOT NULL,
    at      timestamptz NOT NULL DEFAULT now()
);

-- The ledger in the new schema: owner becomes owner_name, the transfer's columns say what they hold.
-- Column types match the legacy ones (int stays int), so the target capture's keys are the same Avro
-- types as the contracts' and compare byte for byte.
CREATE TABLE public.accounts (
    id         int PRIMARY KEY,
    owner_name text NOT NULL,
    balance    bigint NOT NULL
);
-- No foreign keys to accounts: the writer applies each target table on its own, and with
-- writer.transaction.boundaries=false a transfer may land before its accounts' rows.
CREATE TABLE public.transfers (
    id             bigint PRIMARY KEY,
    from_account   int NOT NULL,
    to_account     int NOT NULL,
    amount         bigint NOT NULL,
    transferred_at timestamptz NOT NULL
);
-- Readers total an account's transfers by either side (the invariant check sums both).
CREATE INDEX transfers_from_account_idx ON public.transfers (from_account);
CREATE INDEX transfers_to_account_idx ON public.transfers (to_account);

-- v2: the read model gains the customer's country, kept live and backfilled for existing rows.
ALTER TABLE purchase_order_view ADD COLUMN customer_country text;

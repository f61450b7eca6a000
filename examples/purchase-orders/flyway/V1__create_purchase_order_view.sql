-- The read model: one row per purchase order with its customer's name (v1).
CREATE TABLE purchase_order_view (
    order_number  text PRIMARY KEY,
    customer_name text,
    total_cents   bigint,
    created_at    timestamptz
);

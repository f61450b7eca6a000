-- Legacy side of the reference case: two services' tables. A purchase order belongs to a customer.
CREATE TABLE public.customers (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    country    text,
    updated_at timestamptz NOT NULL DEFAULT now()
);
CREATE TABLE public.purchase_orders (
    id           bigserial PRIMARY KEY,
    order_number text NOT NULL UNIQUE,
    customer_id  bigint NOT NULL REFERENCES public.customers (id),
    total_cents  bigint NOT NULL,
    created_at   timestamptz NOT NULL DEFAULT now()
);

-- Target table of the users migration: legacy users with name renamed to full_name.
CREATE TABLE users (
    id         bigint PRIMARY KEY,
    full_name  text,
    email      text,
    created_at timestamptz
);

-- The legacy users table of the first migration (users -> users with full_name and birthdate).
CREATE TABLE public.users (
    id         bigserial PRIMARY KEY,
    name       text NOT NULL,
    email      text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now()
);
INSERT INTO public.users (name, email) VALUES ('Ada Lovelace', 'ada@example.com'), ('Alan Turing', 'alan@example.com');

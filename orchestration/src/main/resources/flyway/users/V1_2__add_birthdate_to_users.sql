-- v1.2_add_birthdate_to_users: a nullable column the legacy schema does not have.
ALTER TABLE users ADD COLUMN birthdate date;

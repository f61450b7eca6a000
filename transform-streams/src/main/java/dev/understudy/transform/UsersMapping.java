package dev.understudy.transform;

import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.transform.internals.Rows;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

import java.util.List;

/**
 * The first migration of {@code public.users} (target schema v1.2):
 * <ul>
 *   <li>{@code id} unchanged, the primary key on both sides;</li>
 *   <li>{@code name} renamed to {@code full_name};</li>
 *   <li>{@code email} unchanged;</li>
 *   <li>{@code birthdate} added as a nullable date (Flyway {@code V1_2__add_birthdate_to_users}); the
 *       legacy table has no source for it, so it is null until a backfill provides one;</li>
 *   <li>{@code created_at} unchanged, microseconds since the epoch in UTC.</li>
 * </ul>
 */
public final class UsersMapping implements TableMapping {
    public static final String SOURCE_TABLE = "public.users";
    public static final String TARGET_TABLE = "public.users";

    private static final Schema CONTRACT = Contracts.load("users.avsc");
    // The key's field types come from the contract, so the key can only drift from the row if the
    // contract itself changes; KeySchemas strips nullability exactly as the target capture does.
    private static final Schema KEY = KeySchemas.of("public", "users",
            List.of(new KeySchemas.KeyField("id", CONTRACT.getField("id").schema())));

    @Override
    public String sourceTable() {
        return SOURCE_TABLE;
    }

    @Override
    public String targetTable() {
        return TARGET_TABLE;
    }

    @Override
    public Schema targetKeySchema() {
        return KEY;
    }

    @Override
    public Schema targetValueSchema() {
        return CONTRACT;
    }

    @Override
    public GenericRecord targetKey(GenericRecord sourceRow) {
        GenericData.Record key = new GenericData.Record(KEY);
        key.put("id", Rows.requiredLong(sourceRow, SOURCE_TABLE, "id"));
        return key;
    }

    @Override
    public GenericRecord targetRow(GenericRecord sourceRow) {
        GenericData.Record row = new GenericData.Record(CONTRACT);
        row.put("id", Rows.requiredLong(sourceRow, SOURCE_TABLE, "id"));
        row.put("full_name", Rows.optionalString(sourceRow, SOURCE_TABLE, "name"));
        row.put("email", Rows.optionalString(sourceRow, SOURCE_TABLE, "email"));
        row.put("birthdate", null);
        row.put("created_at", Rows.optionalLong(sourceRow, SOURCE_TABLE, "created_at"));
        return row;
    }
}

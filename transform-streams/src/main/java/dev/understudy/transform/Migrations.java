package dev.understudy.transform;

import java.util.List;

/** The table mappings of the migration being shadowed. */
public final class Migrations {
    private Migrations() {
    }

    /** Every mapping of the current migration: today only {@code public.users} (target schema v1.2). */
    public static List<TableMapping> defaultMappings() {
        return List.of(new UsersMapping());
    }
}

package dev.understudy.transform;

import dev.understudy.transform.spec.MigrationSpec;

import java.nio.file.Path;
import java.util.List;

/** The table mappings of the migration being shadowed. */
public final class Migrations {
    private Migrations() {
    }

    /** Every mapping of the current migration: today only {@code public.users} (target schema v1.2). */
    public static List<TableMapping> defaultMappings() {
        return List.of(new UsersMapping());
    }

    /**
     * The mappings of a migration spec file, one per target.
     *
     * @throws dev.understudy.transform.spec.SpecException listing every problem of the spec
     */
    public static List<TableMapping> fromSpec(Path spec) {
        return List.copyOf(MigrationSpec.load(spec).mappings());
    }
}

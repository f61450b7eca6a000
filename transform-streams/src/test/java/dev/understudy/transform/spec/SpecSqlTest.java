package dev.understudy.transform.spec;

import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

/** The legacy side of verify, computed in SQL from a spec whose names are not all lower case. */
class SpecSqlTest {
    @TempDir
    Path dir;

    @Test
    void mixedCaseTablesAndColumnsAreQuotedAndAnExpressionNamingAColumnIsTranslated() throws IOException {
        Files.writeString(dir.resolve("Things.avsc"), """
                {"type": "record", "name": "Things", "namespace": "test", "fields": [
                  {"name": "Id", "type": "long"},
                  {"name": "Label", "type": ["null", "string"], "default": null}
                ]}
                """);
        Files.writeString(dir.resolve("spec.yaml"), """
                migration: v1_things
                flyway: "1"
                sources:
                  things: { table: Ledger_EU.Things }
                targets:
                  things:
                    table: Out.Things
                    from: things
                    contract: Things.avsc
                    key: [Id]
                    columns:
                      Id: { column: Id }
                      Label: { expression: "Name" }
                """);
        SpecTableMapping mapping = (SpecTableMapping) MigrationSpec.load(dir.resolve("spec.yaml")).mappings().get(0);
        SpecSql.Projection legacy = SpecSql.legacy(mapping, Map.of("Id", "bigint", "Label", "text"));
        assertEquals("\"Ledger_EU\".\"Things\" s", legacy.from());
        assertEquals("(s.\"Name\")::text", legacy.values().get(1));
        assertEquals("\"Out\".\"Things\" t", SpecSql.target(mapping).from());
    }
}

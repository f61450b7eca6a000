package dev.understudy.pipeline;

import dev.understudy.stack.EmbeddedPostgresServer;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.nio.file.Path;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

import static org.junit.jupiter.api.Assertions.assertEquals;

/**
 * Each generation's lineage per target, as recorded in the target database: kept while the key
 * derives from legacy rows the same way and the history is re-read from Kafka, new otherwise, and
 * the same at every later start of the generation.
 */
class MigrationGenerationsIT {
    private static final String PG_TIME_ZONE = System.getProperty("understudy.test.pg.timezone", "America/Sao_Paulo");

    private static Map<String, String> derivations(String... pairs) {
        Map<String, String> out = new LinkedHashMap<>();
        for (int i = 0; i < pairs.length; i += 2) {
            out.put(pairs[i], pairs[i + 1]);
        }
        return out;
    }

    @Test
    void aTargetKeepsItsLineageWhileItsKeyDerivesAlikeAndItsHistoryComesFromKafka(@TempDir Path work) {
        try (EmbeddedPostgresServer target = EmbeddedPostgresServer.start("target", work.resolve("target"), PG_TIME_ZONE)) {
            MigrationGenerations generations = new MigrationGenerations(target.jdbcUrl(), target.user(), target.password());
            String orders = "source=public.orders key=order_no<-order_no, join=public.clients.id<-client_id";

            MigrationGenerations.Generation g1 = generations.resolve("p", "v1", "f1", "1");
            Map<String, String> v1 = derivations("public.order_view", orders, "public.clients", "source=public.clients key=id<-id,");
            assertEquals(Map.of("public.order_view", 0L, "public.clients", 0L), generations.lineages(g1, v1, Set.of()),
                    "the first generation starts every target's first lineage");
            // A later start of the same generation reads what was decided, whatever it is told now.
            assertEquals(Map.of("public.order_view", 0L, "public.clients", 0L), generations.lineages(g1, v1, Set.of("public.clients")));

            MigrationGenerations.Generation g2 = generations.resolve("p", "v2", "f2", "2");
            Map<String, String> v2 = derivations("public.order_view", orders,
                    "public.clients", "source=public.clients key=code<-code,", "public.regions", "source=public.regions key=id<-id,");
            assertEquals(Map.of("public.order_view", 0L, "public.clients", 2L, "public.regions", 2L), generations.lineages(g2, v2, Set.of()),
                    "same derivation: kept; key copied from another column: new; a target no earlier generation recorded: new");
            assertEquals(2L, generations.lineage("p", 2, "public.clients"));
            assertEquals(0L, generations.lineage("p", 2, "public.order_view"));

            MigrationGenerations.Generation g3 = generations.resolve("p", "v3", "f3", "3");
            Map<String, String> v3 = derivations("public.order_view", orders.replace("client_id", "billing_client_id"),
                    "public.clients", "source=public.clients key=code<-code,", "public.regions", "source=public.regions key=id<-id,");
            assertEquals(Map.of("public.order_view", 3L, "public.clients", 2L, "public.regions", 3L),
                    generations.lineages(g3, v3, Set.of("public.regions")),
                    "another foreign key: new; unchanged since generation 2: kept; re-read by a snapshot: new");

            // Another pipeline on the same target database has lineages of its own.
            MigrationGenerations.Generation other = generations.resolve("q", "v1", "f1", "1");
            assertEquals(Map.of("public.order_view", 0L), generations.lineages(other, derivations("public.order_view", orders), Set.of()));
            assertEquals(0L, generations.lineage("q", 7, "public.order_view"), "nothing recorded reads as lineage 0");
        }
    }
}

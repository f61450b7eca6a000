package dev.understudy.schemas;

import org.junit.jupiter.api.Test;

import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;

class TopicsTest {
    @Test
    void aGenerationsRecordTopicsAreItsRepartitionAndJoinTopicsNotItsChangelogsNorAnotherGenerations() {
        String g1 = Topics.migrationApplication("shop", 1);
        assertTrue(Topics.isStreamsRecordTopic(g1, g1 + "-orders-table-repartition"));
        assertTrue(Topics.isStreamsRecordTopic(g1, g1 + "-orders-fk-join-subscription-registration-topic"));
        assertTrue(Topics.isStreamsRecordTopic(g1, g1 + "-orders-fk-join-subscription-response-topic"));
        assertFalse(Topics.isStreamsRecordTopic(g1, g1 + "-orders-store-changelog"));
        assertFalse(Topics.isStreamsRecordTopic(g1, Topics.migrationApplication("shop", 10) + "-orders-table-repartition"),
                "generation 10 is not generation 1");
        assertFalse(Topics.isStreamsRecordTopic(g1, "shop.legacy.public.orders"));
        assertFalse(Topics.isStreamsRecordTopic(g1, g1 + "-orders-store"), "neither a repartition nor a join topic");
    }
}

package dev.understudy.pipeline;

import dev.understudy.transform.WriterProgress;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;
import org.apache.avro.util.Utf8;
import org.apache.kafka.common.TopicPartition;
import org.junit.jupiter.api.Test;

import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;

class DeliveredWriterPositionsTest {
    private static final TopicPartition TARGET_0 = new TopicPartition("p.target.public.users", 0);
    /** The row schema the target capture derives from understudy.writer_position: every column nullable. */
    private static final Schema ROW = SchemaBuilder.record("Row").fields()
            .optionalString("group_id").optionalString("topic").optionalInt("partition").optionalLong("next_offset")
            .optionalLong("commit_order").endRecord();

    private static GenericRecord row(String group, String topic, int partition, long next) {
        GenericRecord r = new GenericData.Record(ROW);
        r.put("group_id", new Utf8(group));
        r.put("topic", new Utf8(topic));
        r.put("partition", partition);
        r.put("next_offset", next);
        return r;
    }

    @Test
    void anOffsetIsAppliedFromWhenTheCaptureFirstDeliveredAPositionPastIt() {
        DeliveredWriterPositions positions = new DeliveredWriterPositions("p-shadow-writer");
        assertEquals(WriterProgress.NOT_APPLIED, positions.appliedAtMs("p.new.public.users", 0, 0));

        positions.delivered(row("p-shadow-writer", "p.new.public.users", 0, 10), Map.of(TARGET_0, 40L), 1_000);
        positions.delivered(row("p-shadow-writer", "p.new.public.users", 0, 10), Map.of(TARGET_0, 45L), 2_000); // republished: still first seen at 1,000
        positions.delivered(row("p-shadow-writer", "p.new.public.users", 0, 25), Map.of(TARGET_0, 52L), 3_000);
        positions.delivered(row("another-group", "p.new.public.users", 0, 99), Map.of(), 500);
        positions.delivered(row("p-shadow-writer", "p.new.public.users", 1, 5), Map.of(TARGET_0, 60L), 4_000);

        assertEquals(1_000, positions.appliedAtMs("p.new.public.users", 0, 9));
        assertEquals(3_000, positions.appliedAtMs("p.new.public.users", 0, 10), "next offset 10 does not cover offset 10");
        assertEquals(3_000, positions.appliedAtMs("p.new.public.users", 0, 24));
        assertEquals(WriterProgress.NOT_APPLIED, positions.appliedAtMs("p.new.public.users", 0, 25));
        assertEquals(4_000, positions.appliedAtMs("p.new.public.users", 1, 4));
        assertEquals(WriterProgress.NOT_APPLIED, positions.appliedAtMs("p.new.public.orders", 0, 0));

        // How far the comparison must have read the target topic: as produced when the position was first delivered.
        assertEquals(40L, positions.targetOffsetAt("p.new.public.users", 0, 9, "p.target.public.users"));
        assertEquals(52L, positions.targetOffsetAt("p.new.public.users", 0, 10, "p.target.public.users"));
        assertEquals(-1L, positions.targetOffsetAt("p.new.public.users", 1, 4, "p.target.public.users"), "nothing produced to partition 1");
        assertEquals(-1L, positions.targetOffsetAt("p.new.public.users", 0, 25, "p.target.public.users"), "not delivered yet");
    }

    @Test
    void aRowLackingAColumnIsIgnored() {
        DeliveredWriterPositions positions = new DeliveredWriterPositions("g");
        GenericRecord r = row("g", "t", 0, 10);
        r.put("next_offset", null);
        positions.delivered(r, Map.of(), 1_000);
        assertEquals(WriterProgress.NOT_APPLIED, positions.appliedAtMs("t", 0, 0));
    }
}

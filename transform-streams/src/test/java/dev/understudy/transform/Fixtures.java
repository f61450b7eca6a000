package dev.understudy.transform;

import dev.understudy.schemas.ChangeEnvelope;
import dev.understudy.schemas.Contracts;
import dev.understudy.schemas.KeySchemas;
import org.apache.avro.LogicalTypes;
import org.apache.avro.Schema;
import org.apache.avro.SchemaBuilder;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

import java.nio.file.Path;
import java.util.List;
import java.util.Properties;

/** Records shaped as the captures produce them, for topology tests. */
final class Fixtures {
    static final String PREFIX = "understudy";
    static final String TABLE = "public.users";

    static final Schema TIMESTAMP_MICROS = LogicalTypes.timestampMicros().addToSchema(Schema.create(Schema.Type.LONG));
    static final Schema DATE = LogicalTypes.date().addToSchema(Schema.create(Schema.Type.INT));

    /** The legacy users row as the legacy capture builds it: every column nullable. */
    static final Schema LEGACY_ROW = SchemaBuilder.record("Value").namespace("understudy.public.users").fields()
            .name("id").type().optional().longType()
            .name("name").type().optional().stringType()
            .name("email").type().optional().stringType()
            .name("created_at").type(nullable(TIMESTAMP_MICROS)).withDefault(null)
            .endRecord();
    static final Schema LEGACY_ENVELOPE = ChangeEnvelope.of("public", "users", LEGACY_ROW);

    /** The target users row as the target capture builds it, with a column the contract does not know. */
    static final Schema TARGET_ROW = SchemaBuilder.record("Value").namespace("understudy.public.users").fields()
            .name("id").type().optional().longType()
            .name("full_name").type().optional().stringType()
            .name("email").type().optional().stringType()
            .name("birthdate").type(nullable(DATE)).withDefault(null)
            .name("created_at").type(nullable(TIMESTAMP_MICROS)).withDefault(null)
            .name("migrated_by").type().optional().stringType()
            .endRecord();
    static final Schema TARGET_ENVELOPE = ChangeEnvelope.of("public", "users", TARGET_ROW);

    /** The key both captures build for users: KeySchemas over the primary key. */
    static final Schema USERS_KEY = KeySchemas.of("public", "users",
            List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));

    static final Schema CONTRACT = Contracts.load("users.avsc");

    private Fixtures() {
    }

    /** Legacy purchase orders and customers, as the capture of specs/purchase_orders.yaml's sources produces them. */
    static final Schema ORDER_ROW = SchemaBuilder.record("Value").namespace("understudy.public.purchase_orders").fields()
            .name("id").type().optional().longType()
            .name("order_number").type().optional().stringType()
            .name("customer_id").type().optional().longType()
            .name("amount").type().optional().longType()
            .endRecord();
    static final Schema ORDER_ENVELOPE = ChangeEnvelope.of("public", "purchase_orders", ORDER_ROW);
    static final Schema ORDER_KEY = KeySchemas.of("public", "purchase_orders",
            List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));

    static final Schema CUSTOMER_ROW = SchemaBuilder.record("Value").namespace("understudy.public.customers").fields()
            .name("id").type().optional().longType()
            .name("name").type().optional().stringType()
            .name("country").type().optional().stringType()
            .endRecord();
    static final Schema CUSTOMER_ENVELOPE = ChangeEnvelope.of("public", "customers", CUSTOMER_ROW);
    static final Schema CUSTOMER_KEY = KeySchemas.of("public", "customers",
            List.of(new KeySchemas.KeyField("id", Schema.create(Schema.Type.LONG))));

    static Schema nullable(Schema s) {
        return Schema.createUnion(Schema.create(Schema.Type.NULL), s);
    }

    static GenericRecord key(long id) {
        GenericData.Record k = new GenericData.Record(USERS_KEY);
        k.put("id", id);
        return k;
    }

    static GenericRecord legacyRow(Long id, String name, String email, Long createdAtMicros) {
        GenericData.Record r = new GenericData.Record(LEGACY_ROW);
        r.put("id", id);
        r.put("name", name);
        r.put("email", email);
        r.put("created_at", createdAtMicros);
        return r;
    }

    static GenericRecord targetRow(long id, String fullName, String email, Integer birthdateDays, Long createdAtMicros,
                                   String migratedBy) {
        GenericData.Record r = new GenericData.Record(TARGET_ROW);
        r.put("id", id);
        r.put("full_name", fullName);
        r.put("email", email);
        r.put("birthdate", birthdateDays);
        r.put("created_at", createdAtMicros);
        r.put("migrated_by", migratedBy);
        return r;
    }

    static GenericRecord contractRow(long id, String fullName, String email, Integer birthdateDays, Long createdAtMicros) {
        GenericData.Record r = new GenericData.Record(CONTRACT);
        r.put("id", id);
        r.put("full_name", fullName);
        r.put("email", email);
        r.put("birthdate", birthdateDays);
        r.put("created_at", createdAtMicros);
        return r;
    }

    static GenericRecord source(String connector, long lsn, Long txId, boolean snapshot) {
        GenericData.Record s = new GenericData.Record(Contracts.SOURCE);
        s.put("connector", connector);
        s.put("db", connector + "_db");
        s.put("schema", "public");
        s.put("table", "users");
        s.put("lsn", lsn);
        s.put("txId", txId);
        s.put("tsMs", 1_700_000_000_000L);
        s.put("snapshot", snapshot);
        return s;
    }

    static GenericRecord envelope(Schema envelopeSchema, GenericRecord before, GenericRecord after, String op, GenericRecord source) {
        GenericData.Record e = new GenericData.Record(envelopeSchema);
        e.put(ChangeEnvelope.BEFORE, before);
        e.put(ChangeEnvelope.AFTER, after);
        e.put(ChangeEnvelope.OP, op);
        e.put(ChangeEnvelope.SOURCE, source);
        return e;
    }

    static GenericRecord legacyChange(GenericRecord before, GenericRecord after, String op, long lsn, Long txId, boolean snapshot) {
        return envelope(LEGACY_ENVELOPE, before, after, op, source("legacy", lsn, txId, snapshot));
    }

    static GenericRecord targetChange(GenericRecord before, GenericRecord after, String op, long lsn) {
        return envelope(TARGET_ENVELOPE, before, after, op, source("target", lsn, 900L, false));
    }

    static Properties driverProperties(Path stateDir) {
        return StreamsProperties.of("understudy-test", "unused:9092", stateDir, 1);
    }
}

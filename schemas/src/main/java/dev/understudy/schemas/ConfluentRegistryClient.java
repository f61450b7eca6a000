package dev.understudy.schemas;

import org.apache.avro.Schema;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.avro.AvroSchema;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.CachedSchemaRegistryClient;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.SchemaMetadata;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.SchemaRegistryClient;
import org.apache.flink.avro.registry.confluent.shaded.io.confluent.kafka.schemaregistry.client.rest.exceptions.RestClientException;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.concurrent.ConcurrentHashMap;

/**
 * {@link RegistryClient} over Confluent's own client ({@code CachedSchemaRegistryClient}, Apache 2.0),
 * which Maven Central carries relocated inside {@code org.apache.flink:flink-sql-avro-confluent-registry}.
 * Its Avro is relocated too, so schemas cross between the two Avro copies as JSON text. Confluent's
 * client caches ids both ways; the parsed schemas of this side are cached here.
 */
public final class ConfluentRegistryClient implements RegistryClient {
    private static final int IDENTITY_MAP_CAPACITY = 10_000;

    private final String url;
    private final SchemaRegistryClient client;
    private final SerdeConfig serdeConfig;
    private final Map<Integer, Schema> byId = new ConcurrentHashMap<>();

    public ConfluentRegistryClient(String url, SerdeConfig serdeConfig) {
        this.url = url;
        this.client = new CachedSchemaRegistryClient(url, IDENTITY_MAP_CAPACITY);
        this.serdeConfig = serdeConfig;
    }

    public ConfluentRegistryClient(String url) {
        this(url, SerdeConfig.defaults());
    }

    public String url() {
        return url;
    }

    @Override
    public SerdeConfig serdeConfig() {
        return serdeConfig;
    }

    @Override
    public int register(String subject, Schema schema) {
        try {
            int id = client.register(subject, new AvroSchema(schema.toString()));
            byId.putIfAbsent(id, schema);
            return id;
        } catch (IOException | RestClientException e) {
            throw failure("registering a schema under subject '" + subject + "'", e);
        }
    }

    @Override
    public Optional<Integer> lookup(String subject, Schema schema) {
        try {
            return Optional.of(client.getId(subject, new AvroSchema(schema.toString())));
        } catch (RestClientException e) {
            // 40401 subject not found, 40403 schema not found under the subject
            if (e.getStatus() == 404) {
                return Optional.empty();
            }
            throw failure("looking up a schema under subject '" + subject + "'", e);
        } catch (IOException e) {
            throw failure("looking up a schema under subject '" + subject + "'", e);
        }
    }

    @Override
    public Schema byId(int id) {
        Schema cached = byId.get(id);
        if (cached != null) {
            return cached;
        }
        try {
            Schema schema = new Schema.Parser().parse(client.getSchemaById(id).canonicalString());
            byId.putIfAbsent(id, schema);
            return schema;
        } catch (IOException | RestClientException e) {
            throw failure("fetching schema id " + id, e);
        }
    }

    @Override
    public Optional<Registered> latest(String subject) {
        try {
            SchemaMetadata m = client.getLatestSchemaMetadata(subject);
            return Optional.of(new Registered(subject, m.getVersion(), m.getId(), new Schema.Parser().parse(m.getSchema())));
        } catch (RestClientException e) {
            if (e.getStatus() == 404) {
                return Optional.empty();
            }
            throw failure("reading the latest version of subject '" + subject + "'", e);
        } catch (IOException e) {
            throw failure("reading the latest version of subject '" + subject + "'", e);
        }
    }

    @Override
    public List<String> incompatibilities(String subject, Schema schema) {
        try {
            return client.testCompatibilityVerbose(subject, new AvroSchema(schema.toString()));
        } catch (RestClientException e) {
            if (e.getStatus() == 404) {
                return List.of();
            }
            throw failure("testing compatibility under subject '" + subject + "'", e);
        } catch (IOException e) {
            throw failure("testing compatibility under subject '" + subject + "'", e);
        }
    }

    @Override
    public void setCompatibility(String subject, String level) {
        try {
            client.updateCompatibility(subject, level);
        } catch (IOException | RestClientException e) {
            throw failure("setting compatibility " + level + " on subject '" + subject + "'", e);
        }
    }

    private RegistryException failure(String what, Exception e) {
        if (e instanceof RestClientException r) {
            return new RegistryException("Schema registry at " + url + " refused " + what + ": HTTP " + r.getStatus()
                    + ", error " + r.getErrorCode() + ": " + r.getMessage(), r.getStatus(), r.getErrorCode(), e);
        }
        return new RegistryException("Schema registry at " + url + " is unreachable while " + what + ": " + e
                + ". Check registry.url and that the registry is running.", -1, -1, e);
    }
}

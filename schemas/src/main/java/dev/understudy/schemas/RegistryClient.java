package dev.understudy.schemas;

import org.apache.avro.Schema;

import java.util.Optional;

/**
 * The part of the Confluent Schema Registry REST API the pipeline relies on. Kept small so that
 * the implementation behind it can be swapped (a thin HTTP client today, Confluent's client later)
 * without touching the serdes.
 */
public interface RegistryClient {

    /** Registers {@code schema} under {@code subject} (or finds it) and returns its global id. */
    int register(String subject, Schema schema);

    /** The schema with this global id; cached, since ids are immutable. */
    Schema byId(int id);

    /** The latest live version under {@code subject}, if the subject exists. */
    Optional<Registered> latest(String subject);

    /** A schema as the registry holds it under a subject. */
    record Registered(String subject, int version, int id, Schema schema) {
    }
}

package dev.understudy.schemas;

import java.nio.ByteBuffer;

/**
 * The Confluent wire format: magic byte 0, the schema id as a 4-byte big-endian int, then the
 * Avro binary encoding of the datum
 * (https://docs.confluent.io/platform/current/schema-registry/fundamentals/serdes-develop/index.html#wire-format).
 */
public final class WireFormat {
    public static final byte MAGIC_BYTE = 0;
    public static final int HEADER_SIZE = 5;

    private WireFormat() {
    }

    /** The schema id of a wire-format payload; fails naming the first byte when it is not one. */
    public static int schemaId(byte[] payload, String where) {
        if (payload == null || payload.length < HEADER_SIZE) {
            throw new IllegalArgumentException("Not a schema-registry payload at " + where + ": "
                    + (payload == null ? "null" : payload.length + " bytes") + "; expected at least 5 bytes (magic byte 0 + 4-byte schema id)");
        }
        if (payload[0] != MAGIC_BYTE) {
            throw new IllegalArgumentException("Not a schema-registry payload at " + where + ": first byte is "
                    + payload[0] + ", expected magic byte 0. Was this record written by a producer without the registry serializer?");
        }
        return ByteBuffer.wrap(payload, 1, 4).getInt();
    }
}

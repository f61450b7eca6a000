package dev.understudy.transform.internals;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.DataOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;

/**
 * A reported, not yet resolved divergence as kept in the open-divergences store: the state last
 * reported (to tell whether a new state must be reported) and since when the key has disagreed.
 * Stored in a small versioned binary form; the store's changelog outlives releases.
 */
public record OpenDivergence(Divergence reported, long openSinceMs) {
    private static final byte FORMAT = 1;

    public byte[] encode() {
        ByteArrayOutputStream bytes = new ByteArrayOutputStream(64);
        try (DataOutputStream out = new DataOutputStream(bytes)) {
            out.writeByte(FORMAT);
            out.writeLong(openSinceMs);
            writeString(out, reported.kind().name());
            out.writeInt(reported.fields().size());
            for (Divergence.FieldDifference f : reported.fields()) {
                writeString(out, f.name());
                writeString(out, f.expected());
                writeString(out, f.actual());
            }
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
        return bytes.toByteArray();
    }

    public static OpenDivergence decode(byte[] data) {
        try (DataInputStream in = new DataInputStream(new ByteArrayInputStream(data))) {
            byte format = in.readByte();
            if (format != FORMAT) {
                throw new IllegalStateException("Open-divergence store entry has format " + format + ", this version reads format "
                        + FORMAT + "; reset the comparison application's state (kafka-streams-application-reset) after a downgrade");
            }
            long openSince = in.readLong();
            Divergence.Kind kind = Divergence.Kind.valueOf(readString(in));
            int n = in.readInt();
            List<Divergence.FieldDifference> fields = new ArrayList<>(n);
            for (int i = 0; i < n; i++) {
                fields.add(new Divergence.FieldDifference(readString(in), readString(in), readString(in)));
            }
            return new OpenDivergence(new Divergence(kind, fields), openSince);
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static void writeString(DataOutputStream out, String s) throws IOException {
        if (s == null) {
            out.writeInt(-1);
            return;
        }
        byte[] b = s.getBytes(StandardCharsets.UTF_8);
        out.writeInt(b.length);
        out.write(b);
    }

    private static String readString(DataInputStream in) throws IOException {
        int len = in.readInt();
        if (len < 0) {
            return null;
        }
        byte[] b = new byte[len];
        in.readFully(b);
        return new String(b, StandardCharsets.UTF_8);
    }
}

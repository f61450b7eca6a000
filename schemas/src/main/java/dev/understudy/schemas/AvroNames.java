package dev.understudy.schemas;

/** Avro names allow [A-Za-z_][A-Za-z0-9_]*; database identifiers allow more. */
public final class AvroNames {
    private AvroNames() {
    }

    public static String sanitize(String identifier) {
        StringBuilder sb = new StringBuilder(identifier.length());
        for (int i = 0; i < identifier.length(); i++) {
            char c = identifier.charAt(i);
            boolean ok = c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9');
            sb.append(ok ? c : '_');
        }
        return sb.toString();
    }
}

package dev.understudy.capture;

import dev.understudy.schemas.SqlNames;
import io.debezium.config.CommonConnectorConfig;
import io.debezium.config.Configuration;
import io.debezium.connector.postgresql.PostgresConnectorConfig;
import io.debezium.connector.postgresql.PostgresValueConverter;
import io.debezium.connector.postgresql.TypeRegistry;
import io.debezium.connector.postgresql.connection.PostgresConnection;
import io.debezium.relational.CustomConverterRegistry;
import io.debezium.relational.Table;
import io.debezium.relational.TableId;
import io.debezium.relational.TableSchema;
import io.debezium.relational.TableSchemaBuilder;
import io.debezium.relational.Tables;
import io.debezium.relational.mapping.ColumnMappers;
import io.debezium.spi.converter.ConvertedField;
import io.debezium.spi.converter.CustomConverter;
import io.debezium.util.ColumnUtils;
import org.apache.avro.generic.GenericRecord;
import org.apache.kafka.connect.data.SchemaBuilder;
import org.apache.kafka.clients.producer.ProducerRecord;
import org.apache.kafka.connect.data.Struct;
import org.postgresql.replication.LogSequenceNumber;

import java.nio.charset.Charset;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.util.List;
import java.util.Properties;
import java.util.function.BiConsumer;
import java.util.function.Consumer;
import java.util.stream.Collectors;

/**
 * Legacy row images exactly as the capture's initial snapshot makes them, read by anyone: the Avro
 * key and envelope (op "r") that {@link CdcCapture} would produce for a row its snapshot reads.
 * <p>
 * Why: a bulk load writes the target by {@code COPY}, but the migration still needs each legacy
 * row's image in its state (unchanged TOAST values, the target key a row leaves, the comparison's
 * expected rows; docs/architecture.md, "Toward a bulk initial load"). An image that differs from
 * the capture's by one value would make a later change map differently than on the streaming path.
 * So nothing here converts a value itself: each step is the one Debezium's snapshot takes
 * ({@code RelationalSnapshotChangeEventSource.doCreateDataEventsForTable}, Debezium 3.6): the table's
 * structure read by {@code JdbcConnection.readSchema}, its key and row schemas built by
 * {@link TableSchemaBuilder} with the capture's own settings and custom converter
 * ({@link ExactValueConverter}), each row read by {@code PostgresConnection.getColumnValue} through
 * {@code rowToArray} and turned into Connect structs by the {@link TableSchema}; the structs then go
 * through the capture's own {@link ChangeEventConverter}. {@code SnapshotImagesIT} compares the
 * result with the capture's snapshot records of the same rows, every type of docs/types.md.
 * <p>
 * The rows are read on a connection the caller gives, typically one that imported an
 * {@link ExportedSnapshot}, so that images and the slot's change stream fit together. One instance
 * per thread: Debezium's connection and converters keep per-call state (pgjdbc's
 * {@code TimestampUtils}, for one) and are not safe to share.
 */
public final class SnapshotImages implements AutoCloseable {
    /** One row's image: the legacy topic, and the key and envelope the capture produces there. */
    public record Image(String topic, GenericRecord key, GenericRecord envelope) {
    }

    private final CaptureSettings settings;
    private final PostgresConnectorConfig config;
    private final PostgresConnection connection;
    private final TableSchemaBuilder schemaBuilder;
    private final ChangeEventConverter converter;
    private final String database;

    private SnapshotImages(CaptureSettings settings) {
        this.settings = settings;
        Properties properties = settings.debeziumProperties();
        this.config = new PostgresConnectorConfig(Configuration.from(properties));
        Charset charset;
        try (PostgresConnection probe = new PostgresConnection(config.getJdbcConfig(), PostgresConnection.CONNECTION_GENERAL)) {
            charset = probe.getDatabaseCharset();
        }
        TypeRegistry types = PostgresConnection.createTypeRegistry(config.getJdbcConfig());
        PostgresConnection.PostgresValueConverterBuilder values = registry -> PostgresValueConverter.of(config, charset, registry);
        this.connection = new PostgresConnection(config.getJdbcConfig(), types, values, PostgresConnection.CONNECTION_GENERAL);
        // The capture's converters=exact, instantiated and configured as Debezium does for a
        // connector's custom converters (CustomConverterServiceProvider): the properties under the
        // converter's prefix, without it.
        ExactValueConverter exact = new ExactValueConverter();
        exact.configure(prefixed(properties, "exact."));
        @SuppressWarnings({"unchecked", "rawtypes"})
        List<CustomConverter<SchemaBuilder, ConvertedField>> converters = List.of((CustomConverter) exact);
        this.schemaBuilder = new TableSchemaBuilder(values.build(connection.getTypeRegistry()), connection.getDefaultValueConverter(),
                config.schemaNameAdjuster(), new CustomConverterRegistry(converters), config.getSourceInfoStructMaker().schema(),
                config.getFieldNamer(), false, config.getEventConvertingFailureHandlingMode());
        this.converter = new ChangeEventConverter(settings.name());
        this.database = config.getJdbcConfig().getDatabase();
    }

    /** Images as the capture of {@code settings} makes them; connects to its database for the tables' structure. */
    public static SnapshotImages open(CaptureSettings settings) {
        return new SnapshotImages(settings);
    }

    /**
     * The reader of one table's images, {@code schema.table} as the capture names it. The structure
     * is read now, on Debezium's own connection: read it again after the table's DDL changes.
     */
    public TableImages table(String qualifiedTable) throws SQLException {
        int dot = qualifiedTable.indexOf('.');
        if (dot < 0) {
            throw new IllegalArgumentException("Table '" + qualifiedTable + "' is not schema-qualified; name it as the capture does,"
                    + " e.g. public." + qualifiedTable);
        }
        TableId id = new TableId(null, qualifiedTable.substring(0, dot), qualifiedTable.substring(dot + 1));
        Tables tables = new Tables();
        connection.readSchema(tables, null, id.schema(), id::equals, null, true);
        Table table = tables.forTable(id);
        if (table == null) {
            throw new SQLException("Table " + qualifiedTable + " does not exist in " + settings.jdbcUrl()
                    + "; check the spec's source tables against the legacy database", "42P01");
        }
        TableSchema schema = schemaBuilder.create(config.getTopicNamingStrategy(CommonConnectorConfig.TOPIC_NAMING_STRATEGY), table,
                config.getColumnFilter(), ColumnMappers.create(config), config.getKeyMapper());
        if (schema.keySchema() == null) {
            throw new IllegalStateException("Table " + qualifiedTable + " has no primary key, so its rows cannot be keyed; add one"
                    + " (ALTER TABLE " + qualifiedTable + " ADD PRIMARY KEY (...)) or leave the table out of the spec");
        }
        return new TableImages(table, schema, settings.debeziumTopicPrefix() + "." + qualifiedTable,
                converter.codec(id.schema(), id.table(), schema.keySchema(), schema.valueSchema()));
    }

    @Override
    public void close() {
        connection.close();
    }

    /** The images of one table. */
    public final class TableImages {
        private final Table table;
        private final TableSchema schema;
        private final String topic;
        private final ChangeEventConverter.TableCodec codec;

        private TableImages(Table table, TableSchema schema, String topic, ChangeEventConverter.TableCodec codec) {
            this.table = table;
            this.schema = schema;
            this.topic = topic;
            this.codec = codec;
        }

        /** The legacy topic the images belong to. */
        public String topic() {
            return topic;
        }

        /**
         * The statement that reads the table's rows where {@code predicate} holds (none: every row),
         * selecting the columns the capture's snapshot selects, in the table's order: as they are,
         * but a {@code date} as its text, exactly as the capture's snapshot overrides do and for the
         * same reason ({@link SourceDatabase#snapshotOverrides()}: pgjdbc's java.sql.Date loses the
         * ten days 1582-10-05..14).
         */
        public String select(String predicate) {
            String columns = table.columns().stream()
                    .map(c -> "date".equals(c.typeName()) ? SqlNames.quote(c.name()) + "::text AS " + SqlNames.quote(c.name())
                            : SqlNames.quote(c.name()))
                    .collect(Collectors.joining(", "));
            return "SELECT " + columns + " FROM " + SqlNames.quote(table.id().schema()) + "." + SqlNames.quote(table.id().table())
                    + (predicate == null ? "" : " WHERE " + predicate);
        }

        /**
         * Reads the rows where {@code predicate} holds on {@code reading} (in the caller's transaction,
         * e.g. an imported snapshot), each row's image to {@code sink}; returns the rows read.
         *
         * @param lsn  the snapshot's position, carried as {@code source.lsn} as the capture's snapshot
         *             carries the slot's consistent point
         * @param tsMs the read's time, {@code source.tsMs}
         */
        public long read(Connection reading, String predicate, LogSequenceNumber lsn, long tsMs, Consumer<Image> sink) throws SQLException {
            return read(reading, predicate, lsn, tsMs, sink, (record, error) -> {
                throw error;
            });
        }

        /**
         * As {@link #read(Connection, String, LogSequenceNumber, long, Consumer)}, but a row whose value
         * the capture could not carry goes to {@code deadLetters} as the capture's dead letter of it
         * (the same headers and value, {@code CdcCapture}), and the read goes on; it counts as read.
         */
        public long read(Connection reading, String predicate, LogSequenceNumber lsn, long tsMs, Consumer<Image> sink,
                         BiConsumer<ProducerRecord<byte[], byte[]>, RuntimeException> deadLetters) throws SQLException {
            long rows = 0;
            try (Statement statement = reading.createStatement()) {
                statement.setFetchSize(settings.config().snapshotFetchSize());
                try (ResultSet rs = statement.executeQuery(select(predicate))) {
                    ColumnUtils.ColumnArray columns = ColumnUtils.toArray(rs, table);
                    while (rs.next()) {
                        Object[] row = connection.rowToArray(table, rs, columns);
                        Struct key = schema.keyFromColumnData(row);
                        ChangeEventConverter.Converted c;
                        try {
                            c = codec.read(topic, key, schema.valueFromColumnData(row), database, lsn.asLong(), null, tsMs);
                        } catch (RuntimeException e) {
                            deadLetters.accept(CdcCapture.deadLetterRecord(settings.topicPrefix(), table.id().schema() + "."
                                    + table.id().table(), key, lsn.asLong(), e), e);
                            rows++;
                            continue;
                        }
                        sink.accept(new Image(c.topic(), c.key(), c.envelope()));
                        rows++;
                    }
                }
            }
            return rows;
        }
    }

    private static Properties prefixed(Properties all, String prefix) {
        Properties out = new Properties();
        for (String name : all.stringPropertyNames()) {
            if (name.startsWith(prefix)) {
                out.setProperty(name.substring(prefix.length()), all.getProperty(name));
            }
        }
        return out;
    }
}

package dev.understudy.transform.spec;

import dev.cel.runtime.CelEvaluationException;
import dev.cel.runtime.CelRuntime;
import dev.understudy.schemas.KeySchemas;
import dev.understudy.transform.FatalMappingException;
import dev.understudy.transform.JoinedTableMapping;
import dev.understudy.transform.TableMapping;
import dev.understudy.transform.internals.Rows;
import dev.understudy.transform.spec.internals.AvroCel;
import dev.understudy.transform.spec.internals.Casts;
import dev.understudy.transform.spec.internals.SourceChecker;
import dev.understudy.transform.spec.internals.SpecModel;
import org.apache.avro.Schema;
import org.apache.avro.generic.GenericData;
import org.apache.avro.generic.GenericRecord;

import java.nio.ByteBuffer;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HexFormat;
import java.util.List;
import java.util.Map;
import java.util.concurrent.ConcurrentHashMap;

/**
 * The {@link TableMapping} of one target of a {@link MigrationSpec}.
 *
 * <p>Expressions are compiled once per legacy row schema (the first record with that schema), not
 * per row: the declared variable types come from the row schema, and compiling is also where the
 * spec is checked against the live table. cel-java's program implementation is annotated
 * {@code @Immutable} (Error Prone) and keeps no state between evaluations, each {@code eval} resolving
 * variables from the activation it is given, so one program is shared by all stream threads, as
 * {@link TableMapping} requires of the mapping.
 */
public class SpecTableMapping implements TableMapping {
    private final String file;
    private final SpecModel.Target target;
    private final Schema keySchema;
    // Per legacy row schema: the compiled target, or the problems it has with that schema.
    private final Map<Schema, SourceChecker.Compiled> compiled = new ConcurrentHashMap<>();
    private final Map<Schema, List<SpecProblem>> mismatched = new ConcurrentHashMap<>();
    /**
     * The schema instance last compiled for, and its compilation: records of one table share one schema
     * instance (the capture's converter, the deserializer's cache), while the map above compares a
     * schema it holds with an equal but other instance field by field, for every row.
     */
    private volatile Last last;

    private record Last(Schema schema, SourceChecker.Compiled compiled) {
    }

    /**
     * What a column needs for each row, worked out once: its field in the contract and the words an
     * error about it starts with. Built per row, the words were a tenth of a bulk load's mapping time
     * for rows that never fail.
     */
    private record ColumnPlan(SpecModel.Column column, int position, Schema fieldSchema, Schema type, String context) {
    }

    /** A key field: the legacy column it copies, its schema in the key, and the words of an error about it. */
    private record KeyPlan(int position, String column, Schema fieldSchema, Schema type, String context) {
    }

    private final ColumnPlan[] columnPlans;
    private final KeyPlan[] keyPlans;

    /** The mapping of a target: a {@link JoinedTableMapping} when the target has a join. */
    static SpecTableMapping of(String file, SpecModel.Target target) {
        return target.join() == null ? new SpecTableMapping(file, target) : new Joined(file, target);
    }

    SpecTableMapping(String file, SpecModel.Target target) {
        this.file = file;
        this.target = target;
        List<KeySchemas.KeyField> fields = new ArrayList<>();
        for (String k : target.key()) {
            fields.add(new KeySchemas.KeyField(k, target.contract().getField(k).schema()));
        }
        String[] qualified = target.table().split("\\.", 2);
        this.keySchema = KeySchemas.of(qualified[0], qualified[1], fields);
        List<ColumnPlan> plans = new ArrayList<>();
        for (SpecModel.Column column : target.columns().values()) {
            Schema.Field field = target.contract().getField(column.field());
            String context = column instanceof SpecModel.Copy copy ? where(copy) + ": column '" + copy.column() + "'"
                    : column instanceof SpecModel.Expression e ? where(e) + ": '" + e.text() + "'" : where(column);
            plans.add(new ColumnPlan(column, field.pos(), field.schema(), AvroCel.nonNull(field.schema()), context));
        }
        this.columnPlans = plans.toArray(new ColumnPlan[0]);
        List<KeyPlan> keys = new ArrayList<>();
        for (String k : target.key()) {
            String column = ((SpecModel.Copy) target.columns().get(k)).column();
            Schema.Field field = keySchema.getField(k);
            keys.add(new KeyPlan(field.pos(), column, field.schema(), AvroCel.nonNull(field.schema()),
                    "Key column '" + column + "' of " + sourceTable()));
        }
        this.keyPlans = keys.toArray(new KeyPlan[0]);
    }

    @Override
    public String sourceTable() {
        return target.sourceTable();
    }

    @Override
    public String targetTable() {
        return target.table();
    }

    @Override
    public Schema targetKeySchema() {
        return keySchema;
    }

    @Override
    public Schema targetValueSchema() {
        return target.contract();
    }

    /** The parsed target, for other views of the same spec in this package ({@link SpecSql}). */
    SpecModel.Target model() {
        return target;
    }

    /** The target's name in the spec (the key under {@code targets}). */
    public String name() {
        return target.name();
    }

    @Override
    public GenericRecord targetKey(GenericRecord sourceRow) {
        // Key columns are copies (checked at load), so this reads key columns only, as the delete
        // images and legacy record keys it is applied to carry nothing else.
        GenericData.Record key = new GenericData.Record(keySchema);
        for (KeyPlan k : keyPlans) {
            Object v = Rows.get(sourceRow, sourceTable(), k.column());
            if (v == null) {
                throw new IllegalArgumentException("Column '" + k.column() + "' of " + sourceTable()
                        + " is null; it is a key column and must have a value");
            }
            key.put(k.position(), AvroCel.copy(v, k.type(), k.fieldSchema(), k.context()));
        }
        return key;
    }

    @Override
    public GenericRecord targetRow(GenericRecord sourceRow) {
        return build(sourceRow, null);
    }

    /** The source table and, per key field, the legacy column it copies (key fields are copies, checked at load). */
    @Override
    public String keyDerivation() {
        StringBuilder b = new StringBuilder("source=").append(sourceTable()).append(" key=");
        for (String k : target.key()) {
            b.append(k).append("<-").append(((SpecModel.Copy) target.columns().get(k)).column()).append(',');
        }
        return b.toString();
    }

    /** The target row; {@code joinedRow} is the joined row of a target with a join, else null. */
    GenericRecord build(GenericRecord sourceRow, GenericRecord joinedRow) {
        SourceChecker.Compiled c = compiledFor(sourceRow.getSchema());
        Map<String, Object> activation = null;
        GenericData.Record row = new GenericData.Record(target.contract());
        for (ColumnPlan plan : columnPlans) {
            SpecModel.Column column = plan.column();
            Schema fieldSchema = plan.fieldSchema();
            Object value;
            if (column instanceof SpecModel.Copy copy && target.isJoined(copy.column())) {
                value = AvroCel.copy(Rows.get(joinedRow, target.join().table(), target.join().column(copy.column())), plan.type(),
                        fieldSchema, plan.context());
            } else if (column instanceof SpecModel.Copy copy) {
                value = AvroCel.copy(sourceRow.get(copy.column()), plan.type(), fieldSchema, plan.context());
            } else if (column instanceof SpecModel.Constant constant) {
                value = constant.value();
            } else if (column instanceof SpecModel.Expression e) {
                if (activation == null) {
                    activation = activation(c, sourceRow);
                    if (target.join() != null) {
                        activation.put(target.join().alias(), joinedVariable(joinedRow));
                    }
                }
                value = AvroCel.toAvro(eval(c.programs().get(e.field()), activation, e), fieldSchema, plan.context());
            } else {
                SpecModel.Cast cast = (SpecModel.Cast) column;
                value = target.isJoined(cast.column()) ? cast(cast, joinedRow, target.join().column(cast.column()), target.join().table(), fieldSchema)
                        : cast(cast, sourceRow, cast.column(), sourceTable(), fieldSchema);
            }
            row.put(plan.position(), value);
        }
        return row;
    }

    @Override
    public boolean includes(GenericRecord sourceRow) {
        if (target.filter() == null) {
            return true;
        }
        SourceChecker.Compiled c = compiledFor(sourceRow.getSchema());
        Object result = eval(c.filter(), activation(c, sourceRow), target.filter());
        if (result instanceof Boolean b) {
            return b;
        }
        if (AvroCel.isCelNull(result)) {
            // A filter that cannot say yes keeps the row out, as SQL's WHERE does with NULL.
            return false;
        }
        throw new IllegalArgumentException(where(target.filter()) + ": the filter '" + target.filter().text()
                + "' yielded " + result + ", not a bool");
    }

    private Object cast(SpecModel.Cast cast, GenericRecord row, String columnName, String table, Schema fieldSchema) {
        Object raw = Rows.get(row, table, columnName);
        Schema sourceField = row.getSchema().getField(columnName).schema();
        try {
            return AvroCel.copy(Casts.convert(raw, sourceField, cast.to()), fieldSchema, where(cast));
        } catch (Casts.Failure f) {
            String message = where(cast) + ": column '" + columnName + "' of " + table + ": " + f.getMessage()
                    + " for target column " + target.table() + "." + cast.field() + " (onFailure: " + cast.onFailure().spec + ")";
            return switch (cast.onFailure()) {
                case NULL -> null;
                case DEAD_LETTER -> throw new CastFailedException(message);
                case FAIL -> throw new FatalMappingException(message);
            };
        }
    }

    private SourceChecker.Compiled compiledFor(Schema sourceRow) {
        Last l = last;
        if (l != null && l.schema == sourceRow) {
            return l.compiled;
        }
        SourceChecker.Compiled c = compiled.get(sourceRow);
        if (c != null) {
            last = new Last(sourceRow, c);
            return c;
        }
        List<SpecProblem> known = mismatched.get(sourceRow);
        if (known != null) {
            // Every record of this schema fails the same way until the spec or the table is fixed.
            throw new SpecException(known);
        }
        List<SpecProblem> problems = new ArrayList<>();
        c = SourceChecker.check(file, target, sourceRow, problems);
        if (c == null) {
            mismatched.putIfAbsent(sourceRow, List.copyOf(problems));
            throw new SpecException(problems);
        }
        compiled.putIfAbsent(sourceRow, c);
        return c;
    }

    private static Map<String, Object> activation(SourceChecker.Compiled c, GenericRecord sourceRow) {
        Map<String, Object> vars = new HashMap<>();
        for (String v : c.variables()) {
            vars.put(v, AvroCel.toCel(sourceRow.get(v)));
        }
        return vars;
    }

    /** The joined row as CEL sees it: a map from column name to value (null columns as CEL null). */
    private static Map<String, Object> joinedVariable(GenericRecord joinedRow) {
        Map<String, Object> map = new HashMap<>();
        for (Schema.Field f : joinedRow.getSchema().getFields()) {
            map.put(f.name(), AvroCel.toCel(joinedRow.get(f.pos())));
        }
        return map;
    }

    private Object eval(CelRuntime.Program program, Map<String, Object> activation, SpecModel.Expression e) {
        try {
            return program.eval(activation);
        } catch (CelEvaluationException ex) {
            throw new IllegalArgumentException(where(e) + ": '" + e.text() + "' failed on a row of " + sourceTable() + ": " + ex.getMessage(), ex);
        }
    }

    String file() {
        return file;
    }

    private String where(SpecModel.Column c) {
        return file + ":" + c.line() + ": " + c.path();
    }

    /** A target with a join: the foreign-key join of {@link dev.understudy.transform.MigrationTopology} builds its rows. */
    static final class Joined extends SpecTableMapping implements JoinedTableMapping {
        private final SpecModel.Join join;

        Joined(String file, SpecModel.Target target) {
            super(file, target);
            this.join = target.join();
        }

        @Override
        public String joinedTable() {
            return join.table();
        }

        @Override
        public String keyDerivation() {
            return super.keyDerivation() + " join=" + join.table() + "." + join.referencedColumn() + "<-" + join.foreignKey();
        }

        @Override
        public String foreignKey(GenericRecord sourceRow) {
            Object v = Rows.get(sourceRow, sourceTable(), join.foreignKey());
            return v == null ? null : keyText(v);
        }

        @Override
        public String joinedKey(GenericRecord joinedRowOrKey) {
            Object v = Rows.get(joinedRowOrKey, join.table(), join.referencedColumn());
            if (v == null) {
                throw new IllegalArgumentException("Column '" + join.referencedColumn() + "' of " + join.table()
                        + " is null; it is the key the join of " + targetTable() + " references and must have a value");
            }
            return keyText(v);
        }

        @Override
        public void checkJoinedKey(Schema joinedLegacyKey) {
            List<SpecProblem> problems = new ArrayList<>();
            SourceChecker.checkReferencedKey(file(), join, joinedLegacyKey.getFields().stream().map(Schema.Field::name).toList(), problems);
            if (!problems.isEmpty()) {
                throw new SpecException(problems);
            }
        }

        @Override
        public GenericRecord targetRow(GenericRecord sourceRow, GenericRecord joinedRow) {
            return build(sourceRow, joinedRow);
        }

        @Override
        public GenericRecord targetRow(GenericRecord sourceRow) {
            return JoinedTableMapping.super.targetRow(sourceRow);
        }

        /**
         * One text form for a key value whichever Avro type carries it (int or long, Utf8 or String),
         * so that a foreign key and the key it references compare equal as join keys.
         */
        private static String keyText(Object v) {
            if (v instanceof Integer || v instanceof Long || v instanceof Short || v instanceof Byte) {
                return Long.toString(((Number) v).longValue());
            }
            if (v instanceof ByteBuffer b) {
                byte[] bytes = new byte[b.remaining()];
                b.duplicate().get(bytes);
                return HexFormat.of().formatHex(bytes);
            }
            return v.toString();
        }
    }
}

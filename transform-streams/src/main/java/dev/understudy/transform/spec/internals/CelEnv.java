package dev.understudy.transform.spec.internals;

import dev.cel.bundle.Cel;
import dev.cel.bundle.CelBuilder;
import dev.cel.bundle.CelFactory;
import dev.cel.common.types.CelType;
import dev.cel.extensions.CelExtensions;
import dev.cel.parser.CelStandardMacro;

import java.util.Map;

/** The one CEL environment specs are written against: standard functions and macros, plus the strings extension. */
public final class CelEnv {
    private static final Cel PARSER = builder().build();

    private CelEnv() {
    }

    /**
     * The environment with one variable per source column. The strings extension provides
     * {@code upperAscii}, {@code lowerAscii}, {@code trim}, {@code replace}, {@code substring} and
     * friends (cel-spec extensions, "Strings"), which migrations need for text.
     */
    public static Cel withVariables(Map<String, CelType> variables) {
        CelBuilder b = builder();
        variables.forEach(b::addVar);
        return b.build();
    }

    /** An environment without variables, for syntax checks. */
    public static Cel parser() {
        return PARSER;
    }

    private static CelBuilder builder() {
        return CelFactory.standardCelBuilder()
                .setStandardMacros(CelStandardMacro.STANDARD_MACROS)
                .addCompilerLibraries(CelExtensions.strings())
                .addRuntimeLibraries(CelExtensions.strings());
    }
}

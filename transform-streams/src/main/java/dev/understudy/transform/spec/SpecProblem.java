package dev.understudy.transform.spec;

/**
 * One problem in a migration spec, located at the line of the YAML value it is about.
 *
 * @param file    the spec file as it was given to {@link MigrationSpec#load}
 * @param line    1-based line in that file
 * @param path    the key path, e.g. {@code targets.users.columns.age.cast.to}
 * @param problem what is wrong
 * @param fix     what to do about it
 */
public record SpecProblem(String file, int line, String path, String problem, String fix) {
    /** {@code <file>:<line>: <key path>: <problem>; <fix>} */
    @Override
    public String toString() {
        return file + ":" + line + ": " + path + ": " + problem + "; " + fix;
    }
}

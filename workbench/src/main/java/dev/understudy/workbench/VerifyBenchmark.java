package dev.understudy.workbench;

import dev.understudy.pipeline.PipelineConfig;
import dev.understudy.stack.EmbeddedStack;
import dev.understudy.testkit.UsersWorkload;
import dev.understudy.transform.TransformConfig;
import dev.understudy.transform.spec.MigrationSpec;
import dev.understudy.verify.TableReport;
import dev.understudy.verify.Verifier;
import org.flywaydb.core.Flyway;
import org.postgresql.PGConnection;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

import java.io.OutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.sql.Connection;
import java.sql.ResultSet;
import java.sql.Statement;
import java.time.Duration;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.Callable;

/**
 * {@code understudy verify} on a large table, next to plain full scans of both tables in the same run:
 * the users migration's rows in the legacy database and, copied as the spec maps them, in the target,
 * with 10 rows changed, 10 deleted and 10 added in the target. The verify must find exactly those.
 */
@Command(name = "verify", mixinStandardHelpOptions = true,
        description = "Verify rows/s on a large table with injected differences, next to plain full scans of both tables, same run.")
final class VerifyBenchmark implements Callable<Integer> {
    @Option(names = "--rows", defaultValue = "1000000", description = "Legacy rows (default: ${DEFAULT-VALUE}).")
    int rows;

    @Option(names = "--chunk-rows", defaultValue = "10000", description = "Rows per verify chunk (default: ${DEFAULT-VALUE}).")
    int chunkRows;

    @Override
    public Integer call() throws Exception {
        Path home = Home.dir().resolve("bench-verify");
        try (EmbeddedStack stack = EmbeddedStack.start(home, "UTC")) {
            long t0 = System.nanoTime();
            try (Connection l = stack.legacy().connect()) {
                UsersWorkload.createAndFill(l, rows);
            }
            Flyway.configure().dataSource(stack.target().jdbcUrl(), stack.target().user(), stack.target().password())
                    .locations("classpath:flyway/users").load().migrate();
            try (Connection l = stack.legacy().connect(); Connection t = stack.target().connect(); Statement s = t.createStatement()) {
                UsersWorkload.copyToTarget(l, t);
                s.execute("ANALYZE public.users");
                long step = Math.max(1, rows / 40);
                for (int i = 0; i < 10; i++) {
                    s.execute("UPDATE public.users SET full_name = full_name || ' (changed)' WHERE id = " + (1 + i * step));
                    s.execute("DELETE FROM public.users WHERE id = " + (2 + i * step + rows / 2));
                    s.execute("INSERT INTO public.users (id, full_name, email) VALUES (" + (rows * 2L + i) + ", 'Only here', 'x@example.com')");
                }
            }
            System.out.printf("Verify benchmark: %,d legacy rows (public.users), the target as the users spec maps them with 10 rows changed,"
                    + " 10 deleted and 10 added; loaded in %.1f s; %d cores%n", rows, (System.nanoTime() - t0) / 1e9,
                    Runtime.getRuntime().availableProcessors());

            // Baselines: what reading both tables whole costs, once to the client and once inside the server.
            double copySeconds = scan(stack.legacy().connect(), true) + scan(stack.target().connect(), true);
            double countSeconds = scan(stack.legacy().connect(), false) + scan(stack.target().connect(), false);

            Map<String, String> settings = new HashMap<>(stack.connectionSettings());
            settings.put(TransformConfig.STATE_DIR.name(), home.resolve("state").toString());
            PipelineConfig config = PipelineConfig.parse(settings, "bench");
            Path spec = home.resolve("users.yaml");
            try (var in = VerifyBenchmark.class.getClassLoader().getResourceAsStream("examples/users/v1.2_add_birthdate_to_users.yaml")) {
                if (in == null) {
                    throw new IllegalStateException("The workbench was built without examples/users; rebuild it with mvn -pl workbench -am package");
                }
                Files.copy(in, spec, StandardCopyOption.REPLACE_EXISTING);
            }
            MigrationSpec loaded = MigrationSpec.load(spec);
            long start = System.nanoTime();
            Verifier.Report report = new Verifier(config, loaded.migration(), loaded.mappings(),
                    new Verifier.Options(chunkRows, 5, false, Duration.ofMinutes(1), false), new PrintStream(OutputStream.nullOutputStream())).run();
            double verifySeconds = (System.nanoTime() - start) / 1e9;
            TableReport r = report.tables().get(0);
            long scanned = r.processed() + r.targetRows();

            System.out.println("  " + r.summary());
            System.out.printf("  %,d chunks of %,d rows, %,d of them differed and were narrowed down to ranges of at most 256 rows, read row by row%n", r.chunks(), chunkRows, r.chunksDiffering());
            System.out.printf("  %-58s %12s %10s %8s%n", "", "rows/s", "seconds", "ratio");
            System.out.printf("  %-58s %,12.0f %10.2f %8.3f%n", "verify (both tables, checksums per chunk on both sides)", scanned / verifySeconds,
                    verifySeconds, 1.0);
            System.out.printf("  %-58s %,12.0f %10.2f %8.3f%n", "full scan of both tables to the client (COPY TO STDOUT)", scanned / copySeconds,
                    copySeconds, copySeconds / verifySeconds);
            System.out.printf("  %-58s %,12.0f %10.2f %8.3f%n", "full scan of both tables in the server (count(*))", scanned / countSeconds,
                    countSeconds, countSeconds / verifySeconds);
            System.out.printf("  verify rows/s relative to the client-side full scans: %.3f%n", copySeconds / verifySeconds);
            boolean exact = r.mismatched() == 10 && r.missing() == 10 && r.extra() == 10;
            System.out.println("  found exactly the 30 injected differences: " + (exact ? "yes" : "NO"));
            System.out.printf("  JVM peak heap %,d MiB, load average %s%n", DemoCommand.peakHeapMiB(), WriterBenchmark.loadAverage());
            return exact ? 0 : 1;
        }
    }

    private static double scan(Connection c, boolean toClient) throws Exception {
        try (c; Statement s = c.createStatement()) {
            long start = System.nanoTime();
            if (toClient) {
                c.unwrap(PGConnection.class).getCopyAPI().copyOut("COPY (SELECT * FROM public.users) TO STDOUT (FORMAT binary)",
                        OutputStream.nullOutputStream());
            } else {
                try (ResultSet rs = s.executeQuery("SELECT count(*) FROM public.users")) {
                    rs.next();
                }
            }
            return (System.nanoTime() - start) / 1e9;
        }
    }
}

package dev.understudy.cli;

import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import picocli.CommandLine;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** {@code understudy schemas check} without a registry: each contract against its previous committed version. */
class SchemasCheckIT {
    private static final String V1 = """
            {"type":"record","name":"users","namespace":"understudy.contract.public","fields":[
              {"name":"id","type":"long"},
              {"name":"full_name","type":["null","string"],"default":null}]}""";
    private static final String COMPATIBLE = """
            {"type":"record","name":"users","namespace":"understudy.contract.public","fields":[
              {"name":"id","type":"long"},
              {"name":"full_name","type":["null","string"],"default":null},
              {"name":"birthdate","type":["null",{"type":"int","logicalType":"date"}],"default":null}]}""";
    private static final String INCOMPATIBLE = """
            {"type":"record","name":"users","namespace":"understudy.contract.public","fields":[
              {"name":"id","type":"long"},
              {"name":"name","type":"string"}]}""";

    @TempDir
    Path repo;
    Path contracts;

    @BeforeEach
    void init() throws Exception {
        contracts = Files.createDirectories(repo.resolve("schemas/src/main/resources/contracts"));
        git("init", "-q");
        git("config", "user.email", "ci@example.com");
        git("config", "user.name", "CI");
        Files.writeString(contracts.resolve("users.avsc"), V1);
        git("add", "-A");
        git("commit", "-q", "-m", "v1");
    }

    @Test
    void aCompatibleChangePasses() throws Exception {
        Files.writeString(contracts.resolve("users.avsc"), COMPATIBLE);
        Result r = check();
        assertEquals(0, r.exit, r.out);
        assertTrue(r.out.contains("OK    users.avsc"), r.out);
    }

    @Test
    void anIncompatibleUncommittedChangeFailsNamingFieldRuleAndFix() throws Exception {
        Files.writeString(contracts.resolve("users.avsc"), INCOMPATIBLE);
        Result r = check();
        assertEquals(1, r.exit, r.out);
        assertTrue(r.out.contains("FAIL  users.avsc"), r.out);
        assertTrue(r.out.contains("rule READER_FIELD_MISSING_DEFAULT_VALUE, field 'name'"), r.out);
        assertTrue(r.out.contains("list its old name in \"aliases\""), r.out);
    }

    @Test
    void anIncompatibleCommitIsCaughtOnACleanCheckout() throws Exception {
        // What CI sees: the working copy equals HEAD, and HEAD broke the contract of the commit before.
        Files.writeString(contracts.resolve("users.avsc"), INCOMPATIBLE);
        git("commit", "-q", "-am", "rename full_name");
        Result r = check();
        assertEquals(1, r.exit, r.out);
        assertTrue(r.out.contains("field 'name'"), r.out);
    }

    @Test
    void aNewContractHasNothingToBreak() throws Exception {
        Files.writeString(contracts.resolve("orders.avsc"), INCOMPATIBLE.replace("\"users\"", "\"orders\""));
        Result r = check();
        assertEquals(0, r.exit, r.out);
        assertTrue(r.out.contains("OK    orders.avsc") && r.out.contains("new, nothing to compare with"), r.out);
    }

    @Test
    void againstARegistryTheSubjectIsNamed() throws Exception {
        try (var registry = dev.understudy.stack.registry.EmbeddedSchemaRegistry.start()) {
            var client = new dev.understudy.schemas.ConfluentRegistryClient(registry.url());
            client.register("understudy.new.public.users-value", new org.apache.avro.Schema.Parser().parse(V1));
            Files.writeString(contracts.resolve("users.avsc"), INCOMPATIBLE);
            Result r = check("--registry", registry.url());
            assertEquals(1, r.exit, r.out);
            assertTrue(r.out.contains("subject 'understudy.new.public.users-value'"), r.out);
            assertTrue(r.out.contains("rule READER_FIELD_MISSING_DEFAULT_VALUE, field 'name'"), r.out);
            Files.writeString(contracts.resolve("users.avsc"), COMPATIBLE);
            assertEquals(0, check("--registry", registry.url()).exit);
        }
    }

    private record Result(int exit, String out) {
    }

    private Result check(String... extra) {
        PrintStream previous = System.out;
        ByteArrayOutputStream captured = new ByteArrayOutputStream();
        int exit;
        try {
            System.setOut(new PrintStream(captured, true, StandardCharsets.UTF_8));
            String[] args = new String[4 + extra.length];
            args[0] = "schemas";
            args[1] = "check";
            args[2] = "--dir";
            args[3] = contracts.toString();
            System.arraycopy(extra, 0, args, 4, extra.length);
            exit = new CommandLine(new Main()).execute(args);
        } finally {
            System.setOut(previous);
        }
        return new Result(exit, captured.toString(StandardCharsets.UTF_8));
    }

    private void git(String... args) throws IOException, InterruptedException {
        String[] command = new String[args.length + 3];
        command[0] = "git";
        command[1] = "-C";
        command[2] = repo.toString();
        System.arraycopy(args, 0, command, 3, args.length);
        Process p = new ProcessBuilder(command).redirectErrorStream(true).start();
        String out = new String(p.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        if (p.waitFor() != 0) {
            throw new IllegalStateException("git " + String.join(" ", args) + " failed: " + out);
        }
    }
}

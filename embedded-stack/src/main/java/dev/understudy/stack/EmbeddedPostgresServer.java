package dev.understudy.stack;

import io.zonky.test.db.postgres.embedded.EmbeddedPostgres;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.sql.Connection;
import java.sql.DriverManager;
import java.sql.ResultSet;
import java.sql.SQLException;
import java.sql.Statement;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.OptionalLong;
import java.util.UUID;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.regex.Pattern;
import java.util.stream.Stream;

/**
 * A real PostgreSQL 17 server run from the binaries zonky ships in a jar, configured for logical
 * decoding (Debezium) and owning the directory {@code <workDir>/<name>}.
 *
 * <p>PostgreSQL runs as a separate process, so it is the one part of the stack that outlives a JVM
 * killed with {@code kill -9}. Starting a server therefore first stops a postmaster left running on
 * the same data directory, and a shutdown hook stops the server on a normal JVM exit.
 *
 * <p>The directory is owned through a token file: a server only stops PostgreSQL through zonky and
 * deletes its directory while the token is still its own. A later server started on the same
 * directory (after a crash, or a second process pointed at the same work directory) takes the token
 * over, and closing the superseded instance then leaves the new server alone.
 */
public final class EmbeddedPostgresServer implements AutoCloseable {
    private static final Logger LOG = LoggerFactory.getLogger(EmbeddedPostgresServer.class);

    /** Used as database name and directory name, so kept to a plain SQL identifier. */
    private static final Pattern NAME = Pattern.compile("[a-z][a-z0-9_]{0,62}");
    /**
     * Zonky joins all server settings into one {@code pg_ctl -o} string, and pg_ctl runs the
     * postmaster through {@code /bin/sh -c "exec postgres ... <options>"}; only characters the
     * shell passes through untouched are safe. That covers IANA names (America/Sao_Paulo,
     * Etc/GMT+3, UTC) and POSIX names such as EST5EDT.
     */
    private static final Pattern TIME_ZONE = Pattern.compile("[A-Za-z0-9_+\\-/:.]+");

    private static final String HOST = "localhost";
    /** initdb runs with {@code -U postgres -A trust}: the superuser is postgres and any password is accepted. */
    private static final String USER = "postgres";
    /** Ignored under trust authentication, but Debezium and the pipeline configuration require one. */
    private static final String PASSWORD = "postgres";
    private static final String OWNER_FILE = "owner";
    private static final String LOG_FILE = "postgres.log";
    private static final Duration STARTUP_WAIT = Duration.ofSeconds(30);
    private static final Duration SIGTERM_WAIT = Duration.ofSeconds(10);
    private static final Duration SIGKILL_WAIT = Duration.ofSeconds(5);
    /** Tolerance between the start time written in postmaster.pid and the process start time the OS reports. */
    private static final Duration START_TIME_TOLERANCE = Duration.ofSeconds(60);

    private final String name;
    private final Path serverDirectory;
    private final Path dataDirectory;
    private final String timeZone;
    private final EmbeddedPostgres postgres;
    /**
     * Taken right after start: a {@link ProcessHandle} remembers the process start time, and its
     * isAlive/destroy check it, so a PID reused by another process later is never signalled.
     */
    /** Replaced when the server comes back from an outage ({@link #endOutage()}). */
    private volatile ProcessHandle postmaster;
    /** The postmaster's command line, kept by {@link #beginOutage()} to start it again. */
    private List<String> outageCommand;
    private final String ownerToken;
    private final Thread shutdownHook;
    private final AtomicBoolean closed = new AtomicBoolean();

    private EmbeddedPostgresServer(String name, Path serverDirectory, Path dataDirectory, String timeZone,
                                   EmbeddedPostgres postgres, ProcessHandle postmaster, String ownerToken) {
        this.name = name;
        this.serverDirectory = serverDirectory;
        this.dataDirectory = dataDirectory;
        this.timeZone = timeZone;
        this.postgres = postgres;
        this.postmaster = postmaster;
        this.ownerToken = ownerToken;
        this.shutdownHook = new Thread(this::closeFromShutdownHook, "postgres-" + name + "-shutdown");
    }

    /**
     * Starts a server named {@code name} (also the name of its database) in {@code <workDir>/<name>},
     * on a free port, with {@code timezone} and {@code log_timezone} set to {@code timeZone}.
     * Whatever {@code <workDir>/<name>} holds is discarded first, after stopping a postmaster still
     * running on it.
     *
     * @throws EmbeddedStackException if the server cannot be started; the message says why and what to do
     */
    public static EmbeddedPostgresServer start(String name, Path workDir, String timeZone) {
        if (name == null || !NAME.matcher(name).matches()) {
            throw new IllegalArgumentException("PostgreSQL server name '" + name + "' is not usable as a database and"
                    + " directory name; use lower-case letters, digits and _, starting with a letter (e.g. legacy)");
        }
        if (timeZone == null || !TIME_ZONE.matcher(timeZone).matches()) {
            throw new IllegalArgumentException("PostgreSQL time zone '" + timeZone + "' for server '" + name
                    + "' is empty or contains characters that cannot be passed on the postgres command line;"
                    + " use an IANA zone name such as America/Sao_Paulo or UTC");
        }
        Path serverDirectory = workDir.toAbsolutePath().normalize().resolve(name);
        Path dataDirectory = serverDirectory.resolve("data");
        long started = System.nanoTime();

        stopLeftoverPostmaster(name, dataDirectory);
        String ownerToken = UUID.randomUUID() + " pid " + ProcessHandle.current().pid();
        try {
            FileTrees.deleteRecursively(serverDirectory);
            Files.createDirectories(serverDirectory);
            Files.writeString(serverDirectory.resolve(OWNER_FILE), ownerToken, StandardCharsets.UTF_8);
        } catch (IOException e) {
            throw new EmbeddedStackException("Cannot prepare the directory " + serverDirectory + " of PostgreSQL '"
                    + name + "': " + e + ". Check that the work directory is writable, or delete " + serverDirectory
                    + " by hand.", e);
        }

        Path logFile = serverDirectory.resolve(LOG_FILE);
        StartFailureWatch watch = StartFailureWatch.begin(logFile);
        EmbeddedPostgres postgres;
        try {
            postgres = EmbeddedPostgres.builder()
                    // initdb, pg_ctl and the server write to a log file next to the data directory rather
                    // than into this process's log; a failed start quotes its end in the exception.
                    .setOutputRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .setErrorRedirector(ProcessBuilder.Redirect.appendTo(logFile.toFile()))
                    .setDataDirectory(dataDirectory)
                    // Deletes the data directory on close; the data of this server is disposable.
                    .setCleanDataDirectory(true)
                    // Stopping on JVM exit is done by this class's own hook, which first checks that the
                    // directory is still ours (zonky's hook would run pg_ctl stop on whatever server now
                    // owns the data directory).
                    .setRegisterShutdownHook(false)
                    .setPGStartupWait(STARTUP_WAIT)
                    // initdb otherwise takes the locale from the environment (LANG/LC_ALL), which may name
                    // a locale the host lacks; C gives the same collation everywhere and English messages.
                    .setLocaleConfig("locale", "C")
                    // Logical decoding needs wal_level=logical and one replication slot plus one WAL sender
                    // per Debezium connector (and per test that opens its own).
                    .setServerConfig("wal_level", "logical")
                    .setServerConfig("max_replication_slots", "20")
                    .setServerConfig("max_wal_senders", "20")
                    // Zonky defaults to synchronous_commit=off, with which a commit returns before its WAL
                    // is flushed; walsenders only stream flushed WAL, so each change would reach Debezium
                    // only after the WAL writer's next cycle (wal_writer_delay, 200 ms by default).
                    .setServerConfig("synchronous_commit", "on")
                    // A throw-away server: durability across an OS crash is not needed, speed is.
                    .setServerConfig("fsync", "off")
                    .setServerConfig("full_page_writes", "off")
                    .setServerConfig("timezone", timeZone)
                    .setServerConfig("log_timezone", timeZone)
                    .setServerConfig("max_connections", "200")
                    .start();
        } catch (IOException | RuntimeException | Error e) {
            watch.end();
            throw startFailure(name, serverDirectory, dataDirectory, timeZone, logFile, e.toString(), e);
        }
        if (watch.end()) {
            // No zonky close: the postmaster is gone, and pg_ctl stop would only fail and log an error.
            // The lock file stream zonky holds is closed by its cleaner once unreachable.
            throw startFailure(name, serverDirectory, dataDirectory, timeZone, logFile, "pg_ctl could not start the server",
                    null);
        }

        ProcessHandle postmaster;
        try {
            long pid = readPostmasterPid(dataDirectory.resolve("postmaster.pid"))
                    .orElseThrow(() -> new IOException("postmaster.pid has no PID on its first line"));
            postmaster = ProcessHandle.of(pid).filter(ProcessHandle::isAlive)
                    .orElseThrow(() -> new IOException("the postmaster PID " + pid + " in postmaster.pid is not running"));
            verifyOwnServer(postgres.getPort(), dataDirectory);
            createDatabase(postgres.getPort(), name);
        } catch (IOException | SQLException | RuntimeException e) {
            closeQuietly(postgres, name);
            deleteQuietly(serverDirectory);
            throw new EmbeddedStackException("PostgreSQL '" + name + "' started on port " + postgres.getPort()
                    + " (data directory " + dataDirectory + ") but could not be prepared: " + e, e);
        }

        EmbeddedPostgresServer server = new EmbeddedPostgresServer(name, serverDirectory, dataDirectory, timeZone,
                postgres, postmaster, ownerToken);
        Runtime.getRuntime().addShutdownHook(server.shutdownHook);
        LOG.info("PostgreSQL '{}' listening on {}:{} (postmaster PID {}, data directory {}, time zone {}), started in {} ms",
                name, HOST, postgres.getPort(), postmaster.pid(), dataDirectory, timeZone,
                TimeUnit.NANOSECONDS.toMillis(System.nanoTime() - started));
        return server;
    }

    public String name() {
        return name;
    }

    public String host() {
        return HOST;
    }

    public int port() {
        return postgres.getPort();
    }

    /** The database created for this server; it has the server's name. */
    public String database() {
        return name;
    }

    public String user() {
        return USER;
    }

    public String password() {
        return PASSWORD;
    }

    /** {@code jdbc:postgresql://localhost:<port>/<name>}. */
    public String jdbcUrl() {
        return "jdbc:postgresql://" + HOST + ":" + port() + "/" + database();
    }

    /** A new connection to this server's database, as the superuser. */
    public Connection connect() throws SQLException {
        return DriverManager.getConnection(jdbcUrl(), USER, PASSWORD);
    }

    /** {@code <workDir>/<name>/postgres.log}: output of initdb, pg_ctl and the server. */
    public Path logFile() {
        return serverDirectory.resolve(LOG_FILE);
    }

    /** {@code <workDir>/<name>/data}. */
    public Path dataDirectory() {
        return dataDirectory;
    }

    /** The time zone the server was started with ({@code timezone} and {@code log_timezone}). */
    public String timeZone() {
        return timeZone;
    }

    /**
     * Stops the server as an outage would: a fast shutdown (SIGINT semantics: sessions are
     * disconnected, in-progress transactions rolled back), keeping its data, until
     * {@link #endOutage()} starts it again on the same port. For tests of failure handling.
     */
    public synchronized void beginOutage() {
        if (outageCommand != null) {
            throw new IllegalStateException("PostgreSQL '" + name + "' is already down");
        }
        ProcessHandle.Info info = postmaster.info();
        String command = info.command().orElseThrow(() -> new EmbeddedStackException("The command line of the postmaster of PostgreSQL '"
                + name + "' (PID " + postmaster.pid() + ") cannot be read, so it could not be started again"));
        List<String> line = new ArrayList<>();
        if ("root".equals(ProcessHandle.current().info().user().orElse(""))) {
            // PostgreSQL refuses to run as root; zonky starts it in a new user namespace (unshare -U),
            // where this process's root is an unprivileged user, and so must the restart.
            line.addAll(List.of("unshare", "-U"));
        }
        line.add(command);
        line.addAll(List.of(info.arguments().orElse(new String[0])));
        // SIGINT is PostgreSQL's fast shutdown (docs, "Shutting Down the Server"); ProcessHandle only sends
        // SIGTERM (smart shutdown, which waits for every session to end) or SIGKILL.
        ProcessHandle pm = postmaster;
        run(List.of("kill", "-INT", Long.toString(pm.pid())));
        if (!awaitExit(pm, Duration.ofSeconds(60))) {
            throw new EmbeddedStackException("PostgreSQL '" + name + "' (PID " + pm.pid() + ") did not shut down within 60 s of SIGINT");
        }
        outageCommand = line;
        LOG.info("PostgreSQL '{}' stopped for an outage (data kept in {})", name, dataDirectory);
    }

    /** Starts the server again after {@link #beginOutage()}, on the same port with the same data, and waits until it accepts sessions. */
    public synchronized void endOutage() {
        if (outageCommand == null) {
            throw new IllegalStateException("PostgreSQL '" + name + "' is not down");
        }
        try {
            new ProcessBuilder(outageCommand).redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile()))
                    .redirectErrorStream(true).start();
            long deadline = System.nanoTime() + STARTUP_WAIT.toNanos();
            while (true) {
                try (Connection c = connect()) {
                    break;
                } catch (SQLException e) {
                    if (System.nanoTime() > deadline) {
                        List<String> log = Files.readAllLines(logFile());
                        throw new EmbeddedStackException("PostgreSQL '" + name + "' did not accept sessions within "
                                + STARTUP_WAIT.toSeconds() + " s of its restart (" + outageCommand + "); the end of " + logFile() + ":\n"
                                + String.join("\n", log.subList(Math.max(0, log.size() - 15), log.size())), e);
                    }
                    Thread.sleep(100);
                }
            }
            long pid = readPostmasterPid(dataDirectory.resolve("postmaster.pid"))
                    .orElseThrow(() -> new IOException("postmaster.pid has no PID on its first line"));
            postmaster = ProcessHandle.of(pid).orElseThrow(() -> new IOException("postmaster PID " + pid + " is not running"));
        } catch (IOException e) {
            throw new EmbeddedStackException("Cannot start PostgreSQL '" + name + "' again after its outage: " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedStackException("Interrupted while starting PostgreSQL '" + name + "' again", e);
        }
        outageCommand = null;
        LOG.info("PostgreSQL '{}' back after its outage (postmaster PID {})", name, postmaster.pid());
    }

    private void run(List<String> command) {
        try {
            Process p = new ProcessBuilder(command).redirectOutput(ProcessBuilder.Redirect.appendTo(logFile().toFile()))
                    .redirectErrorStream(true).start();
            if (!p.waitFor(90, TimeUnit.SECONDS) || p.exitValue() != 0) {
                throw new EmbeddedStackException(String.join(" ", command) + " failed for PostgreSQL '" + name + "'; see " + logFile());
            }
        } catch (IOException e) {
            throw new EmbeddedStackException("Cannot run " + command.get(0) + " for PostgreSQL '" + name + "': " + e, e);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new EmbeddedStackException("Interrupted while running " + command.get(0), e);
        }
    }

    /** PID of the postmaster, as written in postmaster.pid. */
    public long postmasterPid() {
        return postmaster.pid();
    }

    /**
     * Stops PostgreSQL (zonky runs {@code pg_ctl stop -m fast}) and deletes {@code <workDir>/<name>}.
     * If another server has taken the directory over meanwhile, only this server's own postmaster is
     * stopped, should it still run, and the directory is left to its new owner. Idempotent.
     */
    @Override
    public void close() {
        if (!closed.compareAndSet(false, true)) {
            return;
        }
        if (Thread.currentThread() != shutdownHook) {
            try {
                Runtime.getRuntime().removeShutdownHook(shutdownHook);
            } catch (IllegalStateException shutdownInProgress) {
                // The JVM is exiting; the hook will find this server closed.
            }
        }
        if (!ownsDirectory()) {
            LOG.warn("PostgreSQL '{}' (postmaster PID {}): {} was taken over by a newer server; leaving it to that"
                    + " server", name, postmaster.pid(), serverDirectory);
            if (Processes.isRunning(postmaster)) {
                stopPostmaster(name, postmaster, dataDirectory);
            }
            return;
        }
        closeQuietly(postgres, name);
        // pg_ctl gives up after 5 s and zonky only logs that; make sure nothing keeps running.
        if (Processes.isRunning(postmaster)) {
            stopPostmaster(name, postmaster, dataDirectory);
        }
        deleteQuietly(serverDirectory);
        LOG.info("PostgreSQL '{}' stopped and {} deleted", name, serverDirectory);
    }

    @Override
    public String toString() {
        return "PostgreSQL '" + name + "' at " + jdbcUrl();
    }

    private void closeFromShutdownHook() {
        try {
            close();
        } catch (RuntimeException e) {
            LOG.error("Stopping PostgreSQL '{}' on JVM exit failed; its postmaster (PID {}) may still run on {}",
                    name, postmaster.pid(), dataDirectory, e);
        }
    }

    private boolean ownsDirectory() {
        try {
            return ownerToken.equals(Files.readString(serverDirectory.resolve(OWNER_FILE), StandardCharsets.UTF_8));
        } catch (IOException e) {
            return false;
        }
    }

    /**
     * Stops a postmaster still running on {@code dataDirectory}, as after a JVM that owned it was
     * killed. PostgreSQL records the postmaster's PID on the first line of postmaster.pid and its
     * start time (seconds since the epoch) on the third; both are checked before signalling, so that
     * a stale file whose PID now belongs to an unrelated process does not get that process killed.
     */
    private static void stopLeftoverPostmaster(String name, Path dataDirectory) {
        Path pidFile = dataDirectory.resolve("postmaster.pid");
        if (!Files.isRegularFile(pidFile)) {
            return;
        }
        List<String> lines;
        try {
            lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
        } catch (IOException e) {
            LOG.warn("Cannot read {} ({}); assuming no PostgreSQL runs on {}", pidFile, e, dataDirectory);
            return;
        }
        OptionalLong pid = lines.isEmpty() ? OptionalLong.empty() : parseLong(lines.get(0));
        if (pid.isEmpty()) {
            LOG.warn("{} has no PID on its first line; assuming no PostgreSQL runs on {}", pidFile, dataDirectory);
            return;
        }
        OptionalLong startEpochSeconds = lines.size() > 2 ? parseLong(lines.get(2)) : OptionalLong.empty();
        Optional<ProcessHandle> process = ProcessHandle.of(pid.getAsLong()).filter(Processes::isRunning);
        if (process.isEmpty()) {
            LOG.info("PostgreSQL '{}': removing the data directory {} left by postmaster PID {}, which no longer runs",
                    name, dataDirectory, pid.getAsLong());
            return;
        }
        if (!looksLikePostmaster(process.get(), startEpochSeconds)) {
            LOG.warn("PostgreSQL '{}': {} names PID {}, but that process is not the postmaster that wrote it"
                    + " (command {}); leaving it alone", name, pidFile, pid.getAsLong(),
                    process.get().info().command().orElse("unknown"));
            return;
        }
        LOG.warn("PostgreSQL '{}': a postmaster (PID {}) still runs on {}, left by a process that did not stop it;"
                + " stopping it", name, pid.getAsLong(), dataDirectory);
        stopPostmaster(name, process.get(), dataDirectory);
    }

    /**
     * Stops a postmaster by signal. SIGTERM is PostgreSQL's "smart" shutdown: no new connections, and
     * the server exits once the existing sessions end; the sessions of a killed JVM ended with it (the
     * kernel closed their sockets), so this is normally quick and clean. (SIGINT would be "fast"
     * shutdown and SIGQUIT "immediate", but {@link ProcessHandle} only sends SIGTERM and SIGKILL.)
     * Should sessions of a live process keep it up past the wait, SIGKILL follows. The PostgreSQL
     * manual (Server Setup and Operation, "Shutting Down the Server") warns that SIGKILL cannot be
     * relayed to the server's child processes, so those are collected beforehand and killed as well;
     * the shared memory they hold is released when the last of them exits.
     */
    private static void stopPostmaster(String name, ProcessHandle postmaster, Path dataDirectory) {
        List<ProcessHandle> children = postmaster.descendants().toList();
        postmaster.destroy();
        if (awaitExit(postmaster, SIGTERM_WAIT)) {
            LOG.info("PostgreSQL '{}': postmaster PID {} on {} shut down", name, postmaster.pid(), dataDirectory);
            return;
        }
        LOG.warn("PostgreSQL '{}': postmaster PID {} on {} did not shut down within {} s of SIGTERM (sessions still"
                + " connected?); killing it and its {} child processes", name, postmaster.pid(), dataDirectory,
                SIGTERM_WAIT.toSeconds(), children.size());
        // Children forked since the first look (a backend for a new session) are collected as well.
        children = Stream.concat(children.stream(), postmaster.descendants()).distinct().toList();
        postmaster.destroyForcibly();
        children.forEach(ProcessHandle::destroyForcibly);
        boolean dead = awaitExit(postmaster, SIGKILL_WAIT);
        for (ProcessHandle child : children) {
            dead &= awaitExit(child, SIGKILL_WAIT);
        }
        if (!dead) {
            throw new EmbeddedStackException("Cannot stop the PostgreSQL postmaster (PID " + postmaster.pid()
                    + ") running on " + dataDirectory + " for server '" + name + "'; stop it by hand (kill -9 "
                    + postmaster.pid() + ") and retry.");
        }
    }

    /**
     * Polls rather than using {@link ProcessHandle#onExit()}: for a process that is not a child of
     * this JVM (the postmaster is a child of pg_ctl, then of init) onExit polls with a back-off that
     * adds up to a second to every stop.
     */
    private static EmbeddedStackException startFailure(String name, Path serverDirectory, Path dataDirectory,
                                                       String timeZone, Path logFile, String what, Throwable cause) {
        // A postmaster that started but did not answer in time is still running: stop it too.
        stopLeftoverPostmaster(name, dataDirectory);
        String log = tail(logFile, 15);
        deleteQuietly(serverDirectory);
        return new EmbeddedStackException("PostgreSQL '" + name + "' did not start (data directory " + dataDirectory
                + ", time zone " + timeZone + "): " + what + ". A time zone PostgreSQL does not know, or a work"
                + " directory on a file system without file locks, are common causes. End of " + logFile + ":\n"
                + log, cause);
    }

    private static String tail(Path file, int lines) {
        try {
            List<String> all = Files.readAllLines(file, StandardCharsets.UTF_8);
            return String.join("\n", all.subList(Math.max(0, all.size() - lines), all.size()));
        } catch (IOException | RuntimeException e) {
            return "(no log: " + e + ")";
        }
    }

    /**
     * Cuts zonky's wait short when the server cannot start. Zonky polls for up to the startup wait
     * (30 s) even after the postmaster has exited, for instance on an unknown time zone. pg_ctl, run
     * with -w, notices that exit and prints "could not start server"; this watch looks for that line
     * in the log file and interrupts the starting thread, on which zonky stops waiting and returns.
     */
    private static final class StartFailureWatch {
        private static final String PG_CTL_FAILURE = "could not start server";
        private final Thread starter = Thread.currentThread();
        private final Path logFile;
        private final AtomicBoolean done = new AtomicBoolean();
        private final AtomicBoolean failed = new AtomicBoolean();
        private final Object lock = new Object();
        private Thread watcher;

        private StartFailureWatch(Path logFile) {
            this.logFile = logFile;
        }

        static StartFailureWatch begin(Path logFile) {
            StartFailureWatch watch = new StartFailureWatch(logFile);
            watch.watcher = new Thread(watch::run, "postgres-start-watch");
            watch.watcher.setDaemon(true);
            watch.watcher.start();
            return watch;
        }

        private void run() {
            while (!done.get()) {
                if (logShowsFailure()) {
                    synchronized (lock) {
                        if (!done.get()) {
                            failed.set(true);
                            starter.interrupt();
                        }
                    }
                    return;
                }
                try {
                    Thread.sleep(100);
                } catch (InterruptedException e) {
                    return;
                }
            }
        }

        private boolean logShowsFailure() {
            try {
                return Files.exists(logFile) && Files.readString(logFile, StandardCharsets.UTF_8).contains(PG_CTL_FAILURE);
            } catch (IOException | RuntimeException e) {
                return false;
            }
        }

        /** Stops watching; true if the start failed, in which case the interrupt it caused is cleared. */
        boolean end() {
            synchronized (lock) {
                done.set(true);
            }
            watcher.interrupt();
            if (failed.get()) {
                Thread.interrupted();
                return true;
            }
            return false;
        }
    }

    private static boolean awaitExit(ProcessHandle process, Duration wait) {
        long deadline = System.nanoTime() + wait.toNanos();
        while (Processes.isRunning(process)) {
            if (System.nanoTime() - deadline > 0) {
                return false;
            }
            try {
                Thread.sleep(20);
            } catch (InterruptedException e) {
                Thread.currentThread().interrupt();
                return !Processes.isRunning(process);
            }
        }
        return true;
    }

    /**
     * True if {@code process} runs the {@code postgres} executable and, when both are known, started
     * within a minute of {@code startEpochSeconds}. The start-time check guards against PID reuse by
     * another PostgreSQL server on the machine.
     */
    private static boolean looksLikePostmaster(ProcessHandle process, OptionalLong startEpochSeconds) {
        ProcessHandle.Info info = process.info();
        Optional<String> command = info.command();
        if (command.isEmpty()) {
            return false;
        }
        Path file = Path.of(command.get()).getFileName();
        String executable = file == null ? "" : file.toString();
        if (!executable.equals("postgres") && !executable.equals("postgres.exe") && !executable.equals("postmaster")) {
            return false;
        }
        Optional<Instant> processStart = info.startInstant();
        if (startEpochSeconds.isPresent() && processStart.isPresent()) {
            long skew = Math.abs(processStart.get().getEpochSecond() - startEpochSeconds.getAsLong());
            return skew <= START_TIME_TOLERANCE.toSeconds();
        }
        return true;
    }

    private static OptionalLong readPostmasterPid(Path pidFile) throws IOException {
        List<String> lines = Files.readAllLines(pidFile, StandardCharsets.UTF_8);
        return lines.isEmpty() ? OptionalLong.empty() : parseLong(lines.get(0));
    }

    private static OptionalLong parseLong(String s) {
        try {
            return OptionalLong.of(Long.parseLong(s.trim()));
        } catch (NumberFormatException e) {
            return OptionalLong.empty();
        }
    }

    /**
     * Zonky picks the port by binding and releasing a free one before PostgreSQL binds it. Should
     * another server take the port in between, PostgreSQL fails to bind while zonky's readiness probe
     * succeeds against the other server; comparing data directories catches that.
     */
    private static void verifyOwnServer(int port, Path dataDirectory) throws SQLException, IOException {
        String url = "jdbc:postgresql://" + HOST + ":" + port + "/postgres";
        try (Connection c = DriverManager.getConnection(url, USER, PASSWORD);
             Statement s = c.createStatement();
             ResultSet rs = s.executeQuery("SHOW data_directory")) {
            rs.next();
            Path served = Path.of(rs.getString(1));
            if (!Files.exists(served) || !Files.isSameFile(served, dataDirectory)) {
                throw new IOException("port " + port + " is answered by another PostgreSQL server (data directory "
                        + served + "), which took the port while this one started; retry");
            }
        }
    }

    private static void createDatabase(int port, String database) throws SQLException {
        String url = "jdbc:postgresql://" + HOST + ":" + port + "/postgres";
        try (Connection c = DriverManager.getConnection(url, USER, PASSWORD);
             Statement s = c.createStatement()) {
            try (ResultSet rs = s.executeQuery("SELECT 1 FROM pg_database WHERE datname = '" + database + "'")) {
                if (rs.next()) {
                    return;
                }
            }
            // The name matched NAME, so it is a plain identifier; quoting keeps it exactly as given.
            s.execute("CREATE DATABASE \"" + database + "\"");
        }
    }

    private static void closeQuietly(EmbeddedPostgres postgres, String name) {
        try {
            postgres.close();
        } catch (IOException | RuntimeException e) {
            LOG.warn("Stopping PostgreSQL '{}' failed: {}", name, e.toString());
        }
    }

    private static void deleteQuietly(Path directory) {
        try {
            FileTrees.deleteRecursively(directory);
        } catch (IOException e) {
            LOG.warn("Cannot delete {}: {}; delete it by hand", directory, e.toString());
        }
    }
}

using Akka.Actor;
using Akka.Event;
using BtwBackup.Actors;
using BtwBackup.Config;
using BtwBackup.Daemon;
using BtwBackup.Hosting;
using BtwBackup.Logging;
using BtwBackup.Platform;
using BtwBackup.Protocol;

namespace BtwBackup.Cli;

/// <summary>
/// The edge: parse (no actor system for -h, --version or a usage error), load and validate the
/// configuration, hand the command to a transport (the daemon's, or the Orchestrator in this
/// process under the configuration directory's lock) and print its reply.
/// </summary>
public static class Program
{
    /// <summary>The configuration directory's lock when it is free now; null when it is held, or when this user cannot take it (then the port is asked, as for any command).</summary>
    private static ConfigDirLock? HoldAtOnce(string configDir)
    {
        try
        {
            return ConfigDirLock.TryAcquire(configDir);
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }
    }

    public static async Task<int> Main(string[] args)
    {
        Posix.SetPrivateUmask();
        var parsed = CommandLine.Parser().Parse(args);
        if (parsed is ParseOutcome.Exit exit)
            return CommandLine.Print(exit);

        var run = ((ParseOutcome.Run)parsed).Args;
        if (run.Command == "keygen")
            return Keygen(run.Find("file"));
        // sync --full lists every destination first, and that waits for the SDK's start: it starts
        // now, beside the configuration's load. (A plain sync often has nothing pending, and is
        // answered from the files without a request: 14 MB and 40 ms more when it was warmed too.)
        if (run.Command == "sync" && run.Flag("full"))
            StartS3WarmUp();
        using var interrupt = new Interrupt();
        LogFile? log = null;
        var sentToDaemon = false;
        try
        {
            var request = run.Command == "serve" ? null : Requests.From(run);
            var configDir = Path.GetFullPath(run.ConfigDir ?? ConfigLoader.DefaultConfigDir());
            var settings = ConfigLoader.LoadGeneral(configDir);
            log = new LogFile(settings.LogFile);
            if (request is null)
                return await ServeAsync(settings, interrupt.Token);
            if (request.Syncs && settings.DestinationError is { } noDestination)
                throw new ConfigException(noDestination);
            log.Write("INFO", "cli", $"{CommandLine.Prog} {string.Join(' ', args)}");

            var progress = !run.Quiet && Posix.IsTerminal(1) ? Console.Out : null;
            var probe = System.Diagnostics.Stopwatch.StartNew();
            // The daemon holds the lock as long as it runs: a writer that takes it at once knows that
            // no daemon on this machine serves this directory, and does not ask the port (whatever
            // listens there, another user's listener while the daemon is down, cannot stop a backup).
            // A daemon.hostname beyond loopback may be another machine's daemon, driven from here
            // with a copy of its token: there the port is asked first, as for any command.
            var held = request.Writes && request.Command is not InspectSyncState && Gateway.IsLoopback(settings.Daemon.Hostname)
                ? HoldAtOnce(configDir)
                : null;
            // Only the daemon writes while it runs: the command goes to it, whatever it is.
            ICommandTransport transport = held is not null ? new InProcessTransport(settings, writes: true, log, held)
                : await DaemonClient.IsServingAsync(settings.Daemon, interrupt.Token) ? new DaemonTransport(settings)
                : new InProcessTransport(settings, request.Writes, log);
            sentToDaemon = transport.OutlivesClient;
            log.Write("INFO", "cli", sentToDaemon ? $"sent to {transport.Where}"
                : held is not null ? $"no daemon serves {configDir} (this process holds its lock): working in-process"
                : $"no daemon on {settings.Daemon.Hostname}:{settings.Daemon.Port} (found out in {probe.Elapsed.TotalMilliseconds:0.0} ms): working in-process");
            var reply = Rendering.Render(request.Command, await transport.ExecuteAsync(request.Command, progress, interrupt.Token));

            // Names from outside (S3 keys, archive members) never steer the terminal. -q keeps a
            // successful pass silent (for cron), unless its JSON was asked for.
            var silent = run.Quiet && run.Command == "run" && reply.ExitCode == Protocol.ExitCode.Ok && !run.Flag("json");
            foreach (var line in silent ? [] : reply.Stdout)
                Console.Out.WriteLine(TerminalText.PrintableLines(line));
            foreach (var line in reply.Stderr)
                Console.Error.WriteLine(TerminalText.PrintableLines(line));
            log.Write(reply.ExitCode == Protocol.ExitCode.Ok ? "INFO" : "WARNING", "cli", $"{run.Command} exited with {(int)reply.ExitCode}");
            return (int)reply.ExitCode;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(e.Usage);
            Console.Error.WriteLine($"{CommandLine.Prog} {run.Command}: error: {TerminalText.Printable(e.Message)}");
            return (int)Protocol.ExitCode.Usage;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine(ErrorReport.Prefix + (sentToDaemon
                ? "interrupted: the daemon goes on with the command (btw-backup status shows how it ends)"
                : "interrupted: nothing half-stored; the next run starts clean"));
            return (int)Protocol.ExitCode.Error;
        }
        catch (Exception e)
        {
            // "the log has the details" only when they were written there.
            var logged = !ErrorReport.IsExpected(e) && log is not null && TryLog(log, e);
            foreach (var line in ErrorReport.Lines(e, logged))
                Console.Error.WriteLine(line);
            return (int)Protocol.ExitCode.Error;
        }
    }

    /// <summary>
    /// <see cref="ObjectStore.S3ObjectStore.WarmUp"/> on a thread of its own, which the process does
    /// not wait for; a failure there is only a start not made ahead (the sync's own client says why,
    /// if it fails too).
    /// </summary>
    private static void StartS3WarmUp() => new Thread(() =>
    {
        try
        {
            ObjectStore.S3ObjectStore.WarmUp();
        }
        catch (Exception)
        {
            // Nothing was asked of this thread but time.
        }
    }) { IsBackground = true, Name = "s3-warm-up" }.Start();

    /// <summary>
    /// <c>keygen [FILE]</c>: a new age identity, written to FILE (created, never replaced, mode
    /// 0600) or to stdout, in age-keygen's format; its recipient goes to stdout (with a FILE) or to
    /// stderr (without), as age-keygen does. It needs no configuration: it is meant to run on the
    /// administrator's own machine, not on the backup host.
    /// </summary>
    private static int Keygen(string? file)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("btw-backup runs on Linux");
        var identity = Crypto.AgeIdentity.Generate();
        var text = $"# created: {DateTime.UtcNow:yyyy-MM-ddTHH:mm:ssZ} by {CommandLine.Prog} keygen\n# public key: {identity.Recipient}\n{identity.Secret}\n";
        if (file is null)
        {
            Console.Out.Write(text);
            Console.Error.WriteLine("Public key: " + identity.Recipient);
            return (int)Protocol.ExitCode.Ok;
        }

        try
        {
            // CreateNew is O_EXCL: an existing file, or a symbolic link planted there, is refused, never written through.
            using var stream = new FileStream(file, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            });
            stream.Write(System.Text.Encoding.ASCII.GetBytes(text));
            stream.Flush(flushToDisk: true);
        }
        catch (IOException) when (File.Exists(file) || Directory.Exists(file) || new FileInfo(file).LinkTarget is not null)
        {
            Console.Error.WriteLine($"{ErrorReport.Prefix}{file} exists: keygen never replaces an identity (the backups encrypted to it would be lost with it)");
            return (int)Protocol.ExitCode.Error;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException or ArgumentException)
        {
            Console.Error.WriteLine($"{ErrorReport.Prefix}cannot write {TerminalText.Printable(file)}: {e.Message}");
            return (int)Protocol.ExitCode.Error;
        }

        Console.Out.WriteLine(identity.Recipient);
        Console.Error.WriteLine($"{ErrorReport.Prefix}the identity is in {file}: keep it off the backup host (it reads every backup); the host needs only the recipient above");
        return (int)Protocol.ExitCode.Ok;
    }

    private static bool TryLog(LogFile log, Exception e) => log.Write("ERROR", "cli", e.ToString());

    /// <summary>
    /// <c>serve</c>: holds the configuration directory's lock for its whole life, serves until
    /// SIGTERM or SIGINT, then cancels the backups in flight, waits until they have cleaned up
    /// (what was not synced stays pending in the journal), and stops. SIGHUP reloads the
    /// configuration (see <see cref="Reconfigure"/>).
    /// </summary>
    private static async Task<int> ServeAsync(GeneralSettings settings, CancellationToken stop)
    {
        var configDir = settings.ConfigDir;
        var daemon = settings.Daemon;
        using var configLock = ConfigDirLock.TryAcquire(configDir)
            ?? throw new ConfigException(await DaemonClient.IsServingAsync(daemon, stop)
                ? $"a btw-backup daemon already serves {configDir} (pid {ConfigDirLock.Holder(configDir)}, {daemon.Hostname}:{daemon.Port})"
                : $"another btw-backup is working on {configDir} (pid {ConfigDirLock.Holder(configDir)}): start the daemon when it has finished");
        var address = ListenAddress(settings);
        if (!PortHolder.IsFree(address, daemon.Port))
            throw new ConfigException($"cannot serve: port {daemon.Port} on {daemon.Hostname} (daemon.port in {settings.LoadedFrom}) is taken"
                + (PortHolder.Describe(daemon.Port) is { } holder ? $" by {holder}" : "") + "; a daemon never shares its port: stop that process or choose another port");
        var token = DaemonToken.Ensure(configDir);
        DaemonSystems daemonSystems;
        try
        {
            daemonSystems = BackupHost.StartDaemon(settings, token);
        }
        catch (Exception e) when (e is not ConfigException)
        {
            throw new ConfigException($"cannot listen on {daemon.Hostname}:{daemon.Port} (daemon.hostname, daemon.port in {settings.LoadedFrom}): {ErrorReport.Unwrap(e).Message}");
        }

        var (system, door, orchestrator) = daemonSystems;
        await using var web = settings.Http is { } http ? await StartWebAsync(settings, http, orchestrator, system, stop) : null;
        // SIGHUP: the configuration is read again and validated first; a bad one changes nothing.
        using var reload = System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGHUP, context =>
        {
            context.Cancel = true;
            try
            {
                orchestrator.Tell(new Reconfigure(ConfigLoader.LoadGeneral(configDir)));
            }
            catch (Exception e)
            {
                system.Log.Error("configuration not reloaded, the running one stays: {0}", e.Message);
            }
        });
        if (Posix.HangUpIgnored())
            system.Log.Warning("daemon: SIGHUP is ignored (started under nohup?): the configuration cannot be reloaded; restart the daemon to apply a change (systemd starts it without nohup)");
        system.Log.Info("daemon: serving {0} on {1}:{2} (pid {3}); schedule: {4}", configDir, daemon.Hostname, daemon.Port, Environment.ProcessId,
            daemon.ScheduleText is null ? "none, passes on demand" : $"\"{daemon.ScheduleText}\", next pass {(daemon.NextRun(DateTime.UtcNow) is { } next ? SummaryFormat.Time(next) : "never")}");
        if (web is not null)
            system.Log.Info("daemon: status page and /metrics on {0} (login and bearer token: web.token)", web.Address);
        SystemdNotify.Send($"READY=1\nSTATUS=serving {configDir} on {daemon.Hostname}:{daemon.Port}\nMAINPID={Environment.ProcessId}");
        // The work system ends on its own only when something stopped it (a cluster node whose TLS
        // pair the cluster refused shuts itself down): a daemon without its Orchestrator must not
        // go on answering connections, so it exits, saying why.
        var stopped = await Task.WhenAny(Task.Delay(Timeout.InfiniteTimeSpan, stop), system.WhenTerminated);
        if (stopped == system.WhenTerminated)
        {
            await door.Terminate();
            var why = Hosting.OrchestratorWatch.Failure is { } failure ? failure
                : settings.Cluster is { } c
                ? Actors.HostGuard.Refusal ?? $"the cluster node {c.Host} stopped: the cluster at {string.Join(", ", c.SeedNodes)} refused it (its TLS pair, cluster.tls) or removed it (it was on the smaller side of a partition); the log says which"
                : "the actor system stopped on its own (see the log)";
            Console.Error.WriteLine(ErrorReport.Prefix + why);
            return (int)Protocol.ExitCode.Error;
        }

        SystemdNotify.Send("STOPPING=1\nSTATUS=draining: backups in flight are cancelled and cleaned up");
        system.Log.Info("daemon: stopping: backups in flight are cancelled and cleaned up; what is not synced stays pending");
        try
        {
            await orchestrator.Ask<Drained>(new Drain(), DrainTimeout);
        }
        catch (AskTimeoutException)
        {
            system.Log.Warning("daemon: backups still running after {0} s; stopping anyway (the next run cleans up)", DrainTimeout.TotalSeconds);
        }

        await door.Terminate();
        system.Log.Info("daemon: stopped");
        await FileLogger.FlushAsync(system, TimeSpan.FromSeconds(2));
        await system.Terminate();
        return (int)Protocol.ExitCode.Ok;
    }

    private static readonly TimeSpan DrainTimeout = TimeSpan.FromSeconds(60);

    /// <summary>
    /// The status page and /metrics (http block). One that cannot start (its port taken, on either
    /// loopback) is an error in the log and on stderr, never a reason to stop backing up: a local
    /// user who takes the port first must not be able to stop the nightly backups.
    /// </summary>
    private static async Task<Web.StatusWeb?> StartWebAsync(GeneralSettings settings, HttpSettings http, IActorRef orchestrator, ActorSystem system, CancellationToken stop)
    {
        string why;
        try
        {
            var taken = Web.StatusWeb.Addresses(http).FirstOrDefault(a => !PortHolder.IsFree(a, http.Port));
            if (taken is null)
                return await Web.StatusWeb.StartAsync(settings, http, orchestrator, stop);
            why = $"port {http.Port} on {taken} is taken" + (PortHolder.Describe(http.Port) is { } holder ? $" by {holder}" : "")
                + ": what answers there is not btw-backup, do not give it the web token";
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            why = ErrorReport.Unwrap(e).Message;
        }

        var line = $"the status page and /metrics are not served (http in {settings.LoadedFrom}): {why}; the backups go on without them";
        system.Log.Error("daemon: " + line);
        Console.Error.WriteLine(ErrorReport.Prefix + line);
        return null;
    }

    /// <summary>
    /// The daemon's address, which must be a loopback one unless daemon.tls is set: a daemon
    /// reachable from the network without TLS would show its traffic to the network.
    /// </summary>
    private static System.Net.IPAddress ListenAddress(GeneralSettings settings)
    {
        var hostname = settings.Daemon.Hostname;
        System.Net.IPAddress[] addresses;
        try
        {
            addresses = System.Net.IPAddress.TryParse(hostname, out var literal) ? [literal] : System.Net.Dns.GetHostAddresses(hostname);
        }
        catch (System.Net.Sockets.SocketException e)
        {
            throw new ConfigException($"daemon.hostname \"{hostname}\" in {settings.LoadedFrom} does not resolve: {e.Message}");
        }

        if (addresses.Length == 0 || (settings.Daemon.Tls is null && !addresses.All(System.Net.IPAddress.IsLoopback)))
            throw new ConfigException($"daemon.hostname \"{hostname}\" in {settings.LoadedFrom} is not a loopback address: a daemon reachable "
                + "from other machines needs TLS (daemon.tls); use 127.0.0.1 (the default) or ::1, or set daemon.tls");
        return addresses[0];
    }

    /// <summary>SIGINT and SIGTERM cancel the command instead of killing the process mid-write.</summary>
    private sealed class Interrupt : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly List<System.Runtime.InteropServices.PosixSignalRegistration> _registrations;

        public Interrupt()
        {
            _registrations =
            [
                System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Cancel),
                System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Cancel),
            ];
        }

        public CancellationToken Token => _cts.Token;

        private void Cancel(System.Runtime.InteropServices.PosixSignalContext context)
        {
            context.Cancel = true;
            _cts.Cancel();
        }

        public void Dispose()
        {
            foreach (var r in _registrations)
                r.Dispose();
            _cts.Dispose();
        }
    }
}

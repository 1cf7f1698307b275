using Akka.Actor;
using Akka.Configuration;
using HoconConfig = Akka.Configuration.Config;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Daemon;
using BtwBackup.Restore;
using BtwBackup.Logging;
using BtwBackup.ObjectStore;
using BtwBackup.Sync;
using BtwBackup.Tools;

namespace BtwBackup.Hosting;

/// <summary>Builds the actor system and the Orchestrator with the real tools.</summary>
public static class BackupHost
{
    public const string SystemName = "btw-backup";

    /// <summary>What every actor system of btw-backup runs with (daemon, in-process CLI, remoting client): the embedded akka.conf and the log settings.</summary>
    public static HoconConfig BaseConfig(GeneralSettings settings) =>
        ConfigurationFactory.ParseString($"{FileLogger.PathKey} = {HoconText.Quote(settings.LogFile)}\nakka.loglevel = {settings.LogLevel}")
            .WithFallback(ConfigurationFactory.ParseString(ConfigLoader.ReadResource("BtwBackup.akka.conf")));

    /// <param name="oneShot">An actor system for one command, stopped after it (see <see cref="PersistenceConfig.ForSqlite"/>).</param>
    public static HoconConfig ActorSystemConfig(GeneralSettings settings, bool oneShot = false)
    {
        // btw-backup's messages as data (never on the door: see MessageSerializer).
        var config = ConfigurationFactory.ParseString(Protocol.MessageSerializer.Config).WithFallback(BaseConfig(settings));
        // The journal is opened only where there is a sync state to keep.
        if (settings.Destinations.IsEmpty)
            return config;
        return config.WithFallback(settings.Sync.PostgresJournal is { } postgres
            ? PersistenceConfig.ForPostgres(postgres)
            : PersistenceConfig.ForSqlite(Path.Combine(settings.ConfigDir, PersistenceConfig.FileName), oneShot: oneShot));
    }

    /// <summary>The real lister, on its own: what <c>list</c> needs, without an actor system.</summary>
    public static SeriesLister Lister() => new(new RdiffBackup(new CliWrapProcessRunner()));

    /// <summary>The real restorer, on its own: what <c>restore</c> needs, in the daemon or without an actor system.</summary>
    public static Restorer NewRestorer(IProcessRunner runner) =>
        new(new RdiffBackup(runner), new Tar(runner), new Postgres(runner), new ArchiveGuard(runner), new Bzip2(runner), runner);

    /// <summary>The real tar making an rdiff tree's scratch archive ahead of the actors (see <see cref="ArchiveAhead"/>).</summary>
    public static ArchiveAhead StartArchiveAhead(FileTreeJob job, CancellationToken ct) =>
        ArchiveAhead.Start(new Tar(new CliWrapProcessRunner()), job.Folder.Source, job.Folder.BackupDir, ct);

    /// <summary>Each destination's object store (retried); null without destinations.</summary>
    public static Func<DestinationSettings, IObjectStore>? Stores(GeneralSettings settings) =>
        settings.Destinations.IsEmpty ? null : d => new RetryingObjectStore(new S3ObjectStore(d.Connection));

    /// <param name="archiveAhead">The scratch tar of an <c>fs</c>, started before the actors (see <see cref="ArchiveAhead"/>).</param>
    /// <param name="hashes">The MD5 cache this process already opened (the comparison of <c>sync --full</c> without actors); null: opened here.</param>
    public static OrchestratorServices RealServices(GeneralSettings settings, ArchiveAhead? archiveAhead = null, Md5Cache? hashes = null)
    {
        IProcessRunner runner = new CliWrapProcessRunner();
        IClock clock = new SystemClock();
        var tar = new Tar(runner);
        var rdiff = new RdiffBackup(runner);
        var rdiffSeries = new RdiffSeries(rdiff, clock)
        {
            // What each stored backup holds, so that "unchanged" is decided without reading the repository.
            Digests = Platform.StampedDigests.Open(Path.Combine(settings.ConfigDir, RdiffSeries.DigestsFileName), RdiffSeries.DigestsMagic, 32),
        };
        var postgres = new Postgres(runner);
        var procedures = new BackupProcedures(
            new FileTreeBackup(tar, new TarSeries(tar, clock), rdiffSeries) { Ahead = archiveAhead },
            new DatabaseBackup(postgres, rdiffSeries, runner));
        return new OrchestratorServices(settings, procedures, new SeriesLister(rdiff))
        {
            Restorer = NewRestorer(runner),
            Verifier = new Verifier(rdiff, tar, postgres, new Bzip2(runner), new ArchiveGuard(runner)),
            Stores = Stores(settings),
            // One MD5 cache for every destination: a file unchanged since it was read is not read again.
            Hashes = settings.Destinations.IsEmpty ? null : hashes ?? Md5Cache.Open(Path.Combine(settings.ConfigDir, Md5Cache.FileName)),
            History = SyncHistory.ReadAsync,
            WriterLocks = settings.Sync.PostgresJournal is { } journal
                ? new PostgresWriterLocks(journal, $"btw-backup{(settings.Cluster is { } c ? " host " + c.Host : "")} pid {Environment.ProcessId} on {Environment.MachineName}")
                : null,
            StatusFile = new StatusFile(Path.Combine(settings.ConfigDir, StatusFile.FileName)),
            Pings = monitoring => new Monitoring.HttpPingSender(monitoring),
            Runs = new Monitoring.RunHistory(Path.Combine(settings.ConfigDir, Monitoring.RunHistory.FileName), settings.Sync.HistoryWindow),
        };
    }

    /// <param name="ahead">Listings taken ahead for the destinations (see <see cref="Mirror.Ahead"/>).</param>
    /// <param name="archiveAhead">The scratch tar of an <c>fs</c>, started before the actors (see <see cref="ArchiveAhead"/>).</param>
    /// <param name="hashes">The MD5 cache this process already opened, for the destinations to share; null: opened here.</param>
    /// <param name="uploads">
    /// Uploads started ahead for the destinations (see <see cref="Mirror.Uploads"/>), given once
    /// the sync they belong to is journaled from the file (see <see cref="IdleSync.StartUploadsAhead"/>):
    /// awaited while the actor system is up but before the Orchestrator starts, whose destinations
    /// open the journal, so that the file's writes and fsyncs overlap the system's start.
    /// </param>
    public static async Task<(ActorSystem System, IActorRef Orchestrator)> StartAsync(GeneralSettings settings,
        IReadOnlyDictionary<string, Task<List<RemoteObject>>>? ahead = null, ArchiveAhead? archiveAhead = null, Md5Cache? hashes = null,
        Task<IReadOnlyDictionary<string, UploadsAhead>?>? uploads = null)
    {
        var system = ActorSystem.Create(SystemName, ActorSystemConfig(settings, oneShot: true));
        IReadOnlyDictionary<string, UploadsAhead>? started;
        try
        {
            started = uploads is null ? null : await uploads;
        }
        catch
        {
            await system.Terminate();
            throw;
        }

        var orchestrator = system.ActorOf(Orchestrator.Props(RealServices(settings, archiveAhead, hashes) with { Ahead = ahead, Uploads = started }), Orchestrator.Name);
        return (system, orchestrator);
    }

    /// <summary>
    /// A remoting actor system (the daemon's door, or the CLI's client) on the given address
    /// (port 0: any free port, for a client), with hocon/remoting.conf: only btw-backup's own wire
    /// messages are ever deserialized.
    /// </summary>
    public static HoconConfig RemoteConfig(GeneralSettings settings, string hostname, int port) => ConfigurationFactory.ParseString($$"""
        akka.remote.dot-netty.tcp.hostname = {{HoconText.Quote(hostname)}}
        akka.remote.dot-netty.tcp.port = {{port}}
        """)
        .WithFallback(ConfigurationFactory.ParseString(ConfigLoader.ReadResource("BtwBackup.remoting.conf")))
        .WithFallback(BaseConfig(settings));

    /// <summary>
    /// Starts a remoting actor system with <see cref="RemoteConfig"/> (and <paramref name="first"/>
    /// before it), on TLS pinned to daemon.tls's certificate when it is set (see DaemonTls).
    /// </summary>
    public static ActorSystem StartRemoting(string name, GeneralSettings settings, string hostname, int port, HoconConfig? first = null)
    {
        var config = RemoteConfig(settings, hostname, port);
        if (first is not null)
            config = first.WithFallback(config);
        if (settings.Daemon.Tls is not { } tls)
            return ActorSystem.Create(name, config);
        var certificate = DaemonTls.Load(tls);
        config = ConfigurationFactory.ParseString("akka.remote.dot-netty.tcp.enable-ssl = true").WithFallback(config);
        return ActorSystem.Create(name, BootstrapSetup.Create().WithConfig(config).And(DaemonTls.Setup(certificate)));
    }

    /// <summary>
    /// A daemon's work system as a cluster node (cluster block in btw-backup.conf): Akka.Cluster
    /// over Akka.Remote on mutual TLS pinned to the cluster's certificate (a peer that does not
    /// hold its key never completes a connection, so is never admitted), this node's host as its
    /// role, the seeds to join, and the split-brain resolver keeping the majority side, so that a
    /// partition never leaves two sides each believing itself the cluster.
    /// </summary>
    public static ActorSystem StartClusterNode(GeneralSettings settings, ClusterSettings cluster, HoconConfig first)
    {
        var certificate = DaemonTls.Load(cluster.Tls, "cluster.tls");
        var seeds = string.Join(", ", cluster.SeedNodes.Select(s => HoconText.Quote($"akka.ssl.tcp://{SystemName}@{s.Hostname}:{s.Port}")));
        var config = ConfigurationFactory.ParseString($$"""
            akka.actor.provider = cluster
            akka.remote.dot-netty.tcp {
              hostname = {{HoconText.Quote(cluster.Hostname)}}
              public-hostname = {{HoconText.Quote(cluster.PublicHostname)}}
              port = {{cluster.Port}}
              enable-ssl = true
              tcp-reuse-addr = off
            }
            akka.remote.log-remote-lifecycle-events = off
            akka.cluster {
              seed-nodes = [{{seeds}}]
              roles = [{{HoconText.Quote(HostRole.Of(cluster.Host))}}]
              downing-provider-class = "Akka.Cluster.SBR.SplitBrainResolverProvider, Akka.Cluster"
              split-brain-resolver {
                active-strategy = keep-majority
                stable-after = 10s
              }
              log-info-verbose = off
              # A node that starts before its seed joins within seconds, not the default ten.
              seed-node-timeout = 2s
              retry-unsuccessful-join-after = 2s
            }
            """);
        try
        {
            return ActorSystem.Create(SystemName, BootstrapSetup.Create()
                .WithConfig(config.WithFallback(first).WithFallback(ActorSystemConfig(settings)))
                .And(DaemonTls.Setup(certificate)));
        }
        catch (Exception e) when (e is not ConfigException)
        {
            throw new ConfigException($"cannot start the cluster node on {cluster.Hostname}:{cluster.Port} (cluster.hostname, cluster.port in {settings.LoadedFrom}): {Protocol.ErrorReport.Unwrap(e).Message}");
        }
    }

    /// <summary>
    /// The daemon: the same Orchestrator as in-process, in an actor system with no network
    /// transport at all, and beside it a second, remoting actor system (the door) that holds the
    /// token-checking <see cref="Gateway"/> and nothing else. Whatever a remote sender names, it
    /// can reach no other actor. Both log to stdout as well; passes run on the schedule.
    /// </summary>
    public static DaemonSystems StartDaemon(GeneralSettings settings, string token)
    {
        var daemon = settings.Daemon;
        var echo = ConfigurationFactory.ParseString($"{FileLogger.EchoKey} = on");
        // The door first: it binds the port, the step that fails when another process holds it.
        var door = StartRemoting(SystemName, settings, daemon.Hostname, daemon.Port, echo);
        // The work system stops a top actor that throws (see OrchestratorWatch); the door keeps
        // Akka's restart, so that no message a stranger sends can close it.
        var work = ConfigurationFactory.ParseString(OrchestratorWatch.GuardianConfig).WithFallback(echo);
        var system = settings.Cluster is { } cluster
            ? StartClusterNode(settings, cluster, work)
            : ActorSystem.Create(SystemName, work.WithFallback(ActorSystemConfig(settings)));

        var info = new DaemonInfo(DateTime.UtcNow, Environment.ProcessId, $"{daemon.Hostname}:{daemon.Port}");
        IActorRef? director = null;
        if (settings.Cluster is not null)
        {
            // One director in the whole cluster; every node reaches it through its proxy, wherever it runs.
            director = DirectorSingleton.Start(system, settings.Daemon);
            system.ActorOf(HostGuard.Props(settings.Cluster.Host, Path.Combine(settings.ConfigDir, KnownHosts.FileName)), HostGuard.Name);
        }

        var orchestrator = system.ActorOf(Orchestrator.Props(RealServices(settings) with { Daemon = info, Director = director }), Orchestrator.Name);
        system.ActorOf(OrchestratorWatch.Props(orchestrator), OrchestratorWatch.Name);
        door.ActorOf(Gateway.Props(token, orchestrator), Gateway.Name);
        return new DaemonSystems(system, door, orchestrator);
    }
}

/// <summary>The role that names a node's host in the cluster: "host:NAME".</summary>
public static class HostRole
{
    public const string Prefix = "host:";

    public static string Of(string host) => Prefix + host;

    /// <summary>The host a member's roles name; null for a member that is not a btw-backup node.</summary>
    public static string? HostOf(IEnumerable<string> roles) =>
        roles.FirstOrDefault(r => r.StartsWith(Prefix, StringComparison.Ordinal))?[Prefix.Length..];
}

/// <summary>The daemon's two actor systems: the work (no transport), and the door (remoting, the gateway only).</summary>
public sealed record DaemonSystems(ActorSystem System, ActorSystem Door, IActorRef Orchestrator);

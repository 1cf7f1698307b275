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
using BtwBackup.Series;
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

    public static HoconConfig ActorSystemConfig(GeneralSettings settings)
    {
        var config = BaseConfig(settings);
        // The journal is opened only where there is a sync state to keep.
        if (settings.Destinations.IsEmpty)
            return config;
        return config.WithFallback(settings.Sync.PostgresJournal is { } postgres
            ? PersistenceConfig.ForPostgres(postgres)
            : PersistenceConfig.ForSqlite(Path.Combine(settings.ConfigDir, PersistenceConfig.FileName)));
    }

    public static OrchestratorServices RealServices(GeneralSettings settings)
    {
        IProcessRunner runner = new CliWrapProcessRunner();
        IClock clock = new SystemClock();
        var tar = new Tar(runner);
        var rdiff = new RdiffBackup(runner);
        var rdiffSeries = new RdiffSeries(rdiff, clock);
        var procedures = new BackupProcedures(
            new FileTreeBackup(tar, new TarSeries(tar, clock), rdiffSeries),
            new DatabaseBackup(new Postgres(runner), rdiffSeries, runner));
        var postgres = new Postgres(runner);
        return new OrchestratorServices(settings, procedures, new SeriesLister(rdiff))
        {
            Restorer = new Restorer(rdiff, tar, postgres, new ArchiveGuard(runner), runner),
            Verifier = new Verifier(rdiff, tar, postgres),
            Stores = settings.Destinations.IsEmpty ? null : d => new RetryingObjectStore(new S3ObjectStore(d.Connection)),
            History = SyncHistory.ReadAsync,
            StatusFile = new StatusFile(Path.Combine(settings.ConfigDir, StatusFile.FileName)),
        };
    }

    public static (ActorSystem System, IActorRef Orchestrator) Start(GeneralSettings settings)
    {
        var system = ActorSystem.Create(SystemName, ActorSystemConfig(settings));
        var orchestrator = system.ActorOf(Orchestrator.Props(RealServices(settings)), Orchestrator.Name);
        return (system, orchestrator);
    }

    /// <summary>Akka.Remote on the given address (port 0: any free port, for a client).</summary>
    public static HoconConfig RemoteConfig(string hostname, int port) => ConfigurationFactory.ParseString($$"""
        akka.actor.provider = remote
        akka.remote.dot-netty.tcp.hostname = {{HoconText.Quote(hostname)}}
        akka.remote.dot-netty.tcp.port = {{port}}
        """);

    /// <summary>
    /// The daemon: the same Orchestrator, reachable over Akka.Remote through the token-checking
    /// <see cref="Gateway"/>, running passes on the schedule, logging to stdout as well.
    /// </summary>
    public static (ActorSystem System, IActorRef Orchestrator) StartDaemon(GeneralSettings settings, string token)
    {
        var daemon = settings.Daemon;
        var config = RemoteConfig(daemon.Hostname, daemon.Port)
            .WithFallback(ConfigurationFactory.ParseString($"{FileLogger.EchoKey} = on"))
            .WithFallback(ActorSystemConfig(settings));
        var system = ActorSystem.Create(SystemName, config);
        var info = new DaemonInfo(DateTime.UtcNow, Environment.ProcessId, $"{daemon.Hostname}:{daemon.Port}");
        var orchestrator = system.ActorOf(Orchestrator.Props(RealServices(settings) with { Daemon = info }), Orchestrator.Name);
        system.ActorOf(Gateway.Props(token, orchestrator), Gateway.Name);
        return (system, orchestrator);
    }
}

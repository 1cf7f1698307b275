using Akka.Actor;
using Akka.Configuration;
using HoconConfig = Akka.Configuration.Config;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.ObjectStore;
using BtwBackup.Sync;
using BtwBackup.Series;
using BtwBackup.Tools;

namespace BtwBackup.Hosting;

/// <summary>Builds the actor system and the Orchestrator with the real tools.</summary>
public static class BackupHost
{
    public const string SystemName = "btw-backup";

    public static HoconConfig ActorSystemConfig(GeneralSettings settings)
    {
        var own = ConfigurationFactory.ParseString(
            $"btw-backup.log-file = {HoconText.Quote(settings.LogFile)}\nakka.loglevel = {settings.LogLevel}");
        var config = own.WithFallback(ConfigurationFactory.ParseString(ConfigLoader.ReadResource("BtwBackup.akka.conf")));
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
        return new OrchestratorServices(settings, procedures, new SeriesLister(rdiff))
        {
            Stores = settings.Destinations.IsEmpty ? null : d => new RetryingObjectStore(new S3ObjectStore(d.Connection)),
            History = SyncHistory.ReadAsync,
        };
    }

    public static (ActorSystem System, IActorRef Orchestrator) Start(GeneralSettings settings)
    {
        var system = ActorSystem.Create(SystemName, ActorSystemConfig(settings));
        var orchestrator = system.ActorOf(Orchestrator.Props(RealServices(settings)), Orchestrator.Name);
        return (system, orchestrator);
    }
}

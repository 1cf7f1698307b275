using Akka.Actor;
using BtwBackup.Actors;
using BtwBackup.Config;
using BtwBackup.Daemon;
using BtwBackup.Hosting;
using BtwBackup.Logging;
using BtwBackup.Protocol;
using BtwBackup.Restore;

namespace BtwBackup.Cli;

/// <summary>
/// Where a command runs: the one seam between the CLI and the actors. The CLI builds the
/// command, picks a transport, and prints the <see cref="CommandReply"/> it gets back, the
/// same way for both.
/// </summary>
public interface ICommandTransport
{
    /// <summary>For the log: where the command went.</summary>
    string Where { get; }

    /// <summary>True when an interrupted command goes on without this process (the daemon's).</summary>
    bool OutlivesClient { get; }

    /// <summary>Runs the command; progress shows on <paramref name="progress"/> (a terminal) when set.</summary>
    Task<CommandReply> ExecuteAsync(CliCommand command, TextWriter? progress, CancellationToken ct);
}

/// <summary>The daemon that serves the configuration directory, over Akka.Remote (see <see cref="DaemonClient"/>).</summary>
public sealed class DaemonTransport(GeneralSettings settings) : ICommandTransport
{
    public string Where => $"the daemon on {settings.Daemon.Hostname}:{settings.Daemon.Port}";

    public bool OutlivesClient => true;

    public Task<CommandReply> ExecuteAsync(CliCommand command, TextWriter? progress, CancellationToken ct) =>
        DaemonClient.ExecuteAsync(settings, command, progress, ct);
}

/// <summary>
/// No daemon: the Orchestrator is built in this process for one command, under the
/// configuration directory's lock when the command writes, and stopped after it.
/// <paramref name="log"/>: where a command answered without the actors says so.
/// <paramref name="held"/>: the lock, taken already; released when the command ends.
/// </summary>
public sealed class InProcessTransport(GeneralSettings settings, bool writes, LogFile? log = null, ConfigDirLock? held = null) : ICommandTransport
{
    public string Where => "this process";

    public bool OutlivesClient => false;

    public async Task<CommandReply> ExecuteAsync(CliCommand command, TextWriter? progress, CancellationToken ct)
    {
        using var heldLock = held;
        // The history is a file: it is read as it is, without an actor system (a quarter of a second).
        if (command is ShowStatus { History: true } history)
            return Monitoring.RunHistory.Answer(settings, Path.Combine(settings.ConfigDir, Monitoring.RunHistory.FileName), history);
        // So is a list: files and rdiff-backup's file names.
        if (command is ListBackups list)
            return await BackupHost.Lister().AnswerAsync(settings, list, ct);
        if (command is ShowStatus { History: false } && StatusFromFiles.Answer(settings, DateTime.UtcNow) is { } status)
            return status;
        // The sync states are rows of a SQLite file: read as they are when that certainly gives
        // what the actors would (half a second less; the history's replay is not done twice).
        if (command is InspectSyncState inspect && Sync.SyncJournalFile.Answer(settings, inspect) is { } answer)
            return answer;
        // A restore reads the series and the destinations, never the sync state: no actor system either.
        if (command is RestoreBackup restore)
            return await RestoreAsync(restore, progress, ct);
        var configDir = settings.ConfigDir;
        using var configLock = writes && heldLock is null
            ? await ConfigDirLock.AcquireAsync(configDir, settings.LockTimeout,
                () => Console.Error.WriteLine($"{ErrorReport.Prefix}waiting for another btw-backup working on {configDir} (pid {ConfigDirLock.Holder(configDir)})"),
                ct)
                ?? throw new ConfigException($"another btw-backup is working on {configDir} (pid {ConfigDirLock.Holder(configDir)}); gave up after {Durations.Format(settings.LockTimeout)} (lock-timeout)")
            : null;
        // Nothing pending anywhere: what the actors would record is written from here (half a second less).
        if (command is SyncNow { Full: false } && await IdleSync.AnswerAsync(settings, w => log?.Write("WARNING", "cli", w)) is { } idle)
        {
            log?.Write("INFO", "cli", "sync: nothing pending on any destination (read from the journal file): recorded without starting the actors");
            return idle;
        }

        var listings = command is SyncNow { Full: true } ? ListingsAhead(ct) : null;
        Sync.Md5Cache? hashes = null;
        // What the comparison starts reading for the actors stops when the command ends, however it ends.
        using var readAhead = CancellationTokenSource.CreateLinkedTokenSource(ct);
        try
        {
            if (listings is { } ahead)
            {
                // One MD5 cache for the comparison and the actors: its file is read once.
                hashes = Sync.Md5Cache.Open(Path.Combine(configDir, Sync.Md5Cache.FileName));
                if (await IdleSync.AnswerFullAsync(settings, hashes, ahead.Stores, ahead.Listings, w => log?.Write("WARNING", "cli", w), ct, readAhead.Token) is { } equal)
                {
                    log?.Write("INFO", "cli", "sync --full: nothing pending, and every destination already equals root by the MD5s known (no file read): recorded without starting the actors");
                    return equal;
                }
            }

            // Work to do: the sync of root is journaled, and what differs starts uploading while the actors start.
            var uploads = listings is { } found ? Task.Run(() => IdleSync.StartUploadsAhead(settings, hashes!, found.Stores, found.Listings, readAhead.Token), ct) : null;
            var reply = await WithActorsAsync(command, progress, listings?.Listings, hashes, uploads, ct);
            if (uploads is not null && await uploads is { } started)
                log?.Write("INFO", "cli", $"sync --full: the sync of root was journaled before the actors started; uploads started meanwhile: {started.Values.Sum(u => u.Started)}");
            return reply;
        }
        finally
        {
            await readAhead.CancelAsync();
        }
    }

    /// <summary>The command, given to an Orchestrator started for it in this process and stopped after it.</summary>
    private async Task<CommandReply> WithActorsAsync(CliCommand command, TextWriter? progress, Dictionary<string, Task<List<ObjectStore.RemoteObject>>>? listings,
        Sync.Md5Cache? hashes, Task<IReadOnlyDictionary<string, Sync.UploadsAhead>?>? uploads, CancellationToken ct)
    {
        // Disposed before the lock is released: nothing else writes the scratch tar meanwhile.
        await using var archiveAhead = command is BackupFileTree tree ? ArchiveAheadFor(tree, ct) : null;
        var (system, orchestrator) = await BackupHost.StartAsync(settings, listings, archiveAhead, hashes, uploads);
        try
        {
            var printer = ProgressDisplay.Start(system, progress);
            var reply = await orchestrator.Ask<CommandReply>(new ExecuteCommand(command, printer), Timeout.InfiniteTimeSpan, ct);
            await ProgressDisplay.ClearAsync(printer);
            return reply;
        }
        finally
        {
            await FileLogger.FlushAsync(system, TimeSpan.FromSeconds(2));
            // Stopping the system cancels the work in flight; partial files are removed by the
            // procedures' own clean-up and, failing that, by the next run.
            await system.Terminate();
        }
    }

    private async Task<CommandReply> RestoreAsync(RestoreBackup restore, TextWriter? terminal, CancellationToken ct)
    {
        var progress = terminal is null ? null : new TerminalProgress(terminal, "restore");
        try
        {
            return await RestoreCommand.RunAsync(BackupHost.NewRestorer(new Tools.CliWrapProcessRunner()), settings, BackupHost.Stores(settings), restore, progress,
                (level, line) => log?.Write(level, "cli", line), ct);
        }
        finally
        {
            progress?.Clear();
        }
    }

    /// <summary>
    /// <c>fs</c> of an rdiff tree makes its scratch tar, and its digest, while the actors start
    /// (they would wait for them otherwise: about 0.3 s of a second's backup of 100 MB). A job that
    /// does not resolve is left to the Orchestrator, which says why.
    /// </summary>
    private Backup.ArchiveAhead? ArchiveAheadFor(BackupFileTree tree, CancellationToken ct)
    {
        Backup.FileTreeJob job;
        try
        {
            job = PassJobs.For(settings, tree);
        }
        catch (Exception e) when (ErrorReport.IsExpected(e))
        {
            return null;
        }

        // Only for a backup that can go ahead: not a tree's worth of scratch for a missing root-path.
        return job.Folder.Type == SourceType.Rdiff && Directory.Exists(job.Folder.Source) && Directory.Exists(job.Series.RootPath)
            ? BackupHost.StartArchiveAhead(job, ct)
            : null;
    }

    /// <summary>
    /// <c>sync --full</c> lists each destination as soon as it holds the lock (the listing would
    /// wait for the actors otherwise), for the comparison without actors and then, when that
    /// finds work, for the actors: where one process is the only writer of the prefix as soon as
    /// it holds the configuration directory's lock, that is, not in a cluster nor with a shared
    /// journal (whose writer lock comes later), and not for an encrypted destination. With the
    /// listings, the stores that took them (the comparison asks them for a multipart object's MD5).
    /// </summary>
    private (Func<DestinationSettings, ObjectStore.IObjectStore> Stores, Dictionary<string, Task<List<ObjectStore.RemoteObject>>> Listings)? ListingsAhead(CancellationToken ct)
    {
        if (settings.Cluster is not null || settings.Sync.PostgresJournal is not null || BackupHost.Stores(settings) is not { } newStore)
            return null;
        // One store per destination, for the listing and for what the comparison without actors asks;
        // made on the listing's thread (the SDK's first client costs tens of milliseconds).
        var plain = settings.Destinations.Where(d => !d.Encrypted).ToList();
        var stores = plain.ToDictionary(d => d.Name, d => new Lazy<ObjectStore.IObjectStore>(() => newStore(d)), StringComparer.Ordinal);
        return (d => stores[d.Name].Value, plain.ToDictionary(d => d.Name, d => Sync.Mirror.ListAheadAsync(() => stores[d.Name].Value, d.Prefix, ct), StringComparer.Ordinal));
    }
}

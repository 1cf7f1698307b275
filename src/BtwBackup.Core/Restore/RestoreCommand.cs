using BtwBackup.Config;
using BtwBackup.ObjectStore;
using BtwBackup.Protocol;

namespace BtwBackup.Restore;

/// <summary>
/// <c>restore</c> as a command: the request checked and run by the <see cref="Restorer"/>, the
/// outcome as a reply (what was restored, or why not), the same in the daemon's Orchestrator and
/// in a CLI without a daemon, which runs it without an actor system (a restore reads the series
/// and the destinations, never the sync state).
/// </summary>
public static class RestoreCommand
{
    /// <param name="log">(level, line) for the log: what is restored, then how it ended.</param>
    public static async Task<CommandReply> RunAsync(Restorer restorer, GeneralSettings settings, Func<DestinationSettings, IObjectStore>? stores,
        RestoreBackup r, IProgress<string>? progress, Action<string, string> log, CancellationToken ct)
    {
        try
        {
            SeriesPath.Check(r.Dst);
            log("INFO", $"restore: {r.Dst} at {r.At ?? "the latest"}{(r.From is null ? "" : " from " + r.From)} into {r.Target ?? "the database " + r.Database}");
            var lines = await restorer.RestoreAsync(settings, new RestoreRequest(r.Dst, r.Target, r.At, r.From, r.Database, r.Force) { Identity = r.Identity },
                stores, progress, ct);
            log("INFO", "restore: " + string.Join(" ", lines));
            return new CommandReply(ExitCode.Ok, lines, []);
        }
        catch (OperationCanceledException) when (ct.IsCancellationRequested)
        {
            throw;
        }
        catch (Exception e)
        {
            log("WARNING", $"restore of {r.Dst} failed: {ErrorReport.Unwrap(e).Message}");
            return CommandReply.Failed(ErrorReport.Lines(e));
        }
    }
}

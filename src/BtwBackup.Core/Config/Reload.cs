namespace BtwBackup.Config;

/// <summary>
/// What a running daemon takes from a configuration it re-read (SIGHUP), as a pure function:
/// sources, defaults, retention, the schedule, run.parallelism and monitoring apply from the next
/// job; what the daemon is built on (root-path, destinations, sync, its address and TLS, the log, http)
/// keeps its running value until a restart, and is named.
/// </summary>
public static class Reload
{
    public static (GeneralSettings Applied, IReadOnlyList<string> NeedRestart) Apply(GeneralSettings running, GeneralSettings fresh)
    {
        var needRestart = new List<string>();
        if (fresh.RootPath != running.RootPath)
            needRestart.Add("root-path");
        if (!fresh.Destinations.SequenceEqual(running.Destinations))
            needRestart.Add("destinations");
        if (fresh.Sync != running.Sync)
            needRestart.Add("sync");
        if (fresh.Daemon with { Schedule = null, ScheduleText = null } != running.Daemon with { Schedule = null, ScheduleText = null })
            needRestart.Add("daemon.hostname, daemon.port, daemon.tls");
        if (fresh.LogFile != running.LogFile || fresh.LogLevel != running.LogLevel)
            needRestart.Add("log-file, log-level");
        if (fresh.Http != running.Http)
            needRestart.Add("http");
        var applied = fresh with
        {
            RootPath = running.RootPath,
            Destinations = running.Destinations,
            Sync = running.Sync,
            LogFile = running.LogFile,
            LogLevel = running.LogLevel,
            Http = running.Http,
            Daemon = running.Daemon with { Schedule = fresh.Daemon.Schedule, ScheduleText = fresh.Daemon.ScheduleText },
        };
        return (applied, needRestart);
    }
}

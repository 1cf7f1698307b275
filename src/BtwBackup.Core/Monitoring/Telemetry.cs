using System.Collections.Concurrent;
using System.Diagnostics.Metrics;
using BtwBackup.Actors;
using BtwBackup.Protocol;

namespace BtwBackup.Monitoring;

/// <summary>
/// btw-backup's metrics as .NET instruments (System.Diagnostics.Metrics), for any exporter to
/// read: the daemon's /metrics serves them in Prometheus' text format. Named as Prometheus'
/// guide asks (a btw_ prefix, base units in the name, _total on counters, which the exporter
/// appends): the last result of every source and destination as gauges read when scraped, and
/// counters of runs, uploaded bytes and actor restarts since the process started. The state
/// is fed by the <see cref="StatusKeeper"/> (every run ends there) and seeded from status.json
/// and the run history at start.
/// </summary>
public static class Telemetry
{
    public const string MeterName = "BtwBackup";

    private static readonly Meter Meter = new(MeterName);

    // Counters are observed too (read when scraped): an exporter that starts after the first runs still sees them.
    private static readonly ConcurrentDictionary<(string Source, string Result), long> Runs = new();
    private static readonly ConcurrentDictionary<string, long> Uploaded = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, long> Restarts = new(StringComparer.Ordinal) { ["source"] = 0, ["destination"] = 0 };

    private static readonly ConcurrentDictionary<string, SourceRun> LastRuns = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, DateTime> LastSuccesses = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, long> Stored = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, int> Pending = new(StringComparer.Ordinal);
    private static readonly ConcurrentDictionary<string, DateTime> LastSyncs = new(StringComparer.Ordinal);

    static Telemetry()
    {
        Meter.CreateObservableCounter("btw_backup_runs",
            () => Runs.Select(kv => new Measurement<long>(kv.Value, Tag("source", kv.Key.Source), new("result", kv.Key.Result))),
            description: "Backups of a source that ended since the process started, by result (full, increment, unchanged, failed).");
        Meter.CreateObservableCounter("btw_sync_uploaded_bytes",
            () => Uploaded.Select(kv => new Measurement<long>(kv.Value, Tag("destination", kv.Key))),
            description: "Bytes a destination's syncs uploaded since the process started.");
        Meter.CreateObservableCounter("btw_actor_restarts",
            () => Restarts.Select(kv => new Measurement<long>(kv.Value, Tag("actor", kv.Key))),
            description: "Restarts of a source's or a destination's actor after a failure, since the process started.");
        Meter.CreateObservableGauge("btw_backup_last_success_timestamp_seconds",
            () => LastSuccesses.Select(kv => new Measurement<double>(Seconds(kv.Value), Tag("source", kv.Key))),
            description: "When a source's last successful backup ended (Unix time).");
        Meter.CreateObservableGauge("btw_backup_last_run_timestamp_seconds",
            () => LastRuns.Select(kv => new Measurement<double>(Seconds(kv.Value.Finished), Tag("source", kv.Key), new("result", kv.Value.Result))),
            description: "When a source's last backup ended (Unix time), labelled with its result.");
        Meter.CreateObservableGauge("btw_backup_duration_seconds",
            () => LastRuns.Select(kv => new Measurement<double>(kv.Value.Seconds, Tag("source", kv.Key))),
            description: "How long a source's last backup took.");
        Meter.CreateObservableGauge("btw_backup_stored_bytes",
            () => Stored.Select(kv => new Measurement<long>(kv.Value, Tag("source", kv.Key))),
            description: "What a source's last successful backup stored.");
        Meter.CreateObservableGauge("btw_sync_pending_paths",
            () => Pending.Select(kv => new Measurement<int>(kv.Value, Tag("destination", kv.Key))),
            description: "Paths a destination must still push or sync, after its last sync.");
        Meter.CreateObservableGauge("btw_sync_last_success_timestamp_seconds",
            () => LastSyncs.Select(kv => new Measurement<double>(Seconds(kv.Value), Tag("destination", kv.Key))),
            description: "When a destination's last sync without failure ended (Unix time).");
    }

    /// <summary>What status.json and the history knew at start: the gauges answer from it until the next runs.</summary>
    public static void Seed(PersistedStatus status, IEnumerable<Monitoring.RunRecord> history)
    {
        foreach (var (name, record) in status.Sources)
        {
            if (record.Last is { } last)
                Source(name, last, count: false);
        }

        foreach (var (name, record) in status.Destinations)
        {
            if (record.LastSync is { } at)
                LastSyncs[name] = at;
        }

        // The history is oldest first: the last success, and the last size stored, win.
        foreach (var run in history.Where(r => r is { Kind: RunRecord.SourceKind, Ok: true }))
        {
            if (!LastSuccesses.TryGetValue(run.Name, out var known) || known < run.Ended)
                LastSuccesses[run.Name] = run.Ended;
            if (run.Stored is { } stored)
                Stored[run.Name] = stored;
        }

    }

    /// <summary>A change the <see cref="StatusKeeper"/> applies, as metrics.</summary>
    public static void Record(StatusChange change)
    {
        switch (change)
        {
            case SourceEnded e:
                Source(e.Source, e.Run, count: true);
                break;
            case DestinationsSynced d:
                foreach (var sync in d.Syncs)
                {
                    Uploaded.AddOrUpdate(sync.Destination, sync.BytesUploaded, (_, n) => n + sync.BytesUploaded);
                    if (sync.Pending is { } pending)
                        Pending[sync.Destination] = pending;
                    if (sync.Failures.IsEmpty)
                        LastSyncs[sync.Destination] = d.At;
                }

                break;
        }
    }

    /// <summary>A destination's pending paths as read at start (<see cref="PendingProbe"/>).</summary>
    public static void PendingPaths(string destination, int count) => Pending[destination] = count;

    /// <summary>A source's or a destination's actor restarted after a failure.</summary>
    public static void Restarted(string actor) => Restarts.AddOrUpdate(actor, 1, (_, n) => n + 1);

    private static void Source(string name, SourceRun run, bool count)
    {
        LastRuns[name] = run;
        if (run.Ok)
            LastSuccesses[name] = run.Finished;
        // An unchanged run stores nothing: the gauge keeps what the last backup stored.
        if (run.Ok && run.Result != "unchanged")
            Stored[name] = run.Bytes;

        if (count)
            Runs.AddOrUpdate((name, run.Result), 1, (_, n) => n + 1);
    }

    private static KeyValuePair<string, object?> Tag(string key, string value) => new(key, value);

    private static double Seconds(DateTime utc) => (DateTime.SpecifyKind(utc, DateTimeKind.Utc) - DateTime.UnixEpoch).TotalSeconds;
}

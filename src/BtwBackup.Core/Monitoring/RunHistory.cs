using System.Collections.Immutable;
using System.Text;
using System.Text.Json;
using System.Text.Json.Serialization;
using BtwBackup.Protocol;

namespace BtwBackup.Monitoring;

/// <summary>
/// One run in the history: a source's backup (<see cref="SourceKind"/>: what it stored) or a
/// destination's sync (<see cref="SyncKind"/>: what it uploaded), with its times, its result
/// and its first error line.
/// </summary>
public sealed record RunRecord(string Kind, string Name, DateTime Started, DateTime Ended, string Result, long? Stored, long? Uploaded, string? Error)
{
    public const string SourceKind = "source";
    public const string SyncKind = "sync";
    public const string Synced = "synced";

    [JsonIgnore]
    public bool Ok => Error is null && Result != SourceRun.Failed;

    [JsonIgnore]
    public double Seconds => Math.Max(0, (Ended - Started).TotalSeconds);

    public static RunRecord OfSource(string name, SourceRun run) =>
        new(SourceKind, name, run.Finished.AddSeconds(-run.Seconds), run.Finished, run.Result, run.Ok && run.Result != "unchanged" ? run.Bytes : null, null, run.Error);
}

/// <summary><c>status --history</c>: the runs kept, oldest first, of one source or destination (<see cref="Name"/>) or of all.</summary>
public sealed record HistoryReport(string? Name, DateTime? Since, ImmutableList<RunRecord> Runs) : Report;

/// <summary>
/// CONFIG_DIR/history.jsonl: every source run and every sync, one JSON object per line,
/// appended as they end. A line cut by a crash is skipped when read (the runs before it stay);
/// what is older than the window (sync.history-window) is dropped when the file is rewritten,
/// at start and every <see cref="CompactEvery"/> appends, whole to a temporary file and renamed.
/// Only the process holding the configuration directory's lock writes it; any reader may read.
/// </summary>
public sealed class RunHistory(string path, TimeSpan window)
{
    public const string FileName = "history.jsonl";
    private const int CompactEvery = 500;

    private readonly Platform.OrderedWrites _writes = new();
    private int _appends;

    public string Path { get; } = path;

    public TimeSpan Window { get; } = window;

    /// <summary>Appends <paramref name="runs"/> in the background, after every write asked before; the task fails when this write did.</summary>
    public Task AppendAsync(IReadOnlyList<RunRecord> runs)
    {
        if (runs.Count == 0)
            return Task.CompletedTask;
        var compact = Interlocked.Add(ref _appends, runs.Count) >= CompactEvery;
        if (compact)
            Interlocked.Exchange(ref _appends, 0);
        return _writes.Enqueue(() =>
        {
            Append(runs);
            if (compact)
                Compact(DateTime.UtcNow);
        });
    }

    /// <summary>Waits (at most <paramref name="patience"/>) until every write asked so far has landed: a process must not exit with a run unwritten.</summary>
    public void Flush(TimeSpan patience) => _writes.Flush(patience);

    /// <summary>Rewrites the file without what is older than the window (at start); in order with the appends.</summary>
    public Task CompactAsync(DateTime now) => _writes.Enqueue(() => Compact(now));

    /// <summary>The runs kept, oldest first (by end), of <paramref name="name"/> (a source or a destination; null: all) ended at or after <paramref name="since"/>.</summary>
    public static ImmutableList<RunRecord> Read(string path, string? name = null, DateTime? since = null)
    {
        if (!File.Exists(path))
            return [];
        var runs = ImmutableList.CreateBuilder<RunRecord>();
        using var reader = new StreamReader(new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete), Encoding.UTF8);
        while (reader.ReadLine() is { } line)
        {
            if (Parse(line) is not { } run)
                continue;
            if ((name is null || run.Name == name) && (since is null || run.Ended >= since))
                runs.Add(run);
        }

        runs.Sort((a, b) => a.Ended.CompareTo(b.Ended));
        return runs.ToImmutable();
    }

    /// <summary>
    /// <c>status --history [SOURCE] [--since TIME]</c> from the file at <paramref name="path"/>
    /// (null: none kept). A name that is neither configured nor in the history is refused: a typo
    /// must not look like a source that never ran.
    /// </summary>
    public static CommandReply Answer(Config.GeneralSettings settings, string? path, ShowStatus show)
    {
        var runs = path is null ? [] : Read(path, show.Name, show.Since);
        if (show.Name is { } name && runs.IsEmpty
            && !settings.Sources.Any(s => s.Name == name) && !settings.Destinations.Any(d => d.Name == name)
            && (path is null || Read(path, name).IsEmpty))
            return CommandReply.Failed([$"{ErrorReport.Prefix}{name} is not a source or a destination of {settings.LoadedFrom}, and the history keeps no run of it"]);
        return CommandReply.Of(new HistoryReport(show.Name, show.Since, runs), ok: true);
    }

    /// <summary>A line as written, or null for one that is not (cut by a crash, edited by hand).</summary>
    public static RunRecord? Parse(string line)
    {
        if (line.Length == 0 || line[0] != '{')
            return null;
        try
        {
            var run = JsonSerializer.Deserialize(line, RunJson.Default.RunRecord);
            return run is { Kind: RunRecord.SourceKind or RunRecord.SyncKind, Name: not null, Result: not null } ? Normal(run) : null;
        }
        catch (JsonException)
        {
            return null;
        }
    }

    public static string Line(RunRecord run) => JsonSerializer.Serialize(run, RunJson.Default.RunRecord);

    private static RunRecord Normal(RunRecord run) => run with
    {
        Started = DateTime.SpecifyKind(run.Started.ToUniversalTime(), DateTimeKind.Utc),
        Ended = DateTime.SpecifyKind(run.Ended.ToUniversalTime(), DateTimeKind.Utc),
    };

    private void Append(IReadOnlyList<RunRecord> runs)
    {
        var text = new StringBuilder();
        // A line cut by a crash must not swallow the next one: start on a fresh line.
        if (File.Exists(Path) && new FileInfo(Path).Length is > 0 and var length && LastByte(Path, length) != '\n')
            text.Append('\n');
        foreach (var run in runs)
            text.Append(Line(run)).Append('\n');
        using var stream = Platform.PrivateFile.Append(Path);
        stream.Write(Encoding.UTF8.GetBytes(text.ToString()));
        stream.Flush(flushToDisk: true);
    }

    private static int LastByte(string path, long length)
    {
        using var stream = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.ReadWrite);
        stream.Seek(length - 1, SeekOrigin.Begin);
        return stream.ReadByte();
    }

    private void Compact(DateTime now)
    {
        if (!File.Exists(Path))
            return;
        var cutoff = now - Window;
        var lines = File.ReadLines(Path).Select(Parse).OfType<RunRecord>().ToList();
        var kept = lines.Where(r => r.Ended >= cutoff).ToList();
        if (kept.Count == lines.Count && File.ReadLines(Path).All(l => Parse(l) is not null))
            return;
        Platform.PrivateFile.Replace(Path, w =>
        {
            foreach (var record in kept)
                w.Write(Line(record) + "\n");
        });
    }
}

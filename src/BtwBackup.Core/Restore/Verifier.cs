using System.Collections.Immutable;
using System.Text.Json.Serialization;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.ObjectStore;
using BtwBackup.Protocol;
using BtwBackup.Sync;
using BtwBackup.Tools;

namespace BtwBackup.Restore;

/// <summary>What <c>verify</c> found in one series: how many backups it read, and one line per problem.</summary>
public sealed record SeriesCheck(string Dst, int Backups, ImmutableList<string> Problems);

/// <summary>What <c>verify</c> found on one destination.</summary>
public sealed record DestinationCheck(string Name, int Matched, int Pending, ImmutableList<string> Problems);

public sealed record VerifyReport(ImmutableList<SeriesCheck> Series, ImmutableList<DestinationCheck> Destinations) : Report
{
    [JsonPropertyOrder(-1)]
    public bool Ok => Series.All(s => s.Problems.IsEmpty) && Destinations.All(d => d.Problems.IsEmpty);
}

/// <summary>
/// A destination's pending paths, each with the time it was requested (null when the history
/// no longer has it), and its last completed sync. <see cref="StateUnknown"/>: its sync state did
/// not answer.
/// </summary>
/// <summary><c>verify --deep [--identity FILE]</c>.</summary>
public sealed record DeepCheck(string? Identity);

public sealed record PendingWork(string Destination, ImmutableList<(string Path, DateTime? Since)> Paths, DateTime? LastSync, bool StateUnknown = false)
{
    /// <summary>An encrypted destination's objects as its sync state recorded them (what verify compares without a key).</summary>
    public ImmutableDictionary<string, EncryptedObject> Encrypted { get; init; } = ImmutableDictionary<string, EncryptedObject>.Empty;

    public static PendingWork Unknown(string destination, DateTime? lastSync) => new(destination, [], lastSync, StateUnknown: true);

    /// <summary>The state's pending paths, dated by the latest request of each in the journal's history lines.</summary>
    public static PendingWork From(string destination, SyncState state, IEnumerable<string> history, DateTime? lastSync)
    {
        var since = new Dictionary<string, DateTime>(StringComparer.Ordinal);
        foreach (var line in history)
        {
            switch (SyncHistoryFormat.Parse(line))
            {
                case PushRequested push:
                    since[push.Path] = push.At;
                    break;
                case SyncRequested sync:
                    since[sync.Path] = sync.At;
                    break;
            }
        }

        return new PendingWork(destination,
            [.. state.MustPush.Concat(state.MustSync).Select(p => (p, since.TryGetValue(p, out var t) ? t : (DateTime?)null))],
            lastSync)
        {
            Encrypted = state.Encrypted,
        };
    }
}

/// <summary>
/// <c>verify [DST...]</c>: every stored backup is read back (tar lists every archive, bzip2
/// checks every block; rdiff-backup rebuilds every point in time and checks it against the
/// SHA-1 it recorded; pg_restore reads the whole current dump), and every destination's copy is
/// compared with root by content. A path pending since before the last completed sync is a
/// problem (a sync that keeps failing); one requested since is work in progress.
/// </summary>
public sealed class Verifier(RdiffBackup rdiff, Tar tar, Postgres postgres, Bzip2 bzip2, ArchiveGuard? guard = null)
{
    public async Task<VerifyReport> VerifyAsync(
        GeneralSettings settings, IReadOnlyList<string> dsts, Func<DestinationSettings, IObjectStore>? stores,
        IReadOnlyList<PendingWork> pending, IProgress<string>? progress, CancellationToken ct, DeepCheck? deep = null)
    {
        var identities = deep is null ? null : IdentityOption.Read(deep.Identity, settings.Destinations.FirstOrDefault(d => d.Recipients is not null),
            "verify --deep needs --identity FILE to read it back (verify alone needs no key)");
        var series = dsts.Count > 0 ? dsts.Select(d => d.Trim('/')).ToList() : FindSeries(settings.RootPath);
        var checks = ImmutableList.CreateBuilder<SeriesCheck>();
        foreach (var dst in series)
            checks.Add(await CheckSeriesAsync(settings.RootPath, dst, progress, ct));

        var destinations = ImmutableList.CreateBuilder<DestinationCheck>();
        foreach (var d in settings.Destinations)
        {
            if (stores is null)
                break;
            progress?.Report($"comparing {d.Name} with root");
            var mirror = new Mirror(stores(d), settings.RootPath, d.Prefix, settings.Sync.Parallelism, d.Recipients) { Identities = d.Recipients is null ? null : identities };
            var work = pending.FirstOrDefault(p => p.Destination == d.Name);
            var index = mirror.Encrypts ? new EncryptedIndex(work?.Encrypted ?? ImmutableDictionary<string, EncryptedObject>.Empty) : null;
            var pendingPaths = work?.Paths ?? [];
            var problems = new List<string>();
            var matched = 0;
            foreach (var folder in dsts.Count > 0 ? series : [""])
            {
                try
                {
                    var check = deep is null
                        ? await mirror.CheckAsync(folder, new DeletionLimits(settings.Sync.MaxDelete), ct, index)
                        : await mirror.DeepCheckAsync(folder, progress, ct);
                    matched += check.Matched;
                    // A difference under a pending path is that work, not a second problem.
                    problems.AddRange(check.Problems.Where(p => !pendingPaths.Any(w => Covers(w.Path, p))));
                    // Not pending work: a sync that will not go ahead on its own.
                    problems.AddRange(check.Refusals);
                }
                catch (ObjectStoreException e)
                {
                    problems.Add($"{(folder.Length == 0 ? "root" : folder)}: cannot be compared, the destination does not answer: {e.Message}");
                    break;
                }
            }

            foreach (var (path, since) in pendingPaths)
            {
                var last = work!.LastSync;
                if (since is not null && last is not null && since >= last)
                    continue; // requested after the last completed sync: work in progress
                var when = since is { } s ? "since " + SeriesNames.Of(s) : "since before the history kept";
                var why = last is { } l ? $"the last completed sync ({SeriesNames.Of(l)}) did not take it" : "no sync has completed since";
                problems.Add($"{BtwBackup.Sync.SyncState.Display(path)}: pending {when}, and {why}: run sync; if it keeps failing, status and the log say why");
            }

            if (work?.StateUnknown == true)
                problems.Add("its sync state did not answer: pending work unknown (see the log)");
            destinations.Add(new DestinationCheck(d.Name, matched, pendingPaths.Count, [.. problems.Order(StringComparer.Ordinal)]));
        }

        return new VerifyReport(checks.ToImmutable(), destinations.ToImmutable());
    }

    private static bool Covers(string pendingPath, string problem)
    {
        var path = pendingPath.TrimEnd('/');
        return problem.StartsWith(path + ":", StringComparison.Ordinal) || problem.StartsWith(path + "/", StringComparison.Ordinal) || path.Length == 0;
    }

    /// <summary>Every folder under root that holds backups, relative; not descending into a series.</summary>
    public static List<string> FindSeries(string root)
    {
        var found = new List<string>();
        void Visit(string dir, int depth)
        {
            if (SeriesNames.List(dir).Count > 0)
            {
                found.Add(Path.GetRelativePath(root, dir));
                return;
            }

            if (depth == 0)
                return;
            foreach (var sub in Directory.EnumerateDirectories(dir).Where(d => !Path.GetFileName(d).StartsWith('.')).Order(StringComparer.Ordinal))
                Visit(sub, depth - 1);
        }

        if (Directory.Exists(root))
            Visit(root, 6);
        return found;
    }

    /// <summary>Every member's name as a restore checks it (<see cref="ArchiveGuard"/>): one a restore would refuse is a problem now.</summary>
    private async Task CheckMembersAsync(string archive, string entry, bool bzip2, List<string> problems, CancellationToken ct)
    {
        if (guard is not null && await guard.ProblemAsync(archive, bzip2, ct) is { } problem)
            problems.Add($"{entry}: a restore would refuse it: {problem}");
    }

    private async Task<SeriesCheck> CheckSeriesAsync(string root, string dst, IProgress<string>? progress, CancellationToken ct)
    {
        var dir = Path.Combine(root, dst);
        if (!Directory.Exists(dir))
            return new SeriesCheck(dst, 0, [$"{dir} does not exist"]);
        var problems = new List<string>();
        var read = 0;
        var entries = SeriesNames.List(dir);
        if (entries.Count == 0)
            problems.Add("no backup in it");
        foreach (var entry in entries)
        {
            var path = Path.Combine(dir, entry);
            try
            {
                if (entry.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal))
                {
                    progress?.Report($"{dst}: reading {entry}");
                    await tar.CheckReadableAsync(path, bzip2: true, ct);
                    await CheckMembersAsync(path, entry, bzip2: true, problems, ct);
                    read++;
                    continue;
                }

                if (RdiffRepository.IsInterrupted(path))
                {
                    // Its files are half old, half new until a regress: name the state, read nothing.
                    problems.Add($"{entry}: {RdiffRepository.InterruptedNote}");
                    continue;
                }

                var times = await rdiff.ListBackupTimesAsync(path, ct);
                foreach (var time in times)
                {
                    progress?.Report($"{dst}: rdiff-backup verifying {entry} at {SeriesNames.Of(time)}");
                    await rdiff.VerifyAsync(path, time, ct);
                    read++;
                }

                progress?.Report($"{dst}: reading the current copy in {entry}");
                if (Directory.GetFiles(path).Where(f => !RdiffRepository.IsTempFile(f)).ToList() is [var payload])
                {
                    var name = Path.GetFileName(payload);
                    if (name.EndsWith(".dump", StringComparison.Ordinal))
                        await postgres.CheckDumpAsync(payload, ct);
                    else if (name == DatabaseTarget.GlobalFileName)
                        await bzip2.CheckAsync(payload, ct);
                    else if (name == "backup.tar")
                    {
                        await tar.CheckReadableAsync(payload, bzip2: false, ct);
                        await CheckMembersAsync(payload, entry, bzip2: false, problems, ct);
                    }
                }
            }
            catch (ToolFailedException e)
            {
                var detail = e.StderrLines().LastOrDefault(l => l.Length > 0) ?? e.Message;
                problems.Add($"{entry}: {e.Program} cannot read it: {detail}");
            }
        }

        return new SeriesCheck(dst, read, [.. problems]);
    }
}

using System.Collections.Immutable;
using BtwBackup.Backup;
using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>
/// <c>list DST</c>, in the original's format: each backup's name, and under an rdiff full backup
/// each of its increments (the times after the first) indented by one space.
/// </summary>
public sealed class SeriesLister(RdiffBackup rdiff)
{
    /// <summary>Prunes with the same rdiff-backup.</summary>
    public Retention.Pruner Pruner { get; } = new(rdiff);

    /// <summary>
    /// The answer to <c>list</c>, the same from the daemon and from a CLI that works without an
    /// actor system (list reads files and runs no backup: starting one would be most of its time).
    /// </summary>
    public async Task<Protocol.CommandReply> AnswerAsync(Config.GeneralSettings settings, Protocol.ListBackups list, CancellationToken ct)
    {
        try
        {
            var dst = Config.SeriesPath.Check(list.Dst);
            var series = new SeriesLocation(settings.RootPath, dst);
            var lines = list.Retention
                ? await ListRetentionAsync(series, settings.RetentionOf(dst) ?? throw new Config.ConfigException($"{dst} has no retention policy: every point is kept "
                    + "(set defaults.retention, or retention in the source of this dst, in btw-backup.conf)"), ct)
                : await ListAsync(series, ct);
            return new Protocol.CommandReply(Protocol.ExitCode.Ok, lines, []);
        }
        catch (Exception e) when (e is not OperationCanceledException)
        {
            return Protocol.CommandReply.Failed(Protocol.ErrorReport.Lines(e));
        }
    }

    public async Task<ImmutableList<string>> ListAsync(SeriesLocation series, CancellationToken ct)
    {
        var dir = series.FullPath;
        if (!Directory.Exists(dir))
            throw new BackupException($"no backups at {series.Dst}: {dir} does not exist");

        var lines = ImmutableList.CreateBuilder<string>();
        foreach (var name in SeriesNames.List(dir))
        {
            var path = Path.Combine(dir, name);
            if (name.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal) || !Directory.Exists(path))
            {
                lines.Add(name);
                continue;
            }

            // The name stays the first word: restore --at takes it as list prints it.
            lines.Add(RdiffRepository.IsInterrupted(path) ? $"{name} ({RdiffRepository.InterruptedNote})" : name);
            var times = await rdiff.ListBackupTimesAsync(path, ct);
            foreach (var t in times.Skip(1))
                lines.Add(" " + SeriesNames.Of(t));
        }

        return lines.ToImmutable();
    }

    /// <summary>
    /// <c>list --retention DST</c>: the same lines, each with what <paramref name="policy"/>
    /// does to that point: <c>kept: REASONS</c> or <c>removed</c>.
    /// </summary>
    public async Task<ImmutableList<string>> ListRetentionAsync(SeriesLocation series, Retention.RetentionPolicy policy, CancellationToken ct) =>
        [.. (await Pruner.PruneAsync(series, policy, dryRun: true, announce: null, ct)).Plan.Lines()];
}

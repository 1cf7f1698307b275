using System.Collections.Concurrent;
using BtwBackup.Backup;

namespace BtwBackup.Tests.Actors;

/// <summary>A backup procedure whose behaviour per source is a delegate: fails, blocks, or succeeds on demand.</summary>
internal sealed class FakeProcedure(Func<BackupJob, int, CancellationToken, Task<BackupOutcome>> behaviour) : IBackupProcedure
{
    private readonly ConcurrentDictionary<string, int> _calls = new();

    public int Calls(string source) => _calls.GetValueOrDefault(source);

    public Task<BackupOutcome> RunAsync(BackupJob job, IProgress<string>? progress, Func<PendingPath, CancellationToken, Task>? announce, CancellationToken ct)
    {
        var n = _calls.AddOrUpdate(job.Subject, 1, (_, c) => c + 1);
        progress?.Report("working on " + job.Subject);
        return behaviour(job, n, ct);
    }

    public static BackupOutcome Stored(string name) => new(BackupResultKind.StoredFull, name, 1, [], []);
}

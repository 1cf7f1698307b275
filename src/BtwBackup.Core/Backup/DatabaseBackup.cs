using BtwBackup.Platform;
using BtwBackup.Tools;

namespace BtwBackup.Backup;

/// <summary>
/// A database (pg_dump -Fc) or the globals (pg_dumpall -g | bzip2), dumped into a private
/// scratch folder and stored as an rdiff series like a file tree. The scratch dump is removed
/// whatever happens.
/// </summary>
public sealed class DatabaseBackup(Postgres postgres, RdiffSeries rdiffSeries, IProcessRunner runner)
{
    public async Task<BackupOutcome> RunAsync(DatabaseJob job, IProgress<string>? progress, Func<PendingPath, CancellationToken, Task>? announce, CancellationToken ct)
    {
        var created = FileTreeBackup.EnsureSeriesFolder(job.Series, job.Owner);
        try
        {
            return await StoreAsync(job, progress, announce, ct);
        }
        catch (Exception)
        {
            // A failed first backup leaves no empty series folder behind.
            FileTreeBackup.RemoveIfEmpty(job.Series, created);
            throw;
        }
    }

    private async Task<BackupOutcome> StoreAsync(DatabaseJob job, IProgress<string>? progress, Func<PendingPath, CancellationToken, Task>? announce, CancellationToken ct)
    {
        var target = job.Target;
        var scratch = Directory.CreateTempSubdirectory("btw-backup").FullName;
        try
        {
            var dump = Path.Combine(scratch, target.FileName);
            IContentDigest digest;
            try
            {
                if (target.Database is { } database)
                {
                    progress?.Report($"pg_dump: dumping {database}");
                    await postgres.DumpAsync(database, target.Connection, dump, ct);
                    digest = new DumpDigest(new SqlDigest(runner, Postgres.RestoreToSql));
                }
                else
                {
                    progress?.Report("pg_dumpall: dumping the globals");
                    await postgres.DumpGlobalsAsync(target.Connection, dump, ct);
                    digest = new SqlDigest(runner, Bzip2.Decompress);
                }
            }
            catch (Exception e) when (DiskSpace.IsNoSpace(e))
            {
                // The dump goes to a scratch folder (TMPDIR), not under the root path.
                throw DiskSpace.NoSpace(scratch);
            }

            if (job.Owner is not null)
                Posix.Chown(dump, job.Owner);
            return await rdiffSeries.StoreAsync(scratch, target.FileName, job.Series, target.Policy, digest, job.Owner, progress, ct, announce);
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }
}

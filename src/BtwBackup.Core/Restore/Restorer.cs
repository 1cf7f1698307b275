using System.Collections.Immutable;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.ObjectStore;
using BtwBackup.Platform;
using BtwBackup.Protocol;
using BtwBackup.Sync;
using BtwBackup.Tools;

namespace BtwBackup.Restore;

/// <summary>
/// <c>restore [--at TIME] [--from DESTINATION] [--database NAME] [--force] DST [TARGET]</c>.
/// <see cref="Target"/> is absolute (the CLI resolves it); null with <see cref="Database"/>.
/// </summary>
public sealed record RestoreRequest(string Dst, string? Target, string? At, string? From, string? Database, bool Force)
{
    /// <summary>The age identity file that decrypts what is fetched (--identity).</summary>
    public string? Identity { get; init; }
}

/// <summary>
/// Gets a backup back. The point in time is chosen as <c>list</c> names them; with <c>--from</c>
/// only the archive or full-backup folder holding it is fetched from S3 first. A tree is
/// extracted (after its archive passed <see cref="ArchiveGuard"/>) and a dump copied into a
/// hidden folder beside TARGET, renamed into place only when complete; a dump restored into a
/// database goes in one transaction. Nothing half-restored is ever left behind.
/// </summary>
/// <para>
/// TARGET's folder may be writable by someone else (a user's home): it is held open once checked
/// (<see cref="HeldDirectory"/>), and everything is done in it through that handle, so that a
/// folder on the way renamed and replaced by a link meanwhile cannot lead the restore elsewhere
/// (into root, where it would replace a series). What it replaces is removed by rm, which does
/// not follow a link put in its way either.
/// </para>
public sealed class Restorer(RdiffBackup rdiff, Tar tar, Postgres postgres, ArchiveGuard guard, Bzip2 bzip2, IProcessRunner runner)
{
    private const string TreeArchive = "backup.tar";

    /// <summary>Databases PostgreSQL itself relies on, with what replacing one would break.</summary>
    private static readonly Dictionary<string, string> ProtectedDatabases = new(StringComparer.Ordinal)
    {
        ["template1"] = "it is the template of every CREATE DATABASE: replacing it puts the dump's content into every database created after, and a failure breaks CREATE DATABASE",
        ["template0"] = "it is PostgreSQL's pristine template (createdb --template=template0, pg_restore --create rely on it unchanged)",
        ["postgres"] = "it is the database that tools and administrators connect to by default: replacing it drops what they keep there",
    };

    public async Task<ImmutableList<string>> RestoreAsync(
        GeneralSettings settings, RestoreRequest request, Func<DestinationSettings, IObjectStore>? stores, IProgress<string>? progress, CancellationToken ct)
    {
        if (request.Target is { } target)
            CheckTarget(target, settings, request.Force);
        if (request.Database is { } database && !request.Force && ProtectedDatabases.ContainsKey(database))
            throw new ConfigException($"--database {database}: refused without --force: {ProtectedDatabases[database]}");
        var scratch = Directory.CreateTempSubdirectory("btw-backup-restore-").FullName;
        try
        {
            var (seriesDir, fetched) = request.From is null
                ? (Path.Combine(settings.RootPath, request.Dst), "")
                : await FetchCheckedAsync(settings, request, stores, scratch, progress, ct);
            if (!Directory.Exists(seriesDir))
                throw new ConfigException($"no backups at {request.Dst}: {seriesDir} does not exist");

            var point = await RestorePoints.FindAsync(seriesDir, request.At, request.Dst, rdiff, ct);
            var entry = Path.Combine(seriesDir, point.Entry);
            string payload;
            using var mirror = point.IsTar ? null : OpenLatestMirror(entry, point);
            if (point.IsTar)
                payload = entry;
            else if (mirror is not null)
            {
                // The newest point of a sound repository is its mirror file itself: read where it
                // is, through the handle (the file checked is the file extracted), not copied first.
                payload = $"/proc/{Environment.ProcessId}/fd/{mirror.SafeFileHandle.DangerousGetHandle()}";
            }
            else
            {
                progress?.Report($"rdiff-backup: rebuilding {point.Name}");
                var rebuilt = Path.Combine(scratch, "point");
                // rdiff-backup leaves a restore.log in the repository: not part of the backup, and
                // a file root has but no destination does.
                var restoreLog = Path.Combine(entry, "rdiff-backup-data", "restore.log");
                var hadLog = File.Exists(restoreLog);
                try
                {
                    await rdiff.RestoreAsync(entry, point.RdiffTime!.Value, rebuilt, ct);
                }
                finally
                {
                    if (!hadLog && File.Exists(restoreLog))
                        File.Delete(restoreLog);
                }

                payload = Directory.GetFiles(rebuilt).SingleOrDefault()
                    ?? throw new BackupException($"{request.Dst}/{point.Entry} does not hold one file as btw-backup stores it: not a series of btw-backup?");
            }

            var what = await PlaceAsync(settings, request, payload, mirror is null ? Path.GetFileName(payload) : Path.GetFileName(mirror.Name), point, scratch, progress, ct);
            return [$"{ErrorReport.Prefix}restored {request.Dst} as of {point.Describe()}{fetched} {what}"];
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }
    }

    /// <summary>
    /// TARGET: absent, or an empty folder, or anything with --force; never root, inside it, or
    /// above it, also when a symbolic link on the way leads there (both sides are compared with
    /// their links resolved); never a symbolic link itself (the restored folder would replace
    /// the link, or the writes follow it).
    /// </summary>
    private static void CheckTarget(string target, GeneralSettings settings, bool force)
    {
        var full = Path.TrimEndingDirectorySeparator(Path.GetFullPath(target));
        CheckPlace(full, SafePath.Resolve(full), settings);
        if (new FileInfo(full).LinkTarget is { } link)
            throw new ConfigException($"the target {target} is a symbolic link (to {link}): give the folder it leads to, or another folder");
        if (File.Exists(target) && !Directory.Exists(target))
            throw new ConfigException($"the target {target} is a file: give a folder (absent or empty)");
        if (Directory.Exists(target) && Directory.EnumerateFileSystemEntries(target).Any() && !force)
            throw new ConfigException($"the target {target} is not empty: give an empty or absent folder, or --force to replace its content");
        var parent = Path.GetDirectoryName(Path.TrimEndingDirectorySeparator(target));
        if (parent is null)
            throw new ConfigException($"the target cannot be {target}");
    }

    /// <summary>The folders a target must stay out of and above, each with how a refusal names it ({0}: the folder).</summary>
    private static (string Dir, string What)[] Protected(GeneralSettings settings) =>
        [(settings.RootPath, "the backups (root-path {0}) or holds them"), (settings.ConfigDir, "the configuration directory ({0}) or holds it")];

    /// <summary>
    /// A target (<paramref name="full"/>, and <paramref name="real"/> with its links resolved) is
    /// neither the backups (root-path) nor the configuration directory, nor inside or above either.
    /// </summary>
    private static void CheckPlace(string full, string real, GeneralSettings settings)
    {
        foreach (var (dir, what) in Protected(settings))
        {
            var plain = Path.TrimEndingDirectorySeparator(Path.GetFullPath(dir));
            var resolved = SafePath.Resolve(plain);
            foreach (var (t, r) in new[] { (full, plain), (real, resolved) })
            {
                if (t == r || t.StartsWith(r + "/", StringComparison.Ordinal) || r.StartsWith(t + "/", StringComparison.Ordinal) || t == "/")
                {
                    var via = real == full ? "" : $" (through a symbolic link: it is {real})";
                    throw new ConfigException($"the target {full} is inside {string.Format(System.Globalization.CultureInfo.InvariantCulture, what, plain)}{via}: restore somewhere else");
                }
            }
        }
    }

    /// <summary>
    /// The repository's one file, opened, when <paramref name="point"/> is its newest backup and the
    /// repository is sound (one current_mirror marker, of that time, no temporary file): rdiff-backup
    /// keeps the newest backup as the file itself and older ones as reverse increments. Null
    /// otherwise (rdiff-backup rebuilds the point).
    /// </summary>
    private static FileStream? OpenLatestMirror(string repository, RestorePoint point)
    {
        bool Sound() => point.RdiffTime is { } time && !RdiffRepository.IsInterrupted(repository) && RdiffRepository.MirrorMarkers(repository) is [var current] && current == time;
        if (!Sound())
            return null;
        var entries = Directory.GetFileSystemEntries(repository).Where(e => Path.GetFileName(e) != RdiffRepository.DataDir).ToList();
        if (entries is not [var only] || new FileInfo(only) is not { Exists: true, LinkTarget: null })
            return null;
        var file = new FileStream(only, FileMode.Open, FileAccess.Read, FileShare.ReadWrite | FileShare.Delete);
        // A backup that began since (its marker comes first, its files are renamed in after): the
        // file held may already be newer than the point; rdiff-backup then rebuilds the point.
        if (Sound())
            return file;
        file.Dispose();
        return null;
    }

    /// <summary>A key of the destination that is no safe path refuses the whole restore, before anything is written.</summary>
    private async Task<(string SeriesDir, string Fetched)> FetchCheckedAsync(
        GeneralSettings settings, RestoreRequest request, Func<DestinationSettings, IObjectStore>? stores, string scratch, IProgress<string>? progress, CancellationToken ct)
    {
        try
        {
            return await FetchAsync(settings, request, stores, scratch, progress, ct);
        }
        catch (UnsafePathException e)
        {
            throw new BackupException($"refused to restore {request.Dst} from {request.From}: {e.Message}; nothing was restored");
        }
    }

    private async Task<(string SeriesDir, string Fetched)> FetchAsync(
        GeneralSettings settings, RestoreRequest request, Func<DestinationSettings, IObjectStore>? stores, string scratch, IProgress<string>? progress, CancellationToken ct)
    {
        var destination = settings.Destinations.FirstOrDefault(d => d.Name == request.From)
            ?? throw new ConfigException($"--from: no destination named '{request.From}' (configured: {(settings.Destinations.IsEmpty ? "none" : string.Join(", ", settings.Destinations.Select(d => d.Name)))})");
        if (stores is null)
            throw new ConfigException("--from: no destination is configured");
        var store = stores(destination);
        var fetchRoot = Path.Combine(scratch, "fetched");
        var mirror = new Mirror(store, fetchRoot, destination.Prefix, settings.Sync.Parallelism) {
            Identities = IdentityOption.Read(request.Identity, destination.Recipients is null ? null : destination,
                $"restore --from {destination.Name} needs --identity FILE (an identity its recipients belong to)"),
        };

        // The entries of the series from the listing alone; then only the one holding the point.
        var seriesKey = mirror.KeyOf(request.Dst.TrimEnd('/') + "/");
        progress?.Report($"listing {seriesKey} on {destination.Name}");
        var entries = new SortedSet<string>(StringComparer.Ordinal);
        var keys = new List<string>();
        await foreach (var o in store.ListAsync(seriesKey, ct))
        {
            // The listing is the server's word: every key must be a safe path under what was asked.
            mirror.CheckKey(o.Key, seriesKey);
            var name = o.Key[seriesKey.Length..].Split('/')[0];
            if (SeriesNames.IsBackupName(name))
                entries.Add(name);
            keys.Add(o.Key[seriesKey.Length..]);
        }

        if (entries.Count == 0)
            throw new ConfigException($"no backups of {request.Dst} on {destination.Name} (under {seriesKey})");
        var entry = RestorePoints.ChooseEntry([.. entries], request.At, request.Dst);
        var relative = request.Dst.TrimEnd('/') + "/" + entry + (entry.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal) ? "" : "/");
        // The latest point of a sound repository is its mirror file (see OpenLatestMirror): its
        // reverse increments, often most of the folder, are not needed, so not fetched.
        var increments = relative + RdiffRepository.DataDir + "/increments/";
        var latestOnly = (request.At is null || request.At == RestorePoints.Latest) && entry == entries.Max && relative.EndsWith('/')
            && IsSoundMirror([.. keys.Where(k => k.StartsWith(entry + "/", StringComparison.Ordinal)).Select(k => k[(entry.Length + 1)..])]);
        var bytes = await mirror.FetchAsync(relative, progress, ct, latestOnly ? p => p.StartsWith(increments, StringComparison.Ordinal) : null);
        // S3 keeps no empty folder: rdiff-backup's own layout needs these.
        if (!relative.EndsWith(SeriesNames.TarSuffix, StringComparison.Ordinal))
        {
            foreach (var folder in new[] { "rdiff-backup-data/increments" })
                Directory.CreateDirectory(Path.Combine(fetchRoot, relative, folder));
        }

        return (Path.Combine(fetchRoot, request.Dst), $", fetched from {destination.Name} ({entry}, {SummaryFormat.Bytes(bytes)}),");
    }

    /// <summary>
    /// Whether a repository's keys (relative to its folder) show what <see cref="OpenLatestMirror"/>
    /// reads in place: one file beside rdiff-backup-data, one current_mirror marker, no temporary file.
    /// </summary>
    private static bool IsSoundMirror(IReadOnlyList<string> keys) =>
        keys.Count(k => !k.Contains('/')) == 1
        && keys.Count(k => k.StartsWith(RdiffRepository.DataDir + "/current_mirror.", StringComparison.Ordinal) && !k[(RdiffRepository.DataDir.Length + 1)..].Contains('/')) == 1
        && !keys.Any(k => Path.GetFileName(k).StartsWith(RdiffRepository.TempPrefix, StringComparison.Ordinal));

    /// <param name="name">The payload's file name as stored (backup.tar, DB.dump, global.sql.bz2, or a .tbz).</param>
    private async Task<string> PlaceAsync(GeneralSettings settings, RestoreRequest request, string payload, string name, RestorePoint point, string scratch, IProgress<string>? progress, CancellationToken ct)
    {
        var isTree = point.IsTar || name == TreeArchive;
        if (request.Database is { } database)
        {
            if (!name.EndsWith(".dump", StringComparison.Ordinal))
                throw new ConfigException($"--database: {request.Dst} is not a database series (it holds {(isTree ? "a file tree" : name)}); restore it into a folder");
            return await RestoreDatabaseAsync(settings, database, payload, request.Force, progress, ct);
        }

        var target = request.Target ?? throw new ConfigException("a TARGET folder is required (or --database NAME for a database series)");
        await IntoTargetAsync(target, settings, request.Force, async temp =>
        {
            if (isTree)
            {
                // A .tbz is decompressed once, into scratch space, while its members are checked.
                var archive = point.IsTar ? Path.Combine(scratch, "archive.tar") : payload;
                progress?.Report($"checking {name}");
                await guard.CheckAsync(payload, bzip2: point.IsTar, ct, decompressTo: point.IsTar ? archive : null);
                progress?.Report($"tar: extracting {name}");
                await tar.ExtractAsync(archive, temp, ct);
            }
            else if (name == DatabaseTarget.GlobalFileName)
            {
                await bzip2.DecompressToAsync(payload, Path.Combine(temp, "global.sql"), ct);
            }
            else
                File.Copy(payload, Path.Combine(temp, name));
        }, ct);
        return isTree ? $"into {target}" : $"into {target} ({(name == DatabaseTarget.GlobalFileName ? "global.sql" : name)})";
    }

    /// <summary>
    /// Into a fresh database under a temporary name, renamed to NAME only once complete; a NAME
    /// that exists (empty, or anything with --force) is renamed aside first and dropped last.
    /// So NAME holds exactly the dump's state, or stays as it was.
    /// </summary>
    private async Task<string> RestoreDatabaseAsync(GeneralSettings settings, string database, string dump, bool force, IProgress<string>? progress, CancellationToken ct)
    {
        var connection = settings.Database(database).Connection;
        var tables = await postgres.CountTablesAsync(database, connection, ct);
        if (tables > 0 && !force)
            throw new ConfigException($"the database {database} has {tables} table(s): restoring into it would mix two states; use another name, or --force to replace it");
        var temp = database + "_btw_restore";
        var replaced = database + "_btw_replaced";
        await postgres.DropDatabaseAsync(temp, connection, ct);
        progress?.Report($"createdb {temp}");
        await postgres.CreateDatabaseAsync(temp, connection, ct);
        try
        {
            progress?.Report($"pg_restore into {temp}");
            await postgres.RestoreAsync(dump, temp, connection, ct);
        }
        catch
        {
            await postgres.DropDatabaseAsync(temp, connection, CancellationToken.None);
            throw;
        }

        if (tables is not null)
        {
            await postgres.DropDatabaseAsync(replaced, connection, ct);
            await postgres.RenameDatabaseAsync(database, replaced, connection, ct);
        }

        await postgres.RenameDatabaseAsync(temp, database, connection, ct);
        if (tables is not null)
            await postgres.DropDatabaseAsync(replaced, connection, ct);
        return $"into the database {database}{(tables is null ? " (created)" : " (replaced)")}";
    }

    /// <summary>
    /// Fills a new hidden folder beside <paramref name="target"/>, then puts it in its place; on
    /// failure only the target as it was remains. The folder holding TARGET is held from the
    /// check on (see the class): a folder on the way replaced meanwhile changes nothing.
    /// </summary>
    private async Task IntoTargetAsync(string target, GeneralSettings settings, bool force, Func<string, Task> fill, CancellationToken ct)
    {
        target = Path.TrimEndingDirectorySeparator(target);
        var name = Path.GetFileName(target);
        using var parent = HoldParent(Path.GetDirectoryName(target)!, existing => CheckHeld(existing, null, target, settings));
        // Checked again where it is held, by what the folders are (device and inode), not by what
        // a path says: a path can name root-path through a bind mount or another namespace's mount.
        var held = Path.Combine(parent.RealPath, name);
        CheckPlace(held, held, settings);
        CheckHeld(parent, name, target, settings);
        var existing = parent.Look(name);
        if (existing is { IsDirectory: false } || existing is { IsLink: true })
            throw new ConfigException($"the target {target} is no longer a folder: nothing was restored");
        if (existing is not null && !force && Directory.EnumerateFileSystemEntries(parent.Under(name)).Any())
            throw new ConfigException($"the target {target} is not empty: give an empty or absent folder, or --force to replace its content");

        // What an interrupted restore (a killed process) left beside the target: this user's private folders only.
        foreach (var stale in Directory.EnumerateFileSystemEntries(parent.Path, $".{name}.restore-*").Select(Path.GetFileName))
        {
            if (parent.Look(stale!) is { IsDirectory: true, IsLink: false } left && left.Uid == (uint)Posix.EffectiveUid && left.Permissions == 0x1C0)
                await RemoveAsync(parent, stale!, ct);
        }

        var suffix = $"{Environment.ProcessId}-{Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(6))}";
        var tempName = $".{name}.restore-{suffix}";
        var replacedName = $".{name}.replaced-{suffix}";
        var placed = false;
        try
        {
            using (var temp = parent.CreatePrivate(tempName))
                await fill(temp.Path);
            if (existing is not null)
                parent.Rename(name, replacedName);
            try
            {
                parent.Rename(tempName, name);
            }
            catch (IOException e) when (existing is not null)
            {
                // TARGET goes back as it was; if even that fails, it is kept beside it, and the error says where.
                try
                {
                    parent.Rename(replacedName, name);
                }
                catch (IOException)
                {
                    throw new IOException($"{e.Message}; the previous content of {target} is kept as {Path.Combine(parent.RealPath, replacedName)}", e);
                }

                throw;
            }

            placed = true;
        }
        finally
        {
            if (!placed && parent.Look(tempName) is not null)
                await RemoveAsync(parent, tempName, CancellationToken.None);
        }

        if (existing is not null)
            await RemoveAsync(parent, replacedName, ct);
    }

    /// <summary>
    /// TARGET's folder, held open. Folders missing on the way are created one by one from the
    /// deepest one that exists, each held before the next is made in it (mkdir never follows a
    /// link, so nothing is created elsewhere if a folder above is swapped for a link meanwhile).
    /// </summary>
    /// <param name="check">Told the deepest existing folder, held, before anything is created in it.</param>
    private static HeldDirectory HoldParent(string parentPath, Action<HeldDirectory> check)
    {
        var missing = new Stack<string>();
        var existing = parentPath;
        while (!Directory.Exists(existing) && Path.GetDirectoryName(existing) is { } up)
        {
            missing.Push(Path.GetFileName(existing));
            existing = up;
        }

        var held = HeldDirectory.Open(SafePath.Resolve(existing));
        try
        {
            check(held);
        }
        catch
        {
            held.Dispose();
            throw;
        }

        while (missing.Count > 0)
        {
            var next = held.CreatePrivate(missing.Pop());
            held.Dispose();
            held = next;
        }

        return held;
    }

    /// <summary>
    /// TARGET (<paramref name="name"/> in the held folder) is not root-path or the configuration
    /// directory, nor inside either, nor above either, by identity: the held folder and every folder
    /// above it as the kernel walks "..", and TARGET itself when it exists.
    /// </summary>
    private static void CheckHeld(HeldDirectory parent, string? name, string target, GeneralSettings settings)
    {
        var above = parent.SelfAndAncestors();
        var existing = name is not null && parent.Look(name) is { IsDirectory: true, IsLink: false } ? HeldDirectory.IdentityOf(parent.Under(name)) : null;
        foreach (var (dir, what) in Protected(settings))
        {
            if (HeldDirectory.IdentityOf(dir) is not { } protectedDir)
                continue;
            var protectedChain = new List<(ulong, ulong)>();
            for (var d = SafePath.Resolve(dir); d is not null; d = Path.GetDirectoryName(d))
            {
                if (HeldDirectory.IdentityOf(d) is { } id)
                    protectedChain.Add(id);
            }

            if (above.Contains(protectedDir) || (existing is { } t && protectedChain.Contains(t)))
                throw new ConfigException($"the target {target} is inside {string.Format(System.Globalization.CultureInfo.InvariantCulture, what, dir)} (it is the same folder, reached another way): restore somewhere else");
        }
    }

    /// <summary>rm -rf of a name in the held folder: rm does not follow a link it finds on its way, nor leave the file system.</summary>
    private async Task RemoveAsync(HeldDirectory parent, string name, CancellationToken ct) =>
        await runner.RunCheckedAsync(new ProcessSpec("rm", ["-rf", "--one-file-system", "--", parent.Under(name)]), ct);
}

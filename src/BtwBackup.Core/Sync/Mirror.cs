using System.Collections.Concurrent;
using System.Security.Cryptography;
using BtwBackup.ObjectStore;
using BtwBackup.Platform;

namespace BtwBackup.Sync;

/// <summary>What one push or sync did.</summary>
public sealed record TransferReport(int Uploaded, long BytesUploaded, int Deleted, int Unchanged)
{
    public static readonly TransferReport None = new(0, 0, 0, 0);

    public TransferReport Add(TransferReport o) =>
        new(Uploaded + o.Uploaded, BytesUploaded + o.BytesUploaded, Deleted + o.Deleted, Unchanged + o.Unchanged);
}

/// <summary>What a check of the remote copy found: files that match, and one line per problem.
/// <see cref="Refusals"/>: what a sync of the folder would refuse (a listed key that is no safe path,
/// deletions <see cref="DeletionGuard"/> holds back), one line each: never pending work.</summary>
public sealed record MirrorCheck(int Matched, System.Collections.Immutable.ImmutableList<string> Problems, System.Collections.Immutable.ImmutableList<string> Refusals);

/// <summary>
/// An encrypted destination's objects as a transfer sees them: <see cref="Known"/> (from the sync
/// state, read only), and what the transfer stored or deleted, for the state to record.
/// </summary>
public sealed class EncryptedIndex(System.Collections.Immutable.ImmutableDictionary<string, EncryptedObject> known)
{
    public System.Collections.Immutable.ImmutableDictionary<string, EncryptedObject> Known { get; } = known;

    public ConcurrentBag<EncryptedObject> Stored { get; } = [];

    public ConcurrentBag<string> Removed { get; } = [];
}

/// <summary>
/// An encrypted destination's manifest: every object its sync state records, with the plaintext's
/// MD5 and size, as of <see cref="Written"/>. Stored encrypted beside the objects; what lets a
/// restore on a fresh machine tell an object dropped or replaced by another authentic one.
/// </summary>
public sealed record Manifest(DateTime Written, System.Collections.Immutable.ImmutableList<EncryptedObject> Objects);

/// <summary>A push or sync in which some files failed; the path stays pending.</summary>
public sealed class MirrorException(string path, IReadOnlyList<string> failures)
    : Exception($"{SyncState.Display(path)}: {failures.Count} file(s) failed: {string.Join("; ", failures.Take(3))}")
{
    public IReadOnlyList<string> Failures { get; } = failures;
}

/// <summary>
/// Mirrors paths under root to a destination: a path P is stored at key PREFIX + P. Push
/// uploads a file or a folder as it is; sync makes the remote folder equal to the local one by
/// content (MD5, never size or mtime: rdiff-backup rewrites files with the same size within the
/// same second). Transfers run in parallel up to a limit; a file that fails does not stop the
/// others, and the whole path is reported failed so that it stays pending. Every listed key is
/// checked (<see cref="CheckKey"/>) before it is used, and what a sync would delete passes
/// <see cref="DeletionGuard"/> first. With <paramref name="recipients"/>, every file is stored as
/// its age encryption to them, under the same key, and whether a file changed is decided by its
/// plaintext MD5 as the <see cref="EncryptedIndex"/> records it; with <see cref="Identities"/>, what
/// is fetched is decrypted, and an object that fails authentication is named and not kept.
/// </summary>
public sealed class Mirror(IObjectStore store, string root, string prefix, int parallelism, IReadOnlyList<Crypto.AgeRecipient>? recipients = null)
{
    public bool Encrypts => recipients is { Count: > 0 };

    /// <summary>The identities that decrypt what <see cref="FetchAsync"/> fetches (an encrypted destination's).</summary>
    public IReadOnlyList<Crypto.AgeIdentity>? Identities { get; init; }

    /// <summary>
    /// The MD5s of root's files as last read: push, sync and check read only the files whose stamp
    /// moved since (see <see cref="Md5Cache"/>). Null: every file is read every time.
    /// </summary>
    public Md5Cache? Hashes { get; init; }

    /// <summary>
    /// Set: <see cref="UnchangedAsync"/>, when it finds files <see cref="Hashes"/> cannot vouch
    /// for, starts reading them (<see cref="Md5Cache.ReadAhead"/>) for the sync that follows,
    /// until this token is cancelled. Null: it reads nothing.
    /// </summary>
    public CancellationToken? ReadAheadUntil { get; init; }

    /// <summary>
    /// Uploads started before this mirror's sync (<see cref="UploadAheadAsync"/>, by another mirror
    /// of the same destination): a sync closes it and waits for them to end before it compares,
    /// joins those that sent what it would send, and takes no listing's word for a key they touched.
    /// Null: every upload is this mirror's own.
    /// </summary>
    public UploadsAhead? Uploads { get; init; }

    /// <summary>Told what root holds that is not copied (a FIFO, a socket, a device: opening one could wait forever); null: nobody is.</summary>
    public Action<string>? Warn { get; init; }

    private Task<List<RemoteObject>>? _ahead;
    private int _writes;

    /// <summary>
    /// A listing of the whole prefix taken ahead (<see cref="ListAheadAsync"/>, while the process
    /// was still starting): the first sync of root lists nothing more when nothing was stored or
    /// deleted through this mirror before it (what <see cref="Uploads"/> stored, the sync treats
    /// apart); else it is dropped and the server listed again.
    /// </summary>
    public Task<List<RemoteObject>>? Ahead { init => _ahead = value; }

    /// <summary>Every object under <paramref name="prefix"/>, listed now: what <see cref="Ahead"/> takes.</summary>
    /// <param name="store">Gives the store, on the listing's thread (the SDK's first client costs tens of milliseconds).</param>
    public static Task<List<RemoteObject>> ListAheadAsync(Func<IObjectStore> store, string prefix, CancellationToken ct) =>
        Task.Run(async () =>
        {
            var all = new List<RemoteObject>();
            await foreach (var o in store().ListAsync(prefix, ct))
                all.Add(o);
            return all;
        }, ct);

    public string KeyOf(string relativePath) => prefix + relativePath.Replace('\\', '/');

    /// <summary>
    /// The key of an encrypted destination's manifest: beside root's paths, never one of them
    /// (no series name starts with '.'), and left out of every comparison with root.
    /// </summary>
    public string ManifestKey => prefix + ".btw-manifest.age";

    /// <summary>Writes the manifest of <paramref name="objects"/>, encrypted to the destination's recipients.</summary>
    public async Task WriteManifestAsync(IEnumerable<EncryptedObject> objects, CancellationToken ct)
    {
        var to = recipients is { Count: > 0 } r ? r : throw new InvalidOperationException("a manifest is written only to an encrypted destination");
        Interlocked.Increment(ref _writes);
        var json = System.Text.Json.JsonSerializer.SerializeToUtf8Bytes(new Manifest(DateTime.UtcNow, [.. objects.OrderBy(o => o.Path, StringComparer.Ordinal)]));
        await store.PutStreamAsync(ManifestKey, () => Crypto.Age.Encrypt(new MemoryStream(json), to), Crypto.Age.EncryptedLength(to.Count, json.Length), ct);
    }

    private const long ManifestLimit = 1L << 30;

    /// <summary>The destination's manifest, decrypted with <see cref="Identities"/>; null when it has none (written before manifests existed).</summary>
    public async Task<Manifest?> ReadManifestAsync(CancellationToken ct)
    {
        RemoteObject? listed = null;
        await foreach (var o in store.ListAsync(ManifestKey, ct))
            listed = o.Key == ManifestKey ? o : listed;
        if (listed is null || Identities is not { } identities)
            return null;
        // About 150 bytes an object: this is millions of objects; more is not a manifest this tool wrote.
        if (listed.Size > ManifestLimit)
            throw new ObjectStoreException($"{ManifestKey} is {listed.Size} bytes, more than a manifest can be ({ManifestLimit}): not read", transient: false);
        var file = Path.Combine(Path.GetTempPath(), "btw-manifest-" + Guid.NewGuid().ToString("N"));
        try
        {
            await store.GetFileAsync(ManifestKey, file, ct);
            await using var cipher = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
            await using var plain = Crypto.Age.Decrypt(cipher, identities);
            var manifest = await System.Text.Json.JsonSerializer.DeserializeAsync<Manifest>(plain, cancellationToken: ct);
            return Checked(manifest) ?? throw new ObjectStoreException($"{ManifestKey} is not a manifest this tool wrote (no time, an object without a path or MD5, or a path twice)", transient: false);
        }
        catch (Crypto.AgeDecryptException e)
        {
            throw new ObjectStoreException($"{ManifestKey} cannot be decrypted: {e.Message}", transient: false);
        }
        catch (System.Text.Json.JsonException e)
        {
            throw new ObjectStoreException($"{ManifestKey} is not a manifest: {e.Message}", transient: false);
        }
        finally
        {
            File.Delete(file);
        }
    }

    /// <summary>The manifest if it is whole: a time, and objects each with a path (once) and a plaintext MD5; else null.</summary>
    private static Manifest? Checked(Manifest? manifest) =>
        manifest is { Objects: { } objects } && manifest.Written != default
        && objects.All(o => o is { Path: { Length: > 0 }, PlainMd5: { Length: 32 } })
        && objects.Select(o => o.Path).Distinct(StringComparer.Ordinal).Count() == objects.Count
            ? manifest
            : null;

    public async Task<TransferReport> PushAsync(string path, CancellationToken ct, EncryptedIndex? index = null)
    {
        var failures = new ConcurrentBag<string>();
        long bytes = 0;
        var uploaded = 0;
        await EachAsync(LocalFiles(path), failures, ct, async (rel, token) =>
        {
            Interlocked.Add(ref bytes, await UploadAsync(rel, await LocalMd5Async(rel, token), index, token));
            Interlocked.Increment(ref uploaded);
        });
        ThrowIfFailed(path, failures);
        return new TransferReport(uploaded, bytes, 0, 0);
    }

    public Task<TransferReport> SyncAsync(string path, CancellationToken ct) => SyncAsync(path, DeletionLimits.Default, ct);

    /// <summary>
    /// Makes the remote folder equal to the local one. What it would delete is weighed by
    /// <see cref="DeletionGuard"/> first: when the guard refuses, what differs is still uploaded,
    /// nothing is deleted, and <see cref="DeletionRefusedException"/> says why (the path stays pending).
    /// </summary>
    public async Task<TransferReport> SyncAsync(string path, DeletionLimits limits, CancellationToken ct, EncryptedIndex? index = null)
    {
        var folder = FolderOf(path);
        if (!Directory.Exists(Path.Combine(root, folder)))
            throw new MirrorException(path, ["trying to sync a path which is not a local directory"]);

        var remote = await ListCheckedAsync(folder, ct);
        // Uploads started ahead (see UploadsAhead): none starts from here, and this sync is the only
        // writer once they have ended. A key they touched is not what the listing says: it is
        // joined or sent again (UploadAsync), and deleted if root no longer holds its file.
        var ahead = Uploads;
        if (ahead is not null)
        {
            ahead.Close();
            await ahead.WhenEnded().WaitAsync(ct);
        }

        var touched = ahead?.Keys.Where(k => k.StartsWith(KeyOf(folder), StringComparison.Ordinal) && !remote.ContainsKey(k)).ToList() ?? [];
        var local = LocalFiles(folder);
        var localKeys = local.Select(KeyOf).ToHashSet(StringComparer.Ordinal);
        var deletions = remote.Keys.Concat(touched).Where(k => !localKeys.Contains(k)).Order(StringComparer.Ordinal).ToList();
        var refusal = DeletionGuard.Refusal(
            new DeletionPlan(folder, local.Count, LocalTopLevel(), remote.Count + touched.Count, [.. deletions.Select(k => k[prefix.Length..])]), limits);

        var failures = new ConcurrentBag<string>();
        long bytes = 0;
        int uploaded = 0, unchanged = 0, deleted = 0;
        await EachAsync(local, failures, ct, async (rel, token) =>
        {
            var md5 = await LocalMd5Async(rel, token);
            if (ahead?.Touched(KeyOf(rel)) != true && remote.TryGetValue(KeyOf(rel), out var existing) && await SameAsync(rel, existing, md5, index, token))
            {
                Interlocked.Increment(ref unchanged);
                return;
            }

            Interlocked.Add(ref bytes, await UploadAsync(rel, md5, index, token));
            Interlocked.Increment(ref uploaded);
        });

        if (refusal is not null)
        {
            ThrowIfFailed(path, failures);
            throw new DeletionRefusedException(refusal);
        }

        await EachAsync(deletions, failures, ct, async (key, token) =>
        {
            Interlocked.Increment(ref _writes);
            await store.DeleteAsync(key, token);
            index?.Removed.Add(key[prefix.Length..]);
            Interlocked.Increment(ref deleted);
            Platform.CrashPoint.Reach(Platform.CrashPoint.SyncDeleted);
        });

        ThrowIfFailed(path, failures);
        return new TransferReport(uploaded, bytes, deleted, unchanged);
    }

    /// <summary>
    /// Whether a sync of all of root would transfer and delete nothing, proved without reading a
    /// file: the listing's keys (each checked as a sync checks it) are root's files, and each
    /// file's MD5 is the one <see cref="Hashes"/> recorded for it, unmoved since, and the one the
    /// server holds. False at the first thing that is not so (a key the sync would refuse, a file
    /// to read, a difference, an error of the store): a sync then does the work, and says why.
    /// Never for an encrypted destination (its sync state decides what matches).
    /// </summary>
    public async Task<bool> UnchangedAsync(CancellationToken ct)
    {
        if (Encrypts || Hashes is not { } hashes || !Directory.Exists(root))
            return false;
        try
        {
            // Root's side (its files and the MD5s known of them) is read while the server lists; a
            // file the cache cannot vouch for ends it there, so that the sync (which takes the same
            // listing) starts without waiting for the server.
            var listing = ListCheckedAsync("", ct);
            var local = LocalFiles("").Select(rel => (Path: Path.GetFullPath(Path.Combine(root, rel)), Rel: rel))
                .Select(f => (f.Rel, f.Path, Md5: hashes.Known(f.Path))).ToList();
            if (local.Any(f => f.Md5 is null))
            {
                // The sync will hash them (to compare them, or to send them with their MD5): that
                // starts now, while its actors start, on one thread (the actors take the other core).
                if (ReadAheadUntil is { } aheadToken)
                    _ = hashes.ReadAhead([.. local.Where(f => f.Md5 is null).Select(f => f.Path)], aheadToken);
                return false;
            }

            var remote = await listing;
            // The same keys on both sides (two local names can map to one key: a '\\' is a '/' there).
            var keys = local.Select(f => KeyOf(f.Rel)).ToHashSet(StringComparer.Ordinal);
            if (keys.Count != local.Count || !keys.SetEquals(remote.Keys))
                return false;
            // A listed MD5 is compared here; an object that lists none (multipart) is asked for its stored one.
            if (local.Any(f => remote[KeyOf(f.Rel)].ContentMd5 is { } listed && listed != f.Md5))
                return false;
            var asked = local.Where(f => remote[KeyOf(f.Rel)].ContentMd5 is null).ToList();
            // The first difference ends the comparison (the others are not started); it, and any
            // other error (a request that timed out), lands in the catch below: nothing is taken
            // as equal unless every object said so.
            await Parallel.ForEachAsync(asked, Options(ct), async (f, token) =>
            {
                if (!await SameAsync(f.Rel, remote[KeyOf(f.Rel)], f.Md5!, null, token))
                    throw new MirrorException(f.Rel, ["the server's copy differs (MD5)"]);
            });
            return true;
        }
        catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
        {
            return false; // the sync meets it again, and reports it its way
        }
    }

    /// <summary>
    /// Once a sync of root is journaled and its actors are starting (see <see cref="UploadsAhead"/>):
    /// uploads root's files that differ from the listing taken <see cref="Ahead"/> (missing there,
    /// or listed with another MD5), what that sync would upload, into <paramref name="uploads"/>
    /// until the sync closes it. Never deletes; nothing for an encrypted destination, nor for an
    /// object whose listing gives no MD5 (multipart: the sync asks the server). A listing the sync
    /// would refuse (a bad key) uploads nothing; an upload that fails is left to the sync, which
    /// sends the file itself and says why if it fails again.
    /// </summary>
    public async Task UploadAheadAsync(UploadsAhead uploads, CancellationToken ct)
    {
        if (Encrypts || Hashes is not { } hashes || _ahead is null)
            return;
        try
        {
            var remote = await ListCheckedAsync("", ct);
            // What the cache proves equal is left at once; the others are read (or their read under way joined), then compared.
            var unproved = LocalFiles("")
                .Select(rel => (Rel: rel, Listed: remote.GetValueOrDefault(KeyOf(rel))))
                .Where(f => f.Listed is null || (f.Listed.ContentMd5 is { } listed && hashes.Known(Path.GetFullPath(Path.Combine(root, f.Rel))) != listed))
                .ToList();
            await Parallel.ForEachAsync(unproved, Options(ct), async (f, token) =>
            {
                if (uploads.Closed)
                    return;
                try
                {
                    // A read of a file too recent to record is taken too (see Md5Cache.Md5Async) when
                    // it goes in one PUT, whose body the server checks against this MD5 (a multipart
                    // upload's parts are checked, not the whole); the sync joins only what it reads the same.
                    var full = Path.GetFullPath(Path.Combine(root, f.Rel));
                    var md5 = await hashes.Md5Async(full, token, unsettled: new FileInfo(full).Length <= S3ObjectStore.SinglePutLimit);
                    if (f.Listed?.ContentMd5 == md5 || uploads.Start(KeyOf(f.Rel), md5, () => UploadAsync(f.Rel, md5, null, token)) is not { } upload)
                        return;
                    await upload;
                    Platform.CrashPoint.Reach(Platform.CrashPoint.SyncUploadedAhead);
                }
                catch (Exception e) when (e is not OperationCanceledException || !token.IsCancellationRequested)
                {
                    // A file gone or unreadable, an upload that failed: the sync meets it, or sends it again.
                }
            });
        }
        catch (Exception)
        {
            // A listing refused, a file gone or unreadable, the command ended: the sync meets it its way.
        }
    }

    /// <summary>A path as the folder it names: "" (root) or ending in '/'.</summary>
    private static string FolderOf(string path) => path.Length == 0 || path.EndsWith('/') ? path : path + "/";

    /// <summary>A folder as a line names it: "root", or its path.</summary>
    private static string Shown(string folder) => folder.Length == 0 ? "root" : folder.TrimEnd('/');

    /// <summary>The paths (under the prefix) the server holds and root does not.</summary>
    private List<string> OnlyRemote(Dictionary<string, RemoteObject> remote, List<string> local)
    {
        var localKeys = local.Select(KeyOf).ToHashSet(StringComparer.Ordinal);
        return [.. remote.Keys.Where(k => !localKeys.Contains(k)).Select(k => k[prefix.Length..])];
    }

    /// <summary>The top-level folders of root: the series a destination's top-level folders are compared with.</summary>
    private HashSet<string> LocalTopLevel() =>
        Directory.Exists(root)
            ? Directory.EnumerateDirectories(root).Select(d => Path.GetFileName(d)).ToHashSet(StringComparer.Ordinal)
            : [];

    /// <summary>
    /// The objects under a folder, each key checked: it must lie under the prefix asked for, and
    /// the rest must be a path <see cref="SafePath"/> accepts. A listing is the server's word,
    /// not ours: one bad key refuses the whole listing, naming it.
    /// </summary>
    private async Task<Dictionary<string, RemoteObject>> ListCheckedAsync(string folder, CancellationToken ct)
    {
        var asked = KeyOf(folder);
        var remote = new Dictionary<string, RemoteObject>(StringComparer.Ordinal);
        await foreach (var o in Listing(folder, ct))
        {
            if (o.Key == ManifestKey)
                continue;
            CheckKey(o.Key, asked);
            remote[o.Key] = o;
        }

        return remote;
    }

    /// <summary>The objects under a folder: root's listing taken <see cref="Ahead"/> while it is still the server's (once), else the server's now.</summary>
    private IAsyncEnumerable<RemoteObject> Listing(string folder, CancellationToken ct) =>
        folder.Length == 0 && Interlocked.Exchange(ref _ahead, null) is { } ahead && Volatile.Read(ref _writes) == 0
            ? Taken(ahead)
            : store.ListAsync(KeyOf(folder), ct);

    private static async IAsyncEnumerable<RemoteObject> Taken(Task<List<RemoteObject>> ahead)
    {
        foreach (var o in await ahead)
            yield return o;
    }

    /// <summary>Refuses a key of a listing of <paramref name="asked"/> that is not under it or not a safe path below the prefix.</summary>
    public void CheckKey(string key, string asked)
    {
        if (!key.StartsWith(asked, StringComparison.Ordinal))
            throw new UnsafePathException($"the key '{SafePath.Show(key)}' of the listing is not under the prefix asked for ('{SafePath.Show(asked)}')");
        if (SafePath.Problem(key[prefix.Length..]) is { } problem)
            throw new UnsafePathException($"the key '{SafePath.Show(key)}' of the listing {problem}");
    }

    /// <summary>
    /// Compares the remote copy of a folder (relative to root; "" for all of it) with the local
    /// one by content, changing nothing: one line per file missing, different, or only remote.
    /// </summary>
    public async Task<MirrorCheck> CheckAsync(string path, CancellationToken ct) => await CheckAsync(path, DeletionLimits.Default, ct);

    /// <inheritdoc cref="CheckAsync(string, CancellationToken)"/>
    public async Task<MirrorCheck> CheckAsync(string path, DeletionLimits limits, CancellationToken ct, EncryptedIndex? index = null)
    {
        var folder = FolderOf(path);
        var problems = new ConcurrentBag<string>();
        var refusals = new List<string>();
        var remote = new Dictionary<string, RemoteObject>(StringComparer.Ordinal);
        await foreach (var o in store.ListAsync(KeyOf(folder), ct))
        {
            if (o.Key == ManifestKey)
                continue;
            try
            {
                CheckKey(o.Key, KeyOf(folder));
                remote[o.Key] = o;
            }
            catch (UnsafePathException e)
            {
                refusals.Add($"{Shown(folder)}: {e.Message}: a sync refuses this listing");
            }
        }

        var local = Directory.Exists(Path.Combine(root, folder)) ? LocalFiles(folder) : [];
        var matched = 0;
        await EachAsync(local, problems, ct, async (rel, token) =>
        {
            if (!remote.TryGetValue(KeyOf(rel), out var existing))
                problems.Add($"{rel}: missing on the server");
            else if (!await SameAsync(rel, existing, await LocalMd5Async(rel, token), index, token))
                problems.Add(Encrypts
                    ? $"{rel}: the server's copy is not the encryption of this file that the sync state recorded (ETag and plaintext MD5)"
                    : $"{rel}: the server's copy differs (MD5)");
            else
                Interlocked.Increment(ref matched);
        });
        var onlyRemote = OnlyRemote(remote, local);
        foreach (var rel in onlyRemote)
            problems.Add($"{rel}: on the server but not in root");
        // What a sync of this folder would refuse to delete, said as a sync would say it.
        var refusal = DeletionGuard.Refusal(new DeletionPlan(folder, local.Count, LocalTopLevel(), remote.Count, onlyRemote), limits);
        if (refusal is not null)
            refusals.Add($"{Shown(folder)}: a sync would stop here: {refusal}");
        return new MirrorCheck(matched, [.. problems.Order(StringComparer.Ordinal)], [.. refusals]);
    }

    /// <summary>
    /// <c>verify --deep</c>: reads the remote copy of a folder back, object by object (decrypted,
    /// so authenticated, with <see cref="Identities"/> on an encrypted destination), and compares
    /// each with root's file by the MD5 of its content, changing nothing. What it downloads goes
    /// to a scratch folder, one object at a time per transfer, removed after.
    /// </summary>
    public async Task<MirrorCheck> DeepCheckAsync(string path, IProgress<string>? progress, CancellationToken ct)
    {
        var folder = FolderOf(path);
        Dictionary<string, RemoteObject> remote;
        try
        {
            remote = await ListCheckedAsync(folder, ct);
        }
        catch (UnsafePathException e)
        {
            return new MirrorCheck(0, [], [$"{Shown(folder)}: {e.Message}: a sync refuses this listing"]);
        }

        var local = Directory.Exists(Path.Combine(root, folder)) ? LocalFiles(folder) : [];
        var problems = new ConcurrentBag<string>();
        var matched = 0;
        var scratch = Directory.CreateTempSubdirectory("btw-verify-").FullName;
        try
        {
            await EachAsync(local, problems, ct, async (rel, token) =>
            {
                if (!remote.TryGetValue(KeyOf(rel), out var o))
                {
                    problems.Add($"{rel}: missing on the server");
                    return;
                }

                var fetched = Path.Combine(scratch, Guid.NewGuid().ToString("N"));
                try
                {
                    await store.GetFileAsync(o.Key, fetched, token);
                    string md5;
                    try
                    {
                        md5 = Identities is { } identities ? await DecryptedMd5Async(fetched, identities, token) : await Md5Async(fetched, token);
                    }
                    catch (Crypto.AgeDecryptException e)
                    {
                        problems.Add($"{rel}: cannot be decrypted: {e.Message}");
                        return;
                    }

                    if (md5 == await Md5Async(Path.Combine(root, rel), token))
                    {
                        var count = Interlocked.Increment(ref matched);
                        progress?.Report($"read back {count} of {local.Count} objects");
                    }
                    else
                        problems.Add($"{rel}: the server's copy differs (its content, read back{(Identities is null ? "" : " and decrypted")})");
                }
                finally
                {
                    File.Delete(fetched);
                }
            });
        }
        finally
        {
            Directory.Delete(scratch, recursive: true);
        }

        foreach (var rel in OnlyRemote(remote, local))
            problems.Add($"{rel}: on the server but not in root");
        return new MirrorCheck(matched, [.. problems.Order(StringComparer.Ordinal)], []);
    }

    private static async Task<string> DecryptedMd5Async(string file, IReadOnlyList<Crypto.AgeIdentity> identities, CancellationToken ct)
    {
        await using var cipher = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16);
        await using var plain = Crypto.Age.Decrypt(cipher, identities);
        return Convert.ToHexStringLower(await MD5.HashDataAsync(plain, ct));
    }

    /// <summary>
    /// Downloads every object under a path (a file, or a folder ending in /) into the same place
    /// under this mirror's root, each checked against its MD5 when the server knows it.
    /// Returns the number of bytes fetched. <paramref name="leaveOut"/>: paths (relative to root)
    /// not wanted, neither fetched nor required by the manifest (still checked as keys).
    /// </summary>
    public async Task<long> FetchAsync(string path, IProgress<string>? progress, CancellationToken ct, Func<string, bool>? leaveOut = null)
    {
        var objects = new List<RemoteObject>();
        var files = new Dictionary<string, string>(StringComparer.Ordinal);
        await foreach (var o in store.ListAsync(KeyOf(path), ct))
        {
            CheckKey(o.Key, KeyOf(path));
            if ((path.EndsWith('/') || o.Key == KeyOf(path)) && leaveOut?.Invoke(o.Key[prefix.Length..]) != true)
                objects.Add(o);
        }

        // Every key is mapped (and refused) before the first download: a bad one leaves nothing behind.
        foreach (var o in objects)
            files[o.Key] = SafePath.Under(root, o.Key[prefix.Length..], "the key", o.Key);

        if (objects.Count == 0)
            throw new MirrorException(path, ["nothing on the server under " + KeyOf(path)]);
        var total = objects.Sum(o => o.Size);
        long done = 0;
        var failures = new ConcurrentBag<string>();
        var keys = objects.Select(o => o.Key).ToList();
        // Encrypted: the manifest (when the destination has one) says what must be there, and with which content.
        var manifest = Identities is null ? null : await ReadManifestAsync(ct);
        var listed = manifest?.Objects
            .Where(m => path.EndsWith('/') ? m.Path.StartsWith(path, StringComparison.Ordinal) : m.Path == path)
            .Where(m => leaveOut?.Invoke(m.Path) != true)
            .ToDictionary(m => m.Path, StringComparer.Ordinal);
        if (listed is not null)
        {
            foreach (var missing in listed.Keys.Where(p => !files.ContainsKey(KeyOf(p))).Order(StringComparer.Ordinal))
                failures.Add($"{KeyOf(missing)}: in the manifest of {manifest!.Written:yyyy-MM-dd HH:mm:ss} but not on the server (dropped)");
            ThrowIfFailed(path, failures);
        }

        // Encrypted: one object first, so that an identity that matches none is one line, not one per object.
        if (Identities is not null && keys.Count > 1)
        {
            await EachAsync(keys.Take(1), failures, ct, FetchOneAsync);
            ThrowIfFailed(path, failures);
            keys.RemoveAt(0);
        }

        await EachAsync(keys, failures, ct, FetchOneAsync);
        ThrowIfFailed(path, failures);
        return total;

        async Task FetchOneAsync(string key, CancellationToken token)
        {
            var file = files[key];
            Directory.CreateDirectory(Path.GetDirectoryName(file)!);
            // Checked again now that the folders on the way exist: none may have become a link.
            SafePath.Under(root, key[prefix.Length..], "the key", key);
            var o = objects.First(x => x.Key == key);
            var fetched = Identities is null ? file : file + ".age";
            await store.GetFileAsync(key, fetched, token);
            // An encrypted object's stored MD5 (multipart metadata) is not its ciphertext's: its own authentication checks it.
            var expected = o.ContentMd5 ?? (Identities is null ? await store.StoredMd5Async(key, token) : null);
            if (expected is not null && expected != await Md5Async(fetched, token))
                throw new ObjectStoreException($"get {key}: the downloaded content does not match its MD5", transient: false);
            if (Identities is { } identities)
            {
                await DecryptAsync(key, fetched, file, identities, token);
                if (listed is not null && listed.TryGetValue(key[prefix.Length..], out var recorded) && recorded.PlainMd5 != await Md5Async(file, token))
                {
                    File.Delete(file);
                    throw new ObjectStoreException($"{key} is not the content the manifest of {manifest!.Written:yyyy-MM-dd HH:mm:ss} records (another or an older authentic object)", transient: false);
                }
            }
            progress?.Report($"fetched {Interlocked.Add(ref done, o.Size) * 100 / Math.Max(1, total)}% of {objects.Count} objects");
        }
    }

    /// <summary>
    /// Decrypts a fetched object into its place; one that fails (no identity matches, tampered,
    /// truncated, reordered) is named, and nothing of it is kept.
    /// </summary>
    private static async Task DecryptAsync(string key, string fetched, string file, IReadOnlyList<Crypto.AgeIdentity> identities, CancellationToken ct)
    {
        try
        {
            await using (var cipher = new FileStream(fetched, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16))
            await using (var plain = Crypto.Age.Decrypt(cipher, identities))
            await using (var output = new FileStream(file, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16))
                await plain.CopyToAsync(output, ct);
        }
        catch (Crypto.AgeDecryptException e)
        {
            File.Delete(file);
            throw new ObjectStoreException($"{key} cannot be decrypted: {e.Message}", transient: false);
        }
        finally
        {
            File.Delete(fetched);
        }
    }

    /// <summary>Uploads one file under its key (its encryption, on an encrypted destination); returns its size.</summary>
    private async Task<long> UploadAsync(string rel, string md5, EncryptedIndex? index, CancellationToken ct)
    {
        Interlocked.Increment(ref _writes);
        var file = Path.Combine(root, rel);
        if (recipients is not { Count: > 0 } to)
        {
            if (Uploads?.Of(KeyOf(rel), md5) is { } ahead)
            {
                try
                {
                    return await ahead.WaitAsync(ct); // counted by CrashPoint where it was sent
                }
                catch (Exception e) when (e is not OperationCanceledException || !ct.IsCancellationRequested)
                {
                    // That upload failed (or was stopped with its command's read-ahead): this one sends the file.
                }
            }

            await store.PutFileAsync(KeyOf(rel), file, md5, ct);
            Platform.CrashPoint.Uploaded();
            return new FileInfo(file).Length;
        }

        // The plaintext MD5 recorded is the one of what was encrypted: taken as it is read, in the attempt that succeeded.
        var length = new FileInfo(file).Length;
        IncrementalHash? hash = null;
        var etag = await store.PutStreamAsync(KeyOf(rel), () =>
        {
            hash?.Dispose();
            hash = IncrementalHash.CreateHash(HashAlgorithmName.MD5);
            var source = new FileStream(file, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, FileOptions.SequentialScan);
            return Crypto.Age.Encrypt(new HashingStream(source, hash), to);
        }, Crypto.Age.EncryptedLength(to.Count, length), ct);
        using (hash)
            index?.Stored.Add(new EncryptedObject(rel, Convert.ToHexStringLower(hash!.GetHashAndReset()), etag, length));
        return length;
    }

    /// <summary>Reads through to its source, hashing what it reads.</summary>
    private sealed class HashingStream(Stream source, IncrementalHash hash) : Crypto.ReadOnlyStream
    {
        public override bool CanSeek => source.CanSeek;

        public override long Length => source.Length;

        public override long Position { get => source.Position; set => throw new NotSupportedException(); }

        public override int Read(Span<byte> buffer)
        {
            var n = source.Read(buffer);
            hash.AppendData(buffer[..n]);
            return n;
        }

        protected override void Dispose(bool disposing)
        {
            if (disposing)
                source.Dispose();
            base.Dispose(disposing);
        }
    }

    /// <summary>Runs the work on every item in parallel; an item that fails is noted and the others go on.</summary>
    private async Task EachAsync(IEnumerable<string> items, ConcurrentBag<string> failures, CancellationToken ct, Func<string, CancellationToken, Task> work) =>
        await Parallel.ForEachAsync(items, Options(ct), async (item, token) =>
        {
            try
            {
                await work(item, token);
            }
            catch (Exception e) when (e is ObjectStoreException or IOException or UnauthorizedAccessException)
            {
                failures.Add($"{item}: {e.Message}");
            }
        });

    private static void ThrowIfFailed(string path, ConcurrentBag<string> failures)
    {
        if (!failures.IsEmpty)
            throw new MirrorException(path, [.. failures.Order(StringComparer.Ordinal)]);
    }

    /// <summary>
    /// Whether the remote copy of <paramref name="rel"/> holds content of MD5 <paramref name="md5"/>:
    /// by its listing's MD5 (or its stored one), or, encrypted, when the sync state recorded that
    /// plaintext MD5 for the very upload the listing shows (same ETag).
    /// </summary>
    private async Task<bool> SameAsync(string rel, RemoteObject existing, string md5, EncryptedIndex? index, CancellationToken ct)
    {
        if (Encrypts)
            return index is not null && index.Known.TryGetValue(rel, out var known) && known.PlainMd5 == md5 && known.ETag == existing.ETag;
        return existing.ContentMd5 is { } listed ? listed == md5 : await store.StoredMd5Async(existing.Key, ct) == md5;
    }

    /// <summary>The regular files at or under a path, relative to root. Symbolic links are not followed.</summary>
    private List<string> LocalFiles(string path)
    {
        var full = Path.Combine(root, path);
        if (File.Exists(full) && !Directory.Exists(full))
        {
            if (!FileStamp.IsSpecial(full))
                return [path.TrimEnd('/')];
            Warn?.Invoke($"{path.TrimEnd('/')} is not a regular file (a FIFO, socket or device) and not copied");
            return [];
        }

        if (!Directory.Exists(full))
            throw new MirrorException(path, ["no such local file or directory"]);
        var special = new List<string>();
        var files = Directory.EnumerateFiles(full, "*", new EnumerationOptions { RecurseSubdirectories = true, AttributesToSkip = FileAttributes.ReparsePoint })
            .Where(f => !FileStamp.IsSpecial(f) || Add(special, f))
            .Select(f => Path.GetRelativePath(root, f))
            .Order(StringComparer.Ordinal)
            .ToList();
        if (special.Count > 0)
            Warn?.Invoke($"{special.Count} entr{(special.Count == 1 ? "y" : "ies")} under {Shown(FolderOf(path))} {(special.Count == 1 ? "is not a regular file" : "are not regular files")} (a FIFO, socket or device) and not copied: "
                + string.Join(", ", special.Select(f => Path.GetRelativePath(root, f)).Order(StringComparer.Ordinal).Take(3)) + (special.Count > 3 ? ", ..." : ""));
        return files;

        static bool Add(List<string> list, string item)
        {
            list.Add(item);
            return false;
        }
    }

    private ParallelOptions Options(CancellationToken ct) => new() { MaxDegreeOfParallelism = Math.Max(1, parallelism), CancellationToken = ct };

    private static async Task<string> Md5Async(string file, CancellationToken ct) => Convert.ToHexStringLower(await Md5Cache.ReadMd5Async(file, ct));

    /// <summary>The MD5 of root's file <paramref name="rel"/>: from <see cref="Hashes"/> when it has not moved, else read.</summary>
    private Task<string> LocalMd5Async(string rel, CancellationToken ct)
    {
        var file = Path.GetFullPath(Path.Combine(root, rel));
        return Hashes is { } hashes ? hashes.Md5Async(file, ct) : Md5Async(file, ct);
    }
}

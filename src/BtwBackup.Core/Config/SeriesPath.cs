namespace BtwBackup.Config;

/// <summary>
/// The one check of a DST (a series folder, relative to root) from outside: the command line,
/// a configured source, a command sent to the daemon. A series is a folder strictly inside
/// root: never root itself (a backup stored among the other series), never above it.
/// </summary>
public static class SeriesPath
{
    /// <summary>DST in its plain form (<c>db/shop</c> for <c>./db//shop/</c>); a <see cref="ConfigException"/> naming <paramref name="what"/> when it is no folder inside root.</summary>
    public static string Check(string dst, string what = "the dst argument")
    {
        if (dst.Length == 0)
            throw new ConfigException($"{what} cannot be empty");
        if (dst[0] == '/')
            throw new ConfigException($"{what} cannot be an absolute path");
        var parts = dst.Split('/');
        if (parts.Contains(".."))
            throw new ConfigException($"{what} cannot go above the root path: {dst}");
        if (dst.Any(char.IsControl))
            throw new ConfigException($"{what} cannot hold control characters");
        var plain = string.Join('/', parts.Where(p => p is not ("" or ".")));
        if (plain.Length == 0)
            throw new ConfigException($"{what} must name a folder inside the root path, not the root itself: '{dst}'");
        // What a destination's listing must hold (SafePath): a series whose keys a restore would refuse is refused here.
        if (ObjectStore.SafePath.Problem(plain) is { } problem)
            throw new ConfigException($"{what} '{dst}' {problem}");
        return plain;
    }

    /// <summary>True when <paramref name="inner"/> is <paramref name="outer"/> or a folder below it (both plain, as <see cref="Check"/> gives them).</summary>
    public static bool Within(string inner, string outer) =>
        inner == outer || inner.StartsWith(outer + "/", StringComparison.Ordinal);
}

namespace BtwBackup.Config;

/// <summary>
/// The NAME.HASH folders of the configuration directory, found as the original found them: by
/// the hash suffix of the source path, then checked against the <c>src</c> symlink.
/// </summary>
public static class WorkingFolders
{
    public const string SourceLink = "src";

    /// <summary>The folder for <paramref name="source"/>, or null when there is none.</summary>
    public static string? FindPath(string configDir, string source)
    {
        var suffix = "." + SourceHash.Of(source);
        string[] entries;
        try
        {
            entries = Directory.GetDirectories(configDir);
        }
        catch (DirectoryNotFoundException)
        {
            return null;
        }

        var candidates = entries.Where(e => Path.GetFileName(e).EndsWith(suffix, StringComparison.Ordinal)).Order(StringComparer.Ordinal).ToList();
        if (candidates.Count > 1)
            throw new ConfigException("duplicate working directories: " + string.Join(", ", candidates.Select(Path.GetFileName)));
        if (candidates.Count == 0)
            return null;

        var candidate = candidates[0];
        var link = new FileInfo(Path.Combine(candidate, SourceLink)).LinkTarget;
        if (link != source)
            throw new ConfigException("found a working directory with the wrong path: " + candidate);
        return candidate;
    }

    /// <summary>The working folder for <paramref name="source"/> with its settings; an error when there is none.</summary>
    public static WorkingFolder Load(string configDir, string source, SeriesPolicy defaults)
    {
        var path = FindPath(configDir, source) ?? throw new ConfigException("no working directory for: " + source);
        var (type, policy) = ConfigLoader.LoadSource(path, defaults);
        return new WorkingFolder(path, source, type, policy);
    }

    /// <summary>fs-init: creates CONFIG_DIR/NAME.HASH with the src symlink and source.conf. Nothing half-made on failure.</summary>
    public static string Create(string configDir, string source, string name, SourceType type, SeriesPolicy defaults)
    {
        if (!Path.IsPathRooted(source))
            throw new ConfigException("the source path must be absolute");
        if (name.Length == 0 || name.Contains('/') || name is "." or "..")
            throw new ConfigException($"the name must be a plain folder name, not '{name}'");
        if (FindPath(configDir, source) is not null)
            throw new ConfigException("there is already a directory for this path");

        var path = Path.Combine(configDir, name + "." + SourceHash.Of(source));
        if (Directory.Exists(path) || File.Exists(path))
            throw new ConfigException("there is already a directory for this path: " + path);

        Directory.CreateDirectory(configDir);
        var partial = Path.Combine(configDir, "." + name + ".partial-" + Environment.ProcessId);
        try
        {
            Directory.CreateDirectory(partial);
            File.CreateSymbolicLink(Path.Combine(partial, SourceLink), source);
            File.WriteAllText(Path.Combine(partial, ConfigLoader.SourceFileName), ConfigLoader.SourceFileText(type, defaults));
            Directory.Move(partial, path);
        }
        finally
        {
            if (Directory.Exists(partial))
                Directory.Delete(partial, recursive: true);
        }

        return path;
    }
}

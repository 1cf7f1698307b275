using System.Security.Cryptography;

namespace BtwBackup.Web;

/// <summary>
/// CONFIG_DIR/metrics.token: the bearer token of /metrics, and of nothing else. Prometheus gets
/// a copy of this one, never the daemon's token (which runs backups and restores).
/// </summary>
public static class MetricsToken
{
    public const string FileName = "metrics.token";

    /// <summary>The token, created on first use (mode 0600, never through a planted link).</summary>
    public static string Ensure(string configDir)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("btw-backup runs on Linux");
        var path = Path.Combine(configDir, FileName);
        if (!File.Exists(path))
        {
            var partial = path + ".partial";
            File.Delete(partial);
            using (var stream = new FileStream(partial, new FileStreamOptions
            {
                Mode = FileMode.CreateNew,
                Access = FileAccess.Write,
                UnixCreateMode = UnixFileMode.UserRead | UnixFileMode.UserWrite,
            }))
            using (var writer = new StreamWriter(stream))
                writer.Write(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32)));
            File.Move(partial, path);
        }

        var token = File.ReadAllText(path).Trim();
        return token.Length >= 32 ? token : throw new Config.ConfigException($"{path} holds no token: delete it and start the daemon again");
    }
}

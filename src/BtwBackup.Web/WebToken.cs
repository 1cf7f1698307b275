using System.Security.Cryptography;

namespace BtwBackup.Web;

/// <summary>
/// CONFIG_DIR/web.token: what opens the daemon's web server, read-only: the status page's login
/// and the bearer token of /metrics. It is never the daemon's token (which runs backups and
/// restores as root): a browser or a Prometheus holds a copy, and a local user who squats the
/// page's port with a look-alike login form catches at most this one.
/// </summary>
public static class WebToken
{
    public const string FileName = "web.token";

    /// <summary>The token, created on first use (mode 0600, never through a planted link).</summary>
    public static string Ensure(string configDir)
    {
        if (!OperatingSystem.IsLinux())
            throw new PlatformNotSupportedException("btw-backup runs on Linux");
        var path = Path.Combine(configDir, FileName);
        if (!File.Exists(path))
        {
            Platform.PrivateFile.Replace(path, w => w.Write(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))), overwrite: false);
        }

        var token = File.ReadAllText(path).Trim();
        return token.Length >= 32 ? token : throw new Config.ConfigException($"{path} holds no token: delete it and start the daemon again");
    }
}

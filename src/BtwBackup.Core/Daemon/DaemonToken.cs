using System.Security.Cryptography;
using BtwBackup.Config;

namespace BtwBackup.Daemon;

/// <summary>CONFIG_DIR/daemon.token: the shared secret of the daemon and its CLI, readable by its owner only.</summary>
public static class DaemonToken
{
    public const string FileName = "daemon.token";

    private const UnixFileMode Private = UnixFileMode.UserRead | UnixFileMode.UserWrite;

    /// <summary>The token, created on first use (mode 0600); an existing one readable by others is made private again.</summary>
    public static string Ensure(string configDir)
    {
        if (OperatingSystem.IsWindows())
            throw new PlatformNotSupportedException("btw-backup runs on Linux");
        var path = Path.Combine(configDir, FileName);
        if (!File.Exists(path))
        {
            Platform.PrivateFile.Replace(path, w => w.Write(Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32))), overwrite: false);
        }
        else if ((File.GetUnixFileMode(path) & ~Private) != 0)
            File.SetUnixFileMode(path, Private);

        return Read(configDir) ?? throw new ConfigException($"{path} is empty: delete it and start the daemon again");
    }

    /// <summary>The token, or null when there is none this user can read.</summary>
    public static string? Read(string configDir)
    {
        try
        {
            var token = File.ReadAllText(Path.Combine(configDir, FileName)).Trim();
            return token.Length == 0 ? null : token;
        }
        catch (Exception e) when (e is IOException or UnauthorizedAccessException)
        {
            return null;
        }
    }
}

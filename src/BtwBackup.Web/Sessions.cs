using System.Collections.Concurrent;
using System.Security.Cryptography;
using System.Text;

namespace BtwBackup.Web;

/// <summary>
/// The page's logins: a random session id per login, in memory only (a daemon's restart logs
/// everyone out), valid for <see cref="Lifetime"/>. The cookie carries the id, never the token.
/// Tokens are compared in constant time.
/// </summary>
public sealed class Sessions(TimeProvider clock)
{
    public static readonly TimeSpan Lifetime = TimeSpan.FromHours(12);

    /// <summary>More logins than this at once: the oldest go (a client logging in in a loop cannot fill the memory).</summary>
    private const int MaxSessions = 64;

    private readonly ConcurrentDictionary<string, DateTimeOffset> _sessions = new(StringComparer.Ordinal);

    public static bool SameToken(string? given, string expected) =>
        given is not null && CryptographicOperations.FixedTimeEquals(
            SHA256.HashData(Encoding.UTF8.GetBytes(given.Trim())), SHA256.HashData(Encoding.UTF8.GetBytes(expected)));

    /// <summary>A new session's id.</summary>
    public string Open()
    {
        var id = Convert.ToHexStringLower(RandomNumberGenerator.GetBytes(32));
        var now = clock.GetUtcNow();
        foreach (var expired in _sessions.Where(kv => kv.Value <= now).Select(kv => kv.Key).ToList())
            _sessions.TryRemove(expired, out _);
        while (_sessions.Count >= MaxSessions && _sessions.MinBy(kv => kv.Value) is { Key: { } oldest })
            _sessions.TryRemove(oldest, out _);
        _sessions[id] = now + Lifetime;
        return id;
    }

    public bool IsValid(string? id) =>
        id is { Length: 64 } && _sessions.TryGetValue(id, out var until) && until > clock.GetUtcNow();

    public void Close(string? id)
    {
        if (id is not null)
            _sessions.TryRemove(id, out _);
    }
}

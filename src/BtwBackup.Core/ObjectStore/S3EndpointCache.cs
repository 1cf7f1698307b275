using System.Collections.Concurrent;
using System.Reflection;
using System.Text;
using Amazon.Runtime.Endpoints;
using Amazon.S3.Endpoints;

namespace BtwBackup.ObjectStore;

/// <summary>
/// The SDK's S3 endpoint rules, evaluated once per distinct set of parameters instead of once per
/// request. The SDK runs its whole rule set for every request (it parses the endpoint URL and
/// builds the authentication scheme from JSON each time): a twentieth of the client's CPU in an
/// upload of many small files. The answer is a function of the parameters alone; the object's
/// key, the listing's prefix and a copy's source are parameters too, but the rule set of the
/// pinned SDK never reads them (the decompiled provider only copies them into its table; a test
/// resolves with different keys and compares), so they are left out of what an answer is kept by.
/// Every other public property of the parameters is in, whatever the SDK adds later; a set with a
/// value that is not a string or a boolean (a list, which the rules engine could take) is answered
/// by the rules each time. A test pins the SDK's version and says to read the rules again when it
/// changes. Each request gets an Endpoint of its own, since the SDK edits the one it is given (it
/// appends a slash to the URL of a request without a path); the attributes (the authentication
/// scheme) are only read.
/// An error is not kept: it is raised again by the next request. At most <see cref="Capacity"/>
/// answers are kept per client (one bucket, a few operations' sets); beyond that the rules run.
/// </summary>
internal sealed class S3EndpointCache(IEndpointProvider rules, int capacity = S3EndpointCache.Capacity) : IEndpointProvider
{
    public const int Capacity = 64;

    private static readonly HashSet<string> Unread = new(StringComparer.Ordinal) { "Key", "Prefix", "CopySource" };

    private static readonly PropertyInfo[] Kept = typeof(S3EndpointParameters)
        .GetProperties(BindingFlags.Public | BindingFlags.Instance)
        .Where(p => p.GetIndexParameters().Length == 0 && p.CanRead && !Unread.Contains(p.Name))
        .OrderBy(p => p.Name, StringComparer.Ordinal)
        .ToArray();

    private readonly ConcurrentDictionary<string, Endpoint> _answers = new(StringComparer.Ordinal);
    private int _kept;

    public Endpoint ResolveEndpoint(EndpointParameters parameters)
    {
        // Another kind of parameters (another service's, or the SDK's own type later), or a value
        // that cannot be written down exactly: the rules, each time.
        if (parameters.GetType() != typeof(S3EndpointParameters) || KeyOf(parameters) is not { } key)
            return rules.ResolveEndpoint(parameters);
        if (!_answers.TryGetValue(key, out var answer))
        {
            answer = rules.ResolveEndpoint(parameters);
            // Concurrent misses may each take a place: the bound is then passed by at most their number.
            if (Volatile.Read(ref _kept) < capacity && _answers.TryAdd(key, Copy(answer)))
                Interlocked.Increment(ref _kept);
        }

        return Copy(answer);
    }

    private static Endpoint Copy(Endpoint endpoint) => new(endpoint.URL) { Attributes = endpoint.Attributes, Headers = endpoint.Headers };

    /// <summary>
    /// Every kept parameter by name, so that no two different sets make the same text: null, a
    /// boolean, or a string with its backslashes and line ends escaped; null when a value is of
    /// another type.
    /// </summary>
    private static string? KeyOf(EndpointParameters parameters)
    {
        var key = new StringBuilder(256);
        foreach (var property in Kept)
        {
            key.Append(property.Name).Append('=');
            switch (property.GetValue(parameters))
            {
                case null:
                    key.Append('-');
                    break;
                case bool b:
                    key.Append(b ? "b:1" : "b:0");
                    break;
                case string text:
                    key.Append("s:").Append(text.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\n", "\\n", StringComparison.Ordinal));
                    break;
                default:
                    return null;
            }

            key.Append('\n');
        }

        return key.ToString();
    }
}

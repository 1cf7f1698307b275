using System.Collections.Immutable;

namespace BtwBackup.Config;

/// <summary>
/// btw-backup.conf's <c>monitoring</c> block: the healthchecks ping URL of every pass, each
/// source's own (sources.NAME.monitoring.healthchecks.url), the webhook that receives each pass's
/// summary, and how long and how often a ping is tried.
/// </summary>
public sealed record MonitoringSettings(Uri? Healthchecks, Uri? Webhook, TimeSpan Timeout, int Retries)
{
    public static readonly MonitoringSettings None = new(null, null, TimeSpan.FromSeconds(10), 2);

    /// <summary>Each source's own healthchecks URL, by source name.</summary>
    public ImmutableSortedDictionary<string, Uri> Sources { get; init; } = ImmutableSortedDictionary<string, Uri>.Empty;

    public bool Any => Healthchecks is not null || Webhook is not null || !Sources.IsEmpty;

    /// <summary>By value, the sources' checks included (a reload that changes none keeps the notifier).</summary>
    public bool Equals(MonitoringSettings? other) =>
        other is not null && Healthchecks == other.Healthchecks && Webhook == other.Webhook && Timeout == other.Timeout && Retries == other.Retries
        && Sources.SequenceEqual(other.Sources);

    public override int GetHashCode() => HashCode.Combine(Healthchecks, Webhook, Timeout, Retries, Sources.Count);

    /// <summary>
    /// An absolute http or https URL without user information (a password in a URL would land in
    /// the log with the first failed ping): else one line naming the key.
    /// </summary>
    public static Uri? ReadUrl(string? text, string where)
    {
        if (text is null)
            return null;
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || uri.Scheme is not ("http" or "https") || uri.Host.Length == 0)
            throw new ConfigException($"{where} must be an http or https URL, not '{Protocol.TerminalText.Printable(text.Length > 80 ? text[..80] + "..." : text)}'");
        if (uri.UserInfo.Length > 0)
            throw new ConfigException($"{where}: a URL with a user name or password is refused (it would be written to the log); use a URL whose path holds the secret, as healthchecks' does");
        return uri;
    }

    /// <summary>What a log line may say of a URL: its scheme and host, never its path (healthchecks' holds the check's secret).</summary>
    public static string Shown(Uri uri) => $"{uri.Scheme}://{uri.Authority}/...";
}

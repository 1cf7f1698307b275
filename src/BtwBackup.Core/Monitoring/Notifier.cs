using System.Collections.Immutable;
using Akka.Actor;
using Akka.Event;
using BtwBackup.Actors;
using BtwBackup.Config;
using BtwBackup.Protocol;

namespace BtwBackup.Monitoring;

/// <summary>A pass began (the healthchecks' /start).</summary>
public sealed record PassBegan : IMessage;

/// <summary>A pass ended: its summary, or (null) the lines of why it ended without one.</summary>
public sealed record PassOver(PassSummary? Summary, ImmutableList<string> Failures) : IMessage;

/// <summary>The document the webhook receives, once per finished pass.</summary>
public sealed record PassNotice(string Event, string Host, bool Ok, PassSummary? Pass, ImmutableList<string> Errors);

/// <summary>
/// Tells monitoring what happens (/user/orchestrator/notifier): healthchecks pings around every
/// pass and around each source that has its own check, and the webhook's document per pass.
/// Pings leave in tasks, in order per check (a /start never overtakes the end it precedes); one
/// that fails after its tries is a warning in the log, never a failed backup. At its stop it
/// waits a few seconds for the pings in flight (the CLI exits right after a pass).
/// </summary>
public sealed class Notifier : ReceiveActor
{
    public const string Name = "notifier";
    private static readonly TimeSpan FlushPatience = TimeSpan.FromSeconds(5);

    private readonly MonitoringSettings _settings;
    private readonly IPingSender _sender;
    private readonly string _logFile;
    private readonly string _host;
    private readonly ILoggingAdapter _log = Context.GetLogger();
    private readonly Dictionary<Uri, Task> _chains = [];
    private readonly CancellationTokenSource _stop = new();
    private DateTime _passStarted = DateTime.UtcNow;

    public Notifier(MonitoringSettings settings, IPingSender sender, string logFile, string host)
    {
        _settings = settings;
        _sender = sender;
        _logFile = logFile;
        _host = host;

        Receive<SourceStarted>(s =>
        {
            if (_settings.Sources.TryGetValue(s.Source, out var check))
                Send(check, new Ping(PingPlan.Healthchecks(check, "start"), ""));
        });
        Receive<SourceEnded>(e =>
        {
            if (!_settings.Sources.TryGetValue(e.Source, out var check))
                return;
            Send(check, e.Run.Ok
                ? new Ping(check, $"{e.Source}: {e.Run.Result}")
                : new Ping(PingPlan.Healthchecks(check, "fail"), PingPlan.FailureBody([$"{e.Source}: {e.Run.Error}"], PingPlan.LogTail(_logFile, e.Run.Finished.AddSeconds(-e.Run.Seconds), e.Source))));
        });
        Receive<PassBegan>(_ =>
        {
            _passStarted = DateTime.UtcNow;
            if (_settings.Healthchecks is { } check)
                Send(check, new Ping(PingPlan.Healthchecks(check, "start"), ""));
        });
        Receive<PassOver>(PassEnded);
    }

    public static Props Props(MonitoringSettings settings, IPingSender sender, string logFile, string host) =>
        Akka.Actor.Props.Create(() => new Notifier(settings, sender, logFile, host));

    private void PassEnded(PassOver over)
    {
        var ok = over.Summary?.Ok == true;
        if (_settings.Healthchecks is { } check)
        {
            Send(check, ok
                ? new Ping(check, "pass: " + SummaryFormat.SourceResults(over.Summary!))
                : new Ping(PingPlan.Healthchecks(check, "fail"), PingPlan.FailureBody(Failures(over), PingPlan.LogTail(_logFile, over.Summary?.Started ?? _passStarted))));
        }

        if (_settings.Webhook is { } hook)
        {
            var notice = new PassNotice("pass", _host, ok, over.Summary, [.. Failures(over).Select(ErrorReport.Bare)]);
            Send(hook, new Ping(hook, SummaryFormat.ToJson(notice), "application/json"));
        }
    }

    /// <summary>What failed in a pass, a line each: sources, prunes, destinations, or why it ended without a summary.</summary>
    public static IEnumerable<string> Failures(PassOver over) => over.Summary is not { } pass
        ? over.Failures
        : pass.Sources.Where(s => !s.Run.Ok).Select(s => $"{s.Name}: {s.Run.Error}")
            .Concat(pass.Pruned.Where(p => p.Error is not null).Select(p => $"prune {p.Dst}: {p.Error}"))
            .Concat(pass.Destinations.SelectMany(d => d.Failures));

    private void Send(Uri check, Ping ping)
    {
        var log = _log;
        var sender = _sender;
        var cancel = _stop.Token;
        var previous = _chains.GetValueOrDefault(check) ?? Task.CompletedTask;
        _chains[check] = previous.ContinueWith(_ => sender.SendAsync(ping, cancel), TaskScheduler.Default).Unwrap().ContinueWith(t =>
        {
            if (t.Exception?.InnerException is { } e)
                log.Warning("monitoring: a ping to {0} failed (the backups are not affected): {1}", MonitoringSettings.Shown(ping.Url), e.Message);
            else if (t.IsCanceled)
                log.Warning("monitoring: a ping to {0} was not sent: btw-backup stopped before it could be", MonitoringSettings.Shown(ping.Url));
        }, TaskScheduler.Default);
    }

    protected override void PostStop()
    {
        Task.WaitAll([.. _chains.Values], FlushPatience);
        _stop.Cancel();
        _stop.Dispose();
        base.PostStop();
    }
}

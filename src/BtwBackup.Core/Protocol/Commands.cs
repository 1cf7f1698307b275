using System.Collections.Immutable;
using BtwBackup.Config;
using BtwBackup.Platform;
using System.Text.Json.Serialization;
using Akka.Actor;

namespace BtwBackup.Protocol;

/// <summary>Exit codes of the CLI, documented in the README.</summary>
public enum ExitCode
{
    Ok = 0,

    /// <summary>A runtime or configuration error: the backup (or command) did not happen.</summary>
    Error = 1,

    /// <summary>A usage error: the command line is wrong; a usage line says what is missing.</summary>
    Usage = 2,
}

/// <summary>
/// A command of the command line, as the Orchestrator receives it, in-process or from the CLI
/// over remoting. The names below are the wire names: stable, whatever the classes are called.
/// </summary>
[JsonPolymorphic(TypeDiscriminatorPropertyName = "command")]
[JsonDerivedType(typeof(InitFileTree), "fs-init")]
[JsonDerivedType(typeof(BackupFileTree), "fs")]
[JsonDerivedType(typeof(ListBackups), "list")]
[JsonDerivedType(typeof(BackupDatabase), "db")]
[JsonDerivedType(typeof(SyncNow), "sync")]
[JsonDerivedType(typeof(InspectSyncState), "sync-state")]
[JsonDerivedType(typeof(RunPass), "run")]
[JsonDerivedType(typeof(ShowStatus), "status")]
[JsonDerivedType(typeof(RestoreBackup), "restore")]
[JsonDerivedType(typeof(VerifyBackups), "verify")]
[JsonDerivedType(typeof(PruneSeries), "prune")]
public abstract record CliCommand : IMessage;

public sealed record InitFileTree(string Source, string Name, SourceType Type) : CliCommand;

public sealed record BackupFileTree(string Source, string Dst, Ownership? Owner) : CliCommand;

public sealed record ListBackups(string Dst, bool Retention = false) : CliCommand;

/// <summary><c>db DB DST</c>, or with <paramref name="Database"/> null <c>db -g DST</c>.</summary>
public sealed record BackupDatabase(string? Database, string Dst, Ownership? Owner) : CliCommand;

/// <summary><c>sync</c> (what is pending) or <c>sync --full</c> (the whole root first); <c>--allow-deletes</c>: past the deletion limits.</summary>
public sealed record SyncNow(bool Full, bool AllowDeletes = false) : CliCommand;

public enum SyncStateAction
{
    List,
    Reset,
    History,
}

/// <summary><c>sync-state --list | --reset | --history [--since TIME] [--host H]</c>; <paramref name="Host"/>: another host's, read from the shared journal.</summary>
public sealed record InspectSyncState(SyncStateAction Action, DateTime? Since, string? Host = null) : CliCommand;

/// <summary><c>run [SOURCE...]</c>: one pass over the configured sources (all when none is named), then their syncs.</summary>
public sealed record RunPass(ImmutableList<string> Sources, bool Json) : CliCommand;

/// <summary><c>status [--json]</c>, or <c>status --history [SOURCE] [--since TIME] [--json]</c>.</summary>
public sealed record ShowStatus(bool Json) : CliCommand
{
    /// <summary>--history: the runs kept (of <see cref="Name"/>, a source or a destination, when set) instead of the last results.</summary>
    public bool History { get; init; }

    public string? Name { get; init; }

    public DateTime? Since { get; init; }
}

/// <summary><c>restore [--at TIME] [--from DESTINATION] [--database NAME] [--force] DST [TARGET]</c>; TARGET absolute.</summary>
public sealed record RestoreBackup(string Dst, string? Target, string? At, string? From, string? Database, bool Force) : CliCommand
{
    /// <summary>--identity FILE (absolute): the age identity that decrypts what --from fetches from an encrypted destination.</summary>
    public string? Identity { get; init; }
}

/// <summary><c>verify [--json] [DST...]</c>.</summary>
public sealed record VerifyBackups(ImmutableList<string> Dsts, bool Json) : CliCommand
{
    /// <summary>--deep: every object is read back (and decrypted with <see cref="Identity"/>, an absolute path) and compared with root by content.</summary>
    public bool Deep { get; init; }

    public string? Identity { get; init; }
}

/// <summary><c>prune [--dry-run] [--json] [DST...]</c>: removes what the series' retention policies do not keep (none given: every configured source with a policy).</summary>
public sealed record PruneSeries(ImmutableList<string> Dsts, bool DryRun, bool Json) : CliCommand;

/// <summary>Progress lines as messages: safe from any thread, no actor context captured.</summary>
public sealed class ActorProgress(IActorRef target, string source) : IProgress<string>
{
    public static IProgress<string>? To(IActorRef? target, string source) => target is null ? null : new ActorProgress(target, source);

    public void Report(string value) => target.Tell(new ProgressReport(source, value));
}

/// <summary>Asks the Orchestrator to run a command; progress lines go to <paramref name="ProgressTo"/> when set.</summary>
public sealed record ExecuteCommand(CliCommand Command, IActorRef? ProgressTo) : IMessage;

/// <summary>
/// A command's answer, the same whether it ran in-process or in a daemon: its exit code, lines
/// to print as they are (listings, one-line results, errors), and for the commands that report
/// (run, status, verify, prune, sync-state --list) the <see cref="Protocol.Report"/> the CLI
/// renders as text or JSON.
/// </summary>
public sealed record CommandReply(ExitCode ExitCode, ImmutableList<string> Stdout, ImmutableList<string> Stderr) : IMessage
{
    public Report? Report { get; init; }

    public static CommandReply Ok(params string[] stdout) => new(ExitCode.Ok, [.. stdout], []);

    public static CommandReply Failed(IEnumerable<string> stderr) => new(ExitCode.Error, [], [.. stderr]);

    /// <summary>A report, with the exit code its findings give and lines of errors beside it.</summary>
    public static CommandReply Of(Report report, bool ok, IEnumerable<string>? stderr = null) =>
        new(ok ? ExitCode.Ok : ExitCode.Error, [], [.. stderr ?? []]) { Report = report };
}

/// <summary>A line about work in progress, for a terminal.</summary>
public sealed record ProgressReport(string Source, string Message) : IMessage;

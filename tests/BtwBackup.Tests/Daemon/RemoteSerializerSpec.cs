using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Config;
using BtwBackup.Daemon;
using BtwBackup.Platform;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Daemon;

public sealed class RemoteSerializerSpec : TestKit
{
    private readonly RemoteSerializer _serializer;

    public RemoteSerializerSpec() => _serializer = new RemoteSerializer((ExtendedActorSystem)Sys);

    private object RoundTrip(object message) =>
        _serializer.FromBinary(_serializer.ToBinary(message), _serializer.Manifest(message));

    public static TheoryData<CliCommand> Commands() =>
    [
        new InitFileTree("/srv/www", "www", SourceType.Tar),
        new BackupFileTree("/srv/www", "www", new Ownership(1000, Ownership.Unchanged)),
        new BackupFileTree("/srv/www", "www", null),
        new ListBackups("db/shop"),
        new BackupDatabase("shop", "db/shop", null),
        new BackupDatabase(null, "db/global", null),
        new SyncNow(Full: true),
        new InspectSyncState(SyncStateAction.History, new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc)),
        new RunPass(["www", "shop"], Json: true),
        new ShowStatus(Json: false),
    ];

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_command_crosses_the_wire_unchanged(CliCommand command)
    {
        var progress = CreateTestProbe().Ref;
        var back = Assert.IsType<DaemonRequest>(RoundTrip(new DaemonRequest("s3cret", command, progress)));
        Assert.Equal(("s3cret", progress), (back.Token, back.ProgressTo));
        // Records compare lists by reference: compare what they print instead.
        Assert.Equal(Describe(command), Describe(back.Command));
    }

    [Fact]
    public void Replies_and_progress_cross_unchanged_and_the_token_never_shows_in_a_log_line()
    {
        var reply = Assert.IsType<CommandReply>(RoundTrip(new CommandReply(ExitCode.Error, ["out"], ["err 1", "err 2"])));
        Assert.Equal(ExitCode.Error, reply.ExitCode);
        Assert.Equal(["out"], reply.Stdout);
        Assert.Equal(["err 1", "err 2"], reply.Stderr);
        Assert.Equal(new ProgressReport("www", "tar: 10%"), RoundTrip(new ProgressReport("www", "tar: 10%")));
        Assert.DoesNotContain("s3cret", new DaemonRequest("s3cret", new ShowStatus(false), null).ToString(), StringComparison.Ordinal);
    }

    [Fact]
    public void The_wire_names_no_clr_type()
    {
        var bytes = _serializer.ToBinary(new DaemonRequest("t", new RunPass(["a"], false), null));
        var json = System.Text.Encoding.UTF8.GetString(bytes);
        Assert.Contains("\"command\":\"run\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("BtwBackup", json, StringComparison.Ordinal);
    }

    private static string Describe(CliCommand c) => c switch
    {
        RunPass r => $"run {string.Join(",", r.Sources)} {r.Json}",
        _ => c.ToString(),
    };
}

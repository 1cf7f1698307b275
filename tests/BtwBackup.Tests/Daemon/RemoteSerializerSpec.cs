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
        new SyncNow(Full: false, AllowDeletes: true),
        new InspectSyncState(SyncStateAction.History, new DateTime(2026, 1, 2, 3, 4, 5, DateTimeKind.Utc)),
        new RunPass(["www", "shop"], Json: true),
        new ShowStatus(Json: false),
    ];

    [Theory]
    [MemberData(nameof(Commands))]
    public void Every_command_crosses_the_wire_unchanged(CliCommand command)
    {
        var text = RemoteSerializer.CommandText(command);
        var request = new DaemonRequest(new string('c', 64), new string('a', 64), true, "c2VhbGVk");
        Assert.Equal(request, RoundTrip(request));
        // Records compare lists by reference: compare what they print instead.
        Assert.Equal(Describe(command), Describe(RemoteSerializer.ParseCommand(text)!));
    }

    [Fact]
    public void Handshake_replies_and_progress_cross_unchanged()
    {
        Assert.Equal(new Hello("n1"), RoundTrip(new Hello("n1")));
        Assert.Equal(new Challenge("n1", "n2", "p"), RoundTrip(new Challenge("n1", "n2", "p")));
        var text = RemoteSerializer.ReplyText(new CommandReply(ExitCode.Error, ["out"], ["err 1", "err 2"]));
        Assert.Equal(new SealedReply("n2", 1, 3, "c2VhbGVk"), RoundTrip(new SealedReply("n2", 1, 3, "c2VhbGVk")));
        Assert.Equal(new SealedProgress("n2", 7, "c2VhbGVk"), RoundTrip(new SealedProgress("n2", 7, "c2VhbGVk")));
        var reply = RemoteSerializer.ParseReply(text)!;
        Assert.Equal(ExitCode.Error, reply.ExitCode);
        Assert.Equal(["out"], reply.Stdout);
        Assert.Equal(["err 1", "err 2"], reply.Stderr);
        Assert.Equal(new ProgressReport("www", "tar: 10%"), RemoteSerializer.ParseProgress(RemoteSerializer.ProgressText(new ProgressReport("www", "tar: 10%"))));
    }

    [Fact]
    public void The_wire_names_no_clr_type_and_builds_none()
    {
        var json = RemoteSerializer.CommandText(new RunPass(["a"], false));
        Assert.Contains("\"command\":\"run\"", json, StringComparison.Ordinal);
        Assert.DoesNotContain("BtwBackup", json, StringComparison.Ordinal);
        // A command the closed list does not name, or a CLR type name, is not a command.
        Assert.Null(RemoteSerializer.ParseCommand("""{"command":"rm-rf","path":"/"}"""));
        Assert.Null(RemoteSerializer.ParseCommand("""{"$type":"BtwBackup.Protocol.InitFileTree, BtwBackup.Core","Source":"/","Name":"x","Type":0}"""));
        Assert.Null(RemoteSerializer.ParseCommand("not json"));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => _serializer.FromBinary("{"u8.ToArray(), "request"));
        Assert.Throws<System.Runtime.Serialization.SerializationException>(() => _serializer.FromBinary("{}"u8.ToArray(), "BtwBackup.Protocol.ExecuteCommand, BtwBackup.Core"));
    }

    private static string Describe(CliCommand c) => c switch
    {
        RunPass r => $"run {string.Join(",", r.Sources)} {r.Json}",
        _ => c.ToString(),
    };
}

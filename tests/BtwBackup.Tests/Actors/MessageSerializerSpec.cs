using System.Collections.Immutable;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Sync;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>btw-backup's messages through MessageSerializer and back, equal; and what it refuses to build.</summary>
public sealed class MessageSerializerSpec() : TestKit(SerializedMessages.Config)
{
    private object RoundTrip(object message)
    {
        var serializer = (Akka.Serialization.SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(message);
        Assert.IsType<MessageSerializer>(serializer);
        return serializer.FromBinary(serializer.ToBinary(message), serializer.Manifest(message));
    }

    [Fact]
    public void Commands_jobs_replies_and_references_come_back_equal()
    {
        var job = new DatabaseJob(new DatabaseTarget("shop", new PgConnection("/run/pg", 5433, "backup"), SeriesPolicy.Default), new SeriesLocation("/b", "db/shop"), null);
        var messages = new IMessage[]
        {
            new ExecuteCommand(new RunPass(["a", "b"], Json: true), TestActor),
            new ExecuteCommand(new InitFileTree("/srv/www", "www", SourceType.Tar), null),
            CommandReply.Failed(["btw-backup: no"]),
            new StartBackup(7, job, null, TestActor),
            new AskAll(3, new AskSync([new PendingPath("www", Sync: true)], AllowDeletes: false), TimeSpan.FromSeconds(2)),
            new Drain(),
            // Between the nodes of a cluster, and to the director.
            new HostPass(["www"], new DateTime(2026, 12, 4, 2, 30, 0, DateTimeKind.Utc)),
            new LastScheduled(new DateTime(2026, 12, 4, 1, 0, 0, DateTimeKind.Utc), null),
            new ScheduleChanged(new BtwBackup.Config.DaemonSettings("127.0.0.1", 4719, Cronos.CronExpression.Parse("30 2 * * *"), "30 2 * * *")),
            new ScheduleChanged(new BtwBackup.Config.DaemonSettings("127.0.0.1", 4719, Cronos.CronExpression.Parse("*/2 * * * * *", Cronos.CronFormat.IncludeSeconds), "*/2 * * * * *")),
            new ExecuteCommand(new InspectSyncState(SyncStateAction.List, null, "db2"), null),
        };
        // (Records compare their immutable lists by reference: the bytes say whether every field came back.)
        var serializer = Sys.Serialization.FindSerializerFor(messages[0]);
        foreach (var message in messages)
        {
            var copy = RoundTrip(message);
            Assert.Equal(message.GetType(), copy.GetType());
            Assert.Equal(System.Text.Encoding.UTF8.GetString(serializer.ToBinary(message)), System.Text.Encoding.UTF8.GetString(serializer.ToBinary(copy)));
        }

        Assert.Equal(TestActor, ((ExecuteCommand)RoundTrip(messages[0])).ProgressTo);
        Assert.Equal(job.Target.Connection, ((StartBackup)RoundTrip(messages[3])).Job is DatabaseJob d ? d.Target.Connection : null);

        var answered = new AllAnswered(1, [new PendingRecorded(5, "offsite"), new ResetDone(6, "second", null)],
            ImmutableSortedDictionary<string, string>.Empty.Add("third", "did not answer"), ImmutableSortedDictionary<string, int>.Empty.Add("third", 2));
        var back = Assert.IsType<AllAnswered>(RoundTrip(answered));
        Assert.Equal(answered.Replies, back.Replies.AsEnumerable());
        Assert.Equal(answered.Silent, back.Silent);
        Assert.Equal(answered.Restarts, back.Restarts);
    }

    [Fact]
    public void A_manifest_or_a_field_naming_a_type_that_is_not_a_message_is_refused()
    {
        var serializer = (Akka.Serialization.SerializerWithStringManifest)Sys.Serialization.FindSerializerFor(new Drain());
        var e = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary("{}"u8.ToArray(), "System.IO.FileInfo"));
        Assert.Equal("not a btw-backup message type: 'System.IO.FileInfo'", e.Message);
        var step = """{"Id":1,"Ask":{"type":"BtwBackup.Config.GeneralSettings","value":{}},"Deadline":null}"""u8.ToArray();
        var field = Assert.Throws<System.Runtime.Serialization.SerializationException>(() => serializer.FromBinary(step, typeof(AskAll).FullName!));
        Assert.Equal("not a DestinationAsk: 'BtwBackup.Config.GeneralSettings'", field.Message);
    }

    /// <summary>An actor that would hold a closure: its creator cannot cross to another host.</summary>
    private sealed class HoldsAClosure(Func<int> closure) : ReceiveActor
    {
        public Func<int> Closure { get; } = closure;
    }

    [Fact]
    public void An_actor_whose_arguments_are_not_data_is_refused_unless_it_is_declared_local_to_its_host()
    {
        Assert.True(Sys.Settings.SerializeAllCreators);
        var seven = 7;
        var props = Props.Create(() => new HoldsAClosure(() => seven));

        Assert.ThrowsAny<System.Runtime.Serialization.SerializationException>(() => Sys.ActorOf(props));
        Assert.NotNull(Sys.ActorOf(BtwBackup.Hosting.HostLocal.OnThisHost(props)));
        // The actors that carry only data need no such declaration.
        Assert.NotNull(Sys.ActorOf(SyncStateQuery.Props(null, reset: false, TestActor)));
        ExpectMsg<CommandReply>();
    }
}

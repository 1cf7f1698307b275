using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Actors;

public sealed class SourceActorSpec() : TestKit(SerializedMessages.Config)
{
    private static FileTreeJob Job(string source) =>
        new(new WorkingFolder("/cfg/x.abc", source, SourceType.Rdiff, SeriesPolicy.Default), new SeriesLocation("/root", "dst"), null);

    [Fact]
    public void Answers_status_while_a_backup_runs_and_queues_further_requests()
    {
        var gate = new TaskCompletionSource<BackupOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var procedure = new FakeProcedure((_, n, _) => n == 1 ? gate.Task : Task.FromResult(FakeProcedure.Stored("second")));
        var source = Sys.ActorOf(SourceActor.Props("www", procedure));

        source.Tell(new StartBackup(1, Job("/srv/www"), TestActor));
        source.Tell(new StartBackup(2, Job("/srv/www"), TestActor));
        source.Tell(new GetSourceStatus());
        // The mailbox is free while the first backup runs: the status comes back at once.
        Assert.Equal("working on /srv/www", ExpectMsg<ProgressReport>(p => p.Source == "www").Message);
        Assert.Equal(new SourceStatus("www", Busy: true), ExpectMsg<SourceStatus>());
        Assert.Equal(1, procedure.Calls("/srv/www"));

        gate.SetResult(FakeProcedure.Stored("first"));
        Assert.Equal("first", ExpectMsg<BackupCompleted>(c => c.JobId == 1).Outcome.Name);
        ExpectMsg<ProgressReport>();
        Assert.Equal("second", ExpectMsg<BackupCompleted>(c => c.JobId == 2).Outcome.Name);
        source.Tell(new GetSourceStatus());
        Assert.False(ExpectMsg<SourceStatus>().Busy);
    }

    [Fact]
    public void A_failed_backup_is_reported_with_its_reason_and_the_actor_keeps_serving()
    {
        var procedure = new FakeProcedure((_, n, _) => n == 1
            ? Task.FromException<BackupOutcome>(new BackupException("cannot read the source /srv/www: no such directory"))
            : Task.FromResult(FakeProcedure.Stored("ok")));
        var source = Sys.ActorOf(SourceActor.Props("www", procedure));

        source.Tell(new StartBackup(1, Job("/srv/www"), null));
        var failed = ExpectMsg<BackupFailed>();
        Assert.Equal(1, failed.JobId);
        Assert.Equal(["btw-backup: cannot read the source /srv/www: no such directory"], failed.ErrorLines);

        source.Tell(new StartBackup(2, Job("/srv/www"), null));
        Assert.Equal(2, ExpectMsg<BackupCompleted>().JobId);
    }

    [Fact]
    public async Task Stopping_the_actor_cancels_the_work_in_flight()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var procedure = new FakeProcedure(async (_, _, ct) =>
        {
            await using var _ = ct.Register(() => cancelled.TrySetResult());
            await Task.Delay(Timeout.Infinite, ct);
            return FakeProcedure.Stored("never");
        });
        var source = Sys.ActorOf(SourceActor.Props("www", procedure));
        source.Tell(new StartBackup(1, Job("/srv/www"), null));
        AwaitCondition(() => procedure.Calls("/srv/www") == 1);
        Sys.Stop(source);
        await cancelled.Task.WaitAsync(TimeSpan.FromSeconds(5));
    }
}

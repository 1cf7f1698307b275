using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Config;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>The Sources actor under the test actor (its parent), over SourceActors that run a fake procedure.</summary>
public sealed class SourcesSpec() : TestKit(SerializedMessages.Config)
{
    private static RunJob Job(long id, string database) =>
        new(database, new StartBackup(id, new DatabaseJob(new DatabaseTarget(database, PgConnection.Default, SeriesPolicy.Default), new SeriesLocation("/b", "db/" + database), null), null));

    private IActorRef Sources(FakeProcedure procedure, TimeSpan backoff) =>
        ChildActorOf(BtwBackup.Actors.Sources.Props(name => SourceActor.Props(name, procedure), backoff));

    [Fact]
    public void A_source_that_failed_waits_its_backoff_and_its_sibling_does_not()
    {
        var starts = new System.Collections.Concurrent.ConcurrentDictionary<string, List<DateTime>>();
        var procedure = new FakeProcedure((job, n, _) =>
        {
            starts.GetOrAdd(job.Subject, _ => []).Add(DateTime.UtcNow);
            return job.Subject == "database a" && n == 1
                ? Task.FromException<BackupOutcome>(new BackupException("the disk is full"))
                : Task.FromResult(FakeProcedure.Stored("x"));
        });
        // A backoff long enough that a stalled test host (a full suite on 2 cores) does not let it end before b's job.
        var sources = Sources(procedure, TimeSpan.FromSeconds(3));

        sources.Tell(Job(1, "a"));
        var failed = ExpectMsg<BackupFailed>(TimeSpan.FromSeconds(5));
        Assert.Equal((1L, "a", "btw-backup: the disk is full"), (failed.JobId, failed.Source, failed.ErrorLines.Single()));
        sources.Tell(Job(2, "a"));
        sources.Tell(Job(3, "b"));

        Assert.Equal(3, ExpectMsg<BackupCompleted>(TimeSpan.FromSeconds(5)).JobId);
        Assert.Equal(2, ExpectMsg<BackupCompleted>(TimeSpan.FromSeconds(5)).JobId);
        Assert.True(starts["database a"][1] - starts["database a"][0] >= TimeSpan.FromMilliseconds(2900), "a's second backup started before its backoff");
    }

    [Fact]
    public void Cancelled_it_answers_the_job_held_by_a_backoff_and_every_later_one_as_interrupted_and_starts_none()
    {
        var procedure = new FakeProcedure(async (job, n, ct) =>
        {
            if (job.Subject == "database a")
                throw new BackupException("the disk is full");
            await Task.Delay(Timeout.Infinite, ct);
            return FakeProcedure.Stored("never");
        });
        var sources = Sources(procedure, TimeSpan.FromSeconds(1));
        sources.Tell(Job(1, "a"));
        ExpectMsg<BackupFailed>(TimeSpan.FromSeconds(5));
        sources.Tell(Job(2, "a"));
        sources.Tell(Job(3, "b"));
        AwaitCondition(() => procedure.Calls("database b") == 1);

        sources.Tell(new CancelBackup());
        var interrupted = new[] { ExpectMsg<BackupFailed>(TimeSpan.FromSeconds(5)), ExpectMsg<BackupFailed>(TimeSpan.FromSeconds(5)) };
        Assert.Equal([2L, 3L], interrupted.Select(f => f.JobId).Order());
        Assert.All(interrupted, f => Assert.Equal(["btw-backup: interrupted"], f.ErrorLines));
        sources.Tell(Job(4, "c"));
        Assert.Equal(4, ExpectMsg<BackupFailed>(TimeSpan.FromSeconds(5)).JobId);

        // Past the backoff, a's held job has not started, nor c's.
        ExpectNoMsg(TimeSpan.FromMilliseconds(1500));
        Assert.Equal((1, 1, 0), (procedure.Calls("database a"), procedure.Calls("database b"), procedure.Calls("database c")));
    }
}

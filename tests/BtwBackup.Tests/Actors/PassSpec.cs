using System.Text.Json;
using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Tools;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary><c>run</c> inside the Orchestrator: sources configured as databases, backed up by a fake procedure.</summary>
public sealed class PassSpec() : TestKit(SerializedMessages.Config), IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-pass-").FullName;

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_dir, recursive: true);
    }

    private GeneralSettings Settings(int parallelism, params string[] databases) =>
        new GeneralSettings(_dir, Path.Combine(_dir, "root"), SeriesPolicy.Default, Path.Combine(_dir, "log"), "INFO", TimeSpan.Zero, "test")
        {
            Sources = [.. databases.Select(db => (ConfiguredSource)new DatabaseSource(db, "db/" + db, new DatabaseTarget(db, PgConnection.Default, SeriesPolicy.Default)))],
            PassParallelism = parallelism,
        };

    private IActorRef Orchestrator(GeneralSettings settings, IBackupProcedure procedure, TimeSpan? backoff = null) =>
        Sys.ActorOf(BtwBackup.Actors.Orchestrator.Props(
            new OrchestratorServices(settings, procedure, new SeriesLister(new RdiffBackup(new CliWrapProcessRunner())))
            {
                StatusFile = new StatusFile(Path.Combine(_dir, StatusFile.FileName)),
                SourceBackoff = backoff ?? TimeSpan.FromSeconds(1),
            }));

    private static ExecuteCommand Run(params string[] sources) => new(new RunPass([.. sources], Json: true), null);

    private static PassSummary Summary(CommandReply reply) =>
        Assert.IsType<PassSummary>(reply.Report);

    [Fact]
    public void The_pass_completes_with_one_failing_source_and_reports_it()
    {
        var procedure = new FakeProcedure((job, _, _) => job.Subject == "database b"
            ? Task.FromException<BackupOutcome>(new BackupException("the disk is full"))
            : Task.FromResult(FakeProcedure.Stored("backup-of-" + job.Subject)));
        var orchestrator = Orchestrator(Settings(2, "a", "b", "c"), procedure);

        orchestrator.Tell(Run());
        var reply = ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10));

        Assert.Equal(ExitCode.Error, reply.ExitCode);
        Assert.Equal(["btw-backup: 1 of 3 sources failed"], BtwBackup.Cli.Rendering.Problems(reply.Report!));
        var summary = Summary(reply);
        Assert.Equal(["a:full", "b:failed", "c:full"], summary.Sources.Select(s => s.Name + ":" + s.Run.Result));
        Assert.Equal("the disk is full", summary.Sources[1].Run.Error);
        Assert.Equal("backup-of-database c", summary.Sources[2].Run.Backup);

        // status knows it too, and counts the failure as a restart of that source.
        orchestrator.Tell(new ExecuteCommand(new ShowStatus(Json: true), null));
        var status = Assert.IsType<StatusReport>(ExpectMsg<CommandReply>().Report);
        var b = Assert.Single(status.Sources, s => s.Name == "b");
        Assert.Equal((1, "the disk is full", "failed"), (b.Restarts, b.LastFailure, b.Last!.Result));
        Assert.Equal(0, Assert.Single(status.Sources, s => s.Name == "a").Restarts);
    }

    [Fact]
    public void No_more_than_parallelism_sources_run_at_once()
    {
        var running = 0;
        var most = 0;
        var gate = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var procedure = new FakeProcedure(async (_, _, ct) =>
        {
            var now = Interlocked.Increment(ref running);
            InterlockedMax(ref most, now);
            // Held until the test has seen two at once: no timing decides whether they overlap.
            await gate.Task.WaitAsync(ct);
            await Task.Delay(20, ct);
            Interlocked.Decrement(ref running);
            return FakeProcedure.Stored("x");
        });
        var orchestrator = Orchestrator(Settings(2, "a", "b", "c", "d", "e"), procedure);

        orchestrator.Tell(Run());
        AwaitCondition(() => Volatile.Read(ref running) == 2, TimeSpan.FromSeconds(10));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Assert.Equal(2, Volatile.Read(ref running));
        gate.SetResult();
        var reply = ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10));

        Assert.Equal(ExitCode.Ok, reply.ExitCode);
        Assert.Equal(5, Summary(reply).Sources.Count(s => s.Run.Result == "full"));
        Assert.Equal(2, most);
    }

    [Fact]
    public void Only_the_named_sources_run_and_an_unknown_name_is_refused()
    {
        var procedure = new FakeProcedure((_, _, _) => Task.FromResult(FakeProcedure.Stored("x")));
        var orchestrator = Orchestrator(Settings(2, "a", "b"), procedure);

        orchestrator.Tell(Run("b"));
        Assert.Equal(["b"], Summary(ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10))).Sources.Select(s => s.Name));
        Assert.Equal(0, procedure.Calls("database a"));

        orchestrator.Tell(Run("b", "zz"));
        Assert.Equal(["btw-backup: unknown source: zz (configured: a, b)"], ExpectMsg<CommandReply>().Stderr);
    }

    [Fact]
    public void A_crashed_source_is_restarted_and_its_next_job_waits_a_backoff_while_the_others_run()
    {
        var starts = new System.Collections.Concurrent.ConcurrentDictionary<string, List<DateTime>>();
        var procedure = new FakeProcedure((job, n, _) =>
        {
            starts.GetOrAdd(job.Subject, _ => []).Add(DateTime.UtcNow);
            return job.Subject == "database a" && n == 1
                ? Task.FromException<BackupOutcome>(new InvalidOperationException("crash"))
                : Task.FromResult(FakeProcedure.Stored("x"));
        });
        var backoff = TimeSpan.FromMilliseconds(800);
        var orchestrator = Orchestrator(Settings(2, "a", "b"), procedure, backoff);

        orchestrator.Tell(Run("a"));
        var failedAt = DateTime.UtcNow;
        Assert.Equal(ExitCode.Error, ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10)).ExitCode);

        // Both asked again at once: b starts straight away, a only after its backoff.
        orchestrator.Tell(Run());
        var summary = Summary(ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10)));
        Assert.All(summary.Sources, s => Assert.Equal("full", s.Run.Result));
        Assert.True(starts["database a"][1] - failedAt >= backoff - TimeSpan.FromMilliseconds(100), "a started again before its backoff");
        Assert.True(starts["database b"][0] < starts["database a"][1], "b waited for a's backoff");
    }

    [Fact]
    public void A_second_run_while_one_is_running_is_refused()
    {
        var gate = new TaskCompletionSource<BackupOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var procedure = new FakeProcedure((_, _, _) => gate.Task);
        var orchestrator = Orchestrator(Settings(2, "a"), procedure);

        var first = CreateTestProbe();
        orchestrator.Tell(Run(), first);
        AwaitCondition(() => procedure.Calls("database a") == 1);
        orchestrator.Tell(Run());
        Assert.Equal(["btw-backup: a pass is already running: wait for it (status shows its sources)"], ExpectMsg<CommandReply>().Stderr);

        gate.SetResult(FakeProcedure.Stored("x"));
        Assert.Equal(ExitCode.Ok, first.ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10)).ExitCode);
    }

    [Fact]
    public void Drain_cancels_the_backups_in_flight_and_answers_once_they_ended()
    {
        var cancelled = new TaskCompletionSource(TaskCreationOptions.RunContinuationsAsynchronously);
        var procedure = new FakeProcedure(async (_, _, ct) =>
        {
            try
            {
                await Task.Delay(Timeout.Infinite, ct);
            }
            catch (OperationCanceledException)
            {
                cancelled.SetResult();
                throw;
            }

            return FakeProcedure.Stored("never");
        });
        var orchestrator = Orchestrator(Settings(2, "a"), procedure);
        var client = CreateTestProbe();
        orchestrator.Tell(Run(), client);
        AwaitCondition(() => procedure.Calls("database a") == 1);

        orchestrator.Tell(new Drain());
        ExpectMsg<Drained>(TimeSpan.FromSeconds(10));
        Assert.True(cancelled.Task.IsCompleted);
        var summary = Summary(client.ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10)));
        Assert.Equal(("failed", "interrupted"), (summary.Sources[0].Run.Result, summary.Sources[0].Run.Error));

        orchestrator.Tell(Run());
        Assert.Equal(["btw-backup: the daemon is shutting down: try again when it is back"], ExpectMsg<CommandReply>().Stderr);
    }

    [Fact]
    public void Drain_starts_no_new_backup_neither_a_queued_source_of_the_pass_nor_a_job_held_back_by_backoff()
    {
        var procedure = new FakeProcedure(async (job, _, ct) =>
        {
            if (job.Subject == "database d")
                throw new BackupException("the disk is full");
            await Task.Delay(Timeout.Infinite, ct);
            return FakeProcedure.Stored("never");
        });
        var orchestrator = Orchestrator(Settings(1, "a", "b", "c", "d"), procedure, backoff: TimeSpan.FromSeconds(30));

        // d failed (a result: its actor goes on), so its next job waits 30 s for its backoff.
        orchestrator.Tell(new ExecuteCommand(new BackupDatabase("d", "db/d", null), null));
        Assert.Equal(["btw-backup: the disk is full"], ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10)).Stderr);
        var held = CreateTestProbe();
        orchestrator.Tell(new ExecuteCommand(new BackupDatabase("d", "db/d", null), null), held);

        // A pass of one source at a time: a runs, b and c wait their turn.
        var client = CreateTestProbe();
        orchestrator.Tell(Run("a", "b", "c"), client);
        AwaitCondition(() => procedure.Calls("database a") == 1);

        orchestrator.Tell(new Drain());
        ExpectMsg<Drained>(TimeSpan.FromSeconds(10));
        Assert.Equal(["btw-backup: interrupted"], held.ExpectMsg<CommandReply>(TimeSpan.FromSeconds(5)).Stderr);
        var summary = Summary(client.ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10)));
        Assert.Equal(["a:interrupted", "b:interrupted", "c:interrupted"], summary.Sources.Select(s => s.Name + ":" + s.Run.Error));
        Assert.Equal((1, 0, 0, 1), (procedure.Calls("database a"), procedure.Calls("database b"), procedure.Calls("database c"), procedure.Calls("database d")));
    }

    [Fact]
    public void The_daemon_runs_passes_on_its_schedule_and_status_shows_the_next_one()
    {
        var procedure = new FakeProcedure((_, _, _) => Task.FromResult(FakeProcedure.Stored("x")));
        var everySecond = Cronos.CronExpression.Parse("* * * * * *", Cronos.CronFormat.IncludeSeconds);
        var settings = Settings(2, "a") with { Daemon = new DaemonSettings("127.0.0.1", 1, everySecond, "* * * * * *") };
        var orchestrator = Sys.ActorOf(BtwBackup.Actors.Orchestrator.Props(
            new OrchestratorServices(settings, procedure, new SeriesLister(new RdiffBackup(new CliWrapProcessRunner())))
            {
                Daemon = new DaemonInfo(DateTime.UtcNow, 42, "127.0.0.1:1"),
            }));

        AwaitCondition(() => procedure.Calls("database a") >= 2, TimeSpan.FromSeconds(10));
        orchestrator.Tell(new ExecuteCommand(new ShowStatus(Json: true), null));
        var status = Assert.IsType<StatusReport>(ExpectMsg<CommandReply>().Report);
        Assert.True(status.Daemon.Serving);
        Assert.Equal(42, status.Daemon.Pid);
        Assert.InRange(status.Daemon.NextRun!.Value, DateTime.UtcNow.AddSeconds(-2), DateTime.UtcNow.AddSeconds(2));
        Assert.Equal("full", Assert.Single(status.Sources).Last!.Result);
    }

    /// <summary>The real rdiff-backup, whose removal of increments waits for <see cref="Open"/>: a prune held in its work.</summary>
    private sealed class GatedRunner : IProcessRunner
    {
        private readonly TaskCompletionSource _gate = new(TaskCreationOptions.RunContinuationsAsynchronously);
        private readonly CliWrapProcessRunner _real = new();

        public TaskCompletionSource Waiting { get; } = new(TaskCreationOptions.RunContinuationsAsynchronously);

        public void Open() => _gate.TrySetResult();

        public async Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            if (spec.Arguments.Contains("remove"))
            {
                Waiting.TrySetResult();
                await _gate.Task.WaitAsync(cancellationToken);
            }

            return await _real.RunAsync(spec, cancellationToken);
        }
    }

    [Fact]
    public async Task With_after_pass_a_pass_prunes_its_series_before_its_sync_and_no_backup_or_prune_starts_meanwhile()
    {
        // db/a: two archives, then a full-backup folder with two points (real rdiff-backup); keep-last 1.
        var series = Directory.CreateDirectory(Path.Combine(_dir, "root", "db", "a")).FullName;
        File.WriteAllText(Path.Combine(series, "2026-11-01T02:00:00.tbz"), "one");
        File.WriteAllText(Path.Combine(series, "2026-11-02T02:00:00.tbz"), "two");
        var src = Directory.CreateDirectory(Path.Combine(_dir, "src")).FullName;
        foreach (var (day, at) in new[] { (3, 1_793_671_200L), (4, 1_793_757_600L) })
        {
            File.WriteAllText(Path.Combine(src, "a.dump"), "dump of day " + day);
            File.SetLastWriteTimeUtc(Path.Combine(src, "a.dump"), DateTime.UnixEpoch.AddSeconds(at - 60));
            var made = await new CliWrapProcessRunner().RunAsync(new ProcessSpec("rdiff-backup",
                ["--current-time", at.ToString(System.Globalization.CultureInfo.InvariantCulture), "backup", src, Path.Combine(series, "2026-11-03T02:00:00")]), CancellationToken.None);
            Assert.True(made.Succeeded, made.Stderr);
        }

        var keepLast = SeriesPolicy.Default with { Retention = new BtwBackup.Retention.RetentionPolicy(KeepLast: 1) };
        var settings = Settings(2, "a") with
        {
            Sources = [new DatabaseSource("a", "db/a", new DatabaseTarget("a", PgConnection.Default, keepLast))],
            PruneAfterPass = true,
            RetentionZone = TimeZoneInfo.Utc,
        };
        var runner = new GatedRunner();
        var procedure = new FakeProcedure((_, _, _) => Task.FromResult(FakeProcedure.Stored("x")));
        var orchestrator = Sys.ActorOf(BtwBackup.Actors.Orchestrator.Props(
            new OrchestratorServices(settings, procedure, new SeriesLister(new RdiffBackup(runner)))));

        orchestrator.Tell(Run());
        await runner.Waiting.Task.WaitAsync(TimeSpan.FromSeconds(10));
        // The prune holds root: a backup of the series, another pass and another prune are refused.
        orchestrator.Tell(new ExecuteCommand(new BackupDatabase("a", "db/a", null), null));
        Assert.Equal(["btw-backup: a prune is running: back up when it has ended; nothing was backed up"], ExpectMsg<CommandReply>().Stderr);
        orchestrator.Tell(Run());
        Assert.Equal(["btw-backup: a pass is already running: wait for it (status shows its sources)"], ExpectMsg<CommandReply>().Stderr);
        orchestrator.Tell(new ExecuteCommand(new PruneSeries([], DryRun: false, Json: false), null));
        Assert.StartsWith("btw-backup: backups are running", Assert.Single(ExpectMsg<CommandReply>().Stderr));
        Assert.Equal(1, procedure.Calls("database a"));

        runner.Open();
        var reply = ExpectMsg<CommandReply>(TimeSpan.FromSeconds(30));
        Assert.True(reply.ExitCode == ExitCode.Ok, string.Join("\n", reply.Stderr));
        Assert.Equal([new PassPrune("db/a", 3, 1, null)], Summary(reply).Pruned);
        // The folder lost its older point and is named after the one it keeps.
        Assert.Equal(["2026-11-04T02:00:00"], Directory.GetFileSystemEntries(series).Select(Path.GetFileName));

        // The prune has ended: a backup starts again.
        orchestrator.Tell(new ExecuteCommand(new BackupDatabase("a", "db/a", null), null));
        Assert.Equal(ExitCode.Ok, ExpectMsg<CommandReply>(TimeSpan.FromSeconds(10)).ExitCode);
    }

    private static void InterlockedMax(ref int target, int value)
    {
        int current;
        while ((current = Volatile.Read(ref target)) < value && Interlocked.CompareExchange(ref target, value, current) != current)
        {
        }
    }
}

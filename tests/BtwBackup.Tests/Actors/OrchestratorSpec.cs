using Akka.Actor;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Backup;
using BtwBackup.Config;
using BtwBackup.Protocol;
using BtwBackup.Tools;
using Xunit;

namespace BtwBackup.Tests.Actors;

public sealed class OrchestratorSpec : TestKit, IDisposable
{
    private readonly string _dir = Directory.CreateTempSubdirectory("btw-orch-").FullName;
    private readonly GeneralSettings _settings;

    public OrchestratorSpec()
        : base(SerializedMessages.Config)
    {
        _settings = new GeneralSettings(_dir, Path.Combine(_dir, "root"), SeriesPolicy.Default, Path.Combine(_dir, "log"), "INFO", TimeSpan.Zero, "test");
        WorkingFolders.Create(_dir, "/srv/bad", "bad", SourceType.Rdiff, SeriesPolicy.Default);
        WorkingFolders.Create(_dir, "/srv/good", "good", SourceType.Tar, SeriesPolicy.Default);
    }

    void IDisposable.Dispose()
    {
        Shutdown();
        Directory.Delete(_dir, recursive: true);
    }

    private IActorRef Orchestrator(IBackupProcedure procedure) =>
        Sys.ActorOf(BtwBackup.Actors.Orchestrator.Props(
            new OrchestratorServices(_settings, procedure, new SeriesLister(new RdiffBackup(new CliWrapProcessRunner())))));

    private static ExecuteCommand Backup(string source) => new(new BackupFileTree(source, "dst", null), null);

    [Fact]
    public void A_failing_source_is_reported_and_restarted_while_its_sibling_finishes_its_work()
    {
        var goodGate = new TaskCompletionSource<BackupOutcome>(TaskCreationOptions.RunContinuationsAsynchronously);
        var procedure = new FakeProcedure((job, n, _) => job.Subject switch
        {
            "/srv/bad" when n == 1 => Task.FromException<BackupOutcome>(new InvalidOperationException("disk on fire")),
            "/srv/bad" => Task.FromResult(FakeProcedure.Stored("bad-2")),
            _ => goodGate.Task,
        });
        var orchestrator = Orchestrator(procedure);

        var good = CreateTestProbe();
        orchestrator.Tell(Backup("/srv/good"), good);
        AwaitCondition(() => procedure.Calls("/srv/good") == 1);

        orchestrator.Tell(Backup("/srv/bad"));
        var failed = ExpectMsg<CommandReply>();
        Assert.Equal(ExitCode.Error, failed.ExitCode);
        Assert.Equal(["btw-backup: unexpected error: disk on fire (the log has the details)"], failed.Stderr);

        // The sibling's backup was running all along and is not disturbed.
        goodGate.SetResult(FakeProcedure.Stored("good-1"));
        Assert.Equal(ExitCode.Ok, good.ExpectMsg<CommandReply>().ExitCode);

        // The failed source was restarted and takes the next job.
        orchestrator.Tell(Backup("/srv/bad"));
        Assert.Equal(ExitCode.Ok, ExpectMsg<CommandReply>().ExitCode);
        Assert.Equal(2, procedure.Calls("/srv/bad"));
        Assert.Equal(1, procedure.Calls("/srv/good"));
    }

    [Fact]
    public void Tool_failures_come_back_as_the_tool_lines_then_ours()
    {
        var procedure = new FakeProcedure((_, _, _) =>
            Task.FromException<BackupOutcome>(new ToolFailedException("tar", 2, "tar: ./x: Cannot open: Permission denied\ntar: Exiting with failure status due to previous errors\n")));
        var orchestrator = Orchestrator(procedure);
        orchestrator.Tell(Backup("/srv/good"));
        var reply = ExpectMsg<CommandReply>();
        Assert.Equal(
            ["tar: ./x: Cannot open: Permission denied", "tar: Exiting with failure status due to previous errors", "btw-backup: tar exited with code: 2"],
            reply.Stderr);
    }

    [Fact]
    public void Unknown_sources_and_second_inits_are_refused_without_touching_any_source()
    {
        var procedure = new FakeProcedure((_, _, _) => Task.FromResult(FakeProcedure.Stored("x")));
        var orchestrator = Orchestrator(procedure);
        orchestrator.Tell(Backup("/srv/none"));
        Assert.Equal(["btw-backup: no working directory for: /srv/none"], ExpectMsg<CommandReply>().Stderr);
        orchestrator.Tell(new ExecuteCommand(new InitFileTree("/srv/good", "again", SourceType.Tar), null));
        Assert.Equal(["btw-backup: there is already a directory for this path"], ExpectMsg<CommandReply>().Stderr);
        Assert.Equal(0, procedure.Calls("/srv/none") + procedure.Calls("/srv/good"));
    }

    /// <summary>An Orchestrator of a cluster node whose director is <paramref name="director"/>, asked for a run: the pass the director receives.</summary>
    private (IActorRef Orchestrator, ClusterPass Pass) ClusterRun(Akka.TestKit.TestProbe director)
    {
        var orchestrator = Sys.ActorOf(BtwBackup.Actors.Orchestrator.Props(
            new OrchestratorServices(_settings, new FakeProcedure((_, _, _) => Task.FromResult(FakeProcedure.Stored("x"))), new SeriesLister(new RdiffBackup(new CliWrapProcessRunner())))
            {
                Director = director.Ref,
            }));
        orchestrator.Tell(new ExecuteCommand(new RunPass([], Json: false), null));
        return (orchestrator, director.ExpectMsg<ClusterPass>());
    }

    [Fact]
    public void A_cluster_pass_whose_director_stops_after_taking_it_ends_with_a_line_not_a_wait()
    {
        var director = CreateTestProbe();
        var (orchestrator, pass) = ClusterRun(director);
        Assert.Equal(orchestrator, pass.ReplyTo);
        director.Reply(new ClusterPassStarted(pass.Id));
        ExpectNoMsg(TimeSpan.FromMilliseconds(300));
        Sys.Stop(director.Ref);

        Assert.Equal(["btw-backup: the cluster's director stopped during the pass (its node left or died): each host's own pass went on; status on each host shows how it ended"],
            ExpectMsg<CommandReply>(TimeSpan.FromSeconds(5)).Stderr);
    }

    [Fact]
    public void A_cluster_pass_the_director_answers_goes_back_to_its_requester()
    {
        // As in a cluster: the pass goes to the director's proxy, the singleton behind it answers.
        var proxy = CreateTestProbe();
        var singleton = CreateTestProbe();
        var (orchestrator, pass) = ClusterRun(proxy);
        singleton.Send(orchestrator, new ClusterPassStarted(pass.Id));
        singleton.Send(orchestrator, new ClusterPassDone(pass.Id, CommandReply.Ok("done")));

        Assert.Equal(["done"], ExpectMsg<CommandReply>(TimeSpan.FromSeconds(5)).Stdout);
        // The singleton's node dies later: the Orchestrator takes no harm (it once died of it, a DeathPactException,
        // was restarted without its state, and every command after hung) and the next pass goes on from it.
        EventFilter.Exception<DeathPactException>().Expect(0, TimeSpan.FromSeconds(1), () => Sys.Stop(singleton.Ref));
        ExpectNoMsg(TimeSpan.FromMilliseconds(200));
        orchestrator.Tell(new ExecuteCommand(new RunPass([], Json: false), null));
        Assert.Equal(pass.Id + 1, proxy.ExpectMsg<ClusterPass>().Id);
    }
}

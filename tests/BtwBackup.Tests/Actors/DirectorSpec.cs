using Akka.Actor;
using Akka.Cluster;
using Akka.TestKit.Xunit2;
using BtwBackup.Actors;
using BtwBackup.Config;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>
/// The director on a cluster of one real node (host "solo", joined to itself): its schedule starts
/// passes over the cluster; the host's Orchestrator is a stand-in at /user/orchestrator that
/// answers each host pass when the test says.
/// </summary>
public sealed class DirectorSpec() : TestKit("""
    akka.actor.provider = cluster
    akka.remote.dot-netty.tcp { hostname = "127.0.0.1", port = 0 }
    akka.cluster.roles = ["host:solo"]
    akka.loglevel = INFO
    """)
{
    /// <summary>Stands in for a host's Orchestrator: tells the test of each host pass, and answers it when told; <paramref name="last"/>: what it says of the schedule.</summary>
    private sealed class Host : ReceiveActor
    {
        public Host(IActorRef test, LastScheduled? last = null)
        {
            var waiting = new List<IActorRef>();
            Receive<AskLastScheduled>(_ => last is not null, _ => Sender.Tell(last!));
            Receive<HostPass>(p =>
            {
                waiting.Add(Sender);
                test.Tell(p);
            });
            Receive<string>(s => s == "answer", _ =>
            {
                var at = DateTime.UtcNow;
                foreach (var w in waiting)
                    w.Tell(CommandReply.Of(new PassSummary(at, 0.1, [new PassSource("files", "tar", "files", new SourceRun("full", "x.tbz", null, at, 0.1, 10))], []), true));
                waiting.Clear();
            });
        }
    }

    private async Task<IActorRef> SoloClusterAsync(string? knownFile = null, LastScheduled? last = null)
    {
        var cluster = Cluster.Get(Sys);
        var up = new TaskCompletionSource();
        cluster.RegisterOnMemberUp(() => up.TrySetResult());
        cluster.Join(cluster.SelfAddress);
        await up.Task.WaitAsync(TimeSpan.FromSeconds(20));
        // The member-up callback and Cluster.State are fed by two subscribers: the director reads the state, so wait for it too.
        await AwaitConditionAsync(() => Task.FromResult(cluster.State.Members.Any(m => m.Address.Equals(cluster.SelfAddress) && m.Status == MemberStatus.Up)), TimeSpan.FromSeconds(20));
        Sys.ActorOf(HostGuard.Props("solo", knownFile), HostGuard.Name);
        return Sys.ActorOf(Props.Create(() => new Host(TestActor, last)), Orchestrator.Name);
    }

    private static DaemonSettings EveryTwoSeconds => new("127.0.0.1", 0,
        Cronos.CronExpression.Parse("*/2 * * * * *", Cronos.CronFormat.IncludeSeconds), "*/2 * * * * *");

    [Fact]
    public async Task Its_schedule_runs_passes_over_the_cluster_and_logs_each_hosts_result()
    {
        var host = await SoloClusterAsync();
        await EventFilter.Info(contains: "director: scheduled pass over the cluster done in ").ExpectAsync(1, async () =>
        {
            Sys.ActorOf(Director.Props(EveryTwoSeconds), Director.Name);
            Assert.Empty((await ExpectMsgAsync<HostPass>(TimeSpan.FromSeconds(5))).Sources);
            host.Tell("answer");
        }, TimeSpan.FromSeconds(5));
        // And the next one, two seconds later.
        await ExpectMsgAsync<HostPass>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_scheduled_pass_still_running_skips_the_next_one_instead_of_stacking_it()
    {
        var host = await SoloClusterAsync();
        await EventFilter.Warning(contains: "is skipped, the previous one is still running").ExpectAsync(1, async () =>
        {
            Sys.ActorOf(Director.Props(EveryTwoSeconds), Director.Name);
            await ExpectMsgAsync<HostPass>(TimeSpan.FromSeconds(5));
        }, TimeSpan.FromSeconds(5));
        await ExpectNoMsgAsync(TimeSpan.FromMilliseconds(500));
        host.Tell("answer");
        await ExpectMsgAsync<HostPass>(TimeSpan.FromSeconds(5));
    }

    [Fact]
    public async Task A_host_seen_up_before_a_restart_and_not_back_is_named_by_the_next_pass_and_every_host_seen_up_is_kept()
    {
        var dir = Directory.CreateTempSubdirectory("btw-known-").FullName;
        try
        {
            var file = Path.Combine(dir, KnownHosts.FileName);
            var seen = new DateTime(2026, 12, 1, 2, 30, 0, DateTimeKind.Utc);
            KnownHosts.Save(file, new Dictionary<string, DateTime> { ["ghost"] = seen });
            var host = await SoloClusterAsync(file);
            var director = Sys.ActorOf(Director.Props(new DaemonSettings("127.0.0.1", 0, null, null)), Director.Name);

            director.Tell(new ClusterPass(7, [], TestActor));
            await ExpectMsgAsync<ClusterPassStarted>();
            await ExpectMsgAsync<HostPass>(TimeSpan.FromSeconds(10));
            host.Tell("answer");
            var done = await ExpectMsgAsync<ClusterPassDone>(TimeSpan.FromSeconds(10));

            var summary = Assert.IsType<ClusterPassSummary>(done.Reply.Report);
            Assert.False(summary.Ok);
            Assert.Equal(["ghost", "solo"], summary.Hosts.Select(h => h.Host));
            Assert.Equal([$"not seen up since {SummaryFormat.Time(seen)}: not backed up"], summary.Hosts[0].Errors);
            // The guard saves a host once the cluster's events reach it, which may be after the pass under load.
            await AwaitAssertAsync(() => Assert.Equal(["ghost", "solo"], KnownHosts.Load(file).Keys.Order(StringComparer.Ordinal)), TimeSpan.FromSeconds(10));
            Assert.Equal(seen, KnownHosts.Load(file)["ghost"]);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public void A_known_hosts_file_that_cannot_be_read_says_what_to_do()
    {
        var dir = Directory.CreateTempSubdirectory("btw-known-").FullName;
        try
        {
            var file = Path.Combine(dir, KnownHosts.FileName);
            File.WriteAllText(file, "{ not json");
            var e = Assert.Throws<IOException>(() => KnownHosts.Load(file));
            Assert.StartsWith(file + " cannot be read (", e.Message);
            Assert.EndsWith("): fix it, or remove it (the hosts seen up are then learned again)", e.Message);
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task A_known_hosts_file_that_cannot_be_read_is_left_as_it_is_for_its_administrator_to_fix()
    {
        var dir = Directory.CreateTempSubdirectory("btw-known-").FullName;
        try
        {
            var file = Path.Combine(dir, KnownHosts.FileName);
            const string broken = "{ \"ghost\": \"2026-12-01T02:30:00Z\", oops";
            File.WriteAllText(file, broken);
            await EventFilter.Error(contains: "cannot be read").ExpectAsync(1, () => SoloClusterAsync(file), TimeSpan.FromSeconds(20));
            // The member up has been seen (a pass would run): the file is still the administrator's.
            await Task.Delay(1000);
            Assert.Equal(broken, File.ReadAllText(file));
        }
        finally
        {
            Directory.Delete(dir, recursive: true);
        }
    }

    [Fact]
    public async Task Without_a_schedule_it_runs_only_the_passes_it_is_asked_for()
    {
        await SoloClusterAsync();
        Sys.ActorOf(Director.Props(new DaemonSettings("127.0.0.1", 0, null, null)), Director.Name);
        await ExpectNoMsgAsync(TimeSpan.FromSeconds(3));
    }

    /// <summary>A daily schedule whose time was two minutes ago (in the machine's zone, as the schedule is read), and that time.</summary>
    private static (DaemonSettings Daemon, DateTime At) DailyTwoMinutesAgo()
    {
        var local = TimeZoneInfo.ConvertTimeFromUtc(DateTime.UtcNow.AddMinutes(-2), TimeZoneInfo.Local);
        var text = $"{local.Minute} {local.Hour} * * *";
        var daemon = new DaemonSettings("127.0.0.1", 0, Cronos.CronExpression.Parse(text), text);
        var at = daemon.NextRun(DateTime.UtcNow.AddMinutes(-3))!.Value;
        return (daemon, at);
    }

    [Fact]
    public async Task A_scheduled_time_that_fell_while_the_director_moved_is_made_up_at_once()
    {
        var (daemon, at) = DailyTwoMinutesAgo();
        // A host up for an hour that never got the pass of that time: the move ate it.
        await SoloClusterAsync(last: new LastScheduled(DateTime.UtcNow.AddHours(-1), at.AddDays(-1)));
        await EventFilter.Warning(contains: $"the scheduled pass of {SummaryFormat.Time(at)} fell while the director moved to this node: it runs now").ExpectAsync(1, async () =>
        {
            Sys.ActorOf(Director.Props(daemon), Director.Name);
            var pass = await ExpectMsgAsync<HostPass>(TimeSpan.FromSeconds(15));
            Assert.Equal(at, pass.ScheduledFor);
        }, TimeSpan.FromSeconds(15));
    }

    [Theory]
    [InlineData(false)]
    [InlineData(true)]
    public async Task A_scheduled_time_a_host_got_or_that_fell_before_any_host_was_up_is_not_run_again(bool ran)
    {
        var (daemon, at) = DailyTwoMinutesAgo();
        await SoloClusterAsync(last: ran ? new LastScheduled(DateTime.UtcNow.AddHours(-1), at) : new LastScheduled(DateTime.UtcNow.AddMinutes(-1), null));
        Sys.ActorOf(Director.Props(daemon), Director.Name);
        await ExpectNoMsgAsync(TimeSpan.FromSeconds(7));
    }

    /// <summary>SIGHUP on the director's node: its Orchestrator passes the reloaded schedule to the director, which takes it at once.</summary>
    [Fact]
    public async Task A_schedule_reloaded_on_the_directors_node_is_the_directors_from_then_on()
    {
        await SoloClusterAsync();
        DirectorSingleton.Start(Sys, new DaemonSettings("127.0.0.1", 0, null, null));
        await ExpectNoMsgAsync(TimeSpan.FromSeconds(3));

        // As the Orchestrator sends it, by the path it uses.
        var relay = Sys.ActorOf(Props.Create(() => new Relay()));
        await AwaitAssertAsync(async () =>
        {
            relay.Tell(new ScheduleChanged(EveryTwoSeconds));
            Assert.Empty((await ExpectMsgAsync<HostPass>(TimeSpan.FromSeconds(4))).Sources);
        }, TimeSpan.FromSeconds(20));
    }

    private sealed class Relay : ReceiveActor
    {
        public Relay() => Receive<ScheduleChanged>(c => DirectorSingleton.OnThisNode(Context).Tell(c));
    }
}

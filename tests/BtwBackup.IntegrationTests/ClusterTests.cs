using System.Diagnostics;
using System.Text.Json;
using Xunit;
using Xunit.Abstractions;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// Several real `serve` processes on 127.0.0.1, each with its own configuration directory and
/// root, forming one cluster; each mirrors its root to the S3 test server under a prefix of its
/// own, and all keep their sync states in one PostgreSQL journal.
/// </summary>
[Collection(PostgresAndS3Collection.Name)]
public sealed class ClusterTests(PostgresCluster pg, S3TestServer s3, ITestOutputHelper output) : IDisposable
{
    private readonly List<Sandbox> _boxes = [];
    private readonly string _run = "cluster-" + Guid.NewGuid().ToString("N")[..8];

    /// <summary>Where host H's root lands on the S3 test server (alpha's in a bucket made only later: its uploads stay pending meanwhile).</summary>
    private string Prefix(string host) => $"{_run}/{host}/";

    private string BucketOf(string host) => host == "alpha" ? _run + "-alpha" : S3TestServer.Bucket;

    private string _journal = "";

    /// <summary>A node's sandbox: the cluster's TLS pair copied in (or its own), its daemon and cluster ports, the first node as seed.</summary>
    private Sandbox Node(string host, int clusterPort, string seeds, string pairDir)
    {
        var box = new Sandbox();
        _boxes.Add(box);
        foreach (var file in new[] { "cluster-cert.pem", "cluster-key.pem" })
            File.Copy(Path.Combine(pairDir, file), Path.Combine(box.ConfigDir, file));
        File.SetUnixFileMode(Path.Combine(box.ConfigDir, "cluster-key.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
        var source = Path.Combine(box.Dir, "files");
        Directory.CreateDirectory(source);
        File.WriteAllText(Path.Combine(source, "owner.txt"), "the data of " + host + "\n");
        box.WriteConfig($$"""
            root-path = "{{box.Root}}"
            daemon.port = {{Sandbox.FreePort()}}
            sources { files-{{host}} { type = tar, path = "{{source}}", dst = files } }
            destinations { offsite { uri = "s3://{{BucketOf(host)}}/{{Prefix(host)}}", s3cmd-config = "{{s3.S3cmdConfig(box.Dir)}}" } }
            sync.journal { provider = postgresql, connection-string = "{{_journal}}" }
            cluster {
              host = {{host}}
              hostname = "127.0.0.1"
              port = {{clusterPort}}
              seed-nodes = "{{seeds}}"
              tls { certificate = cluster-cert.pem, key = cluster-key.pem }
            }
            """);
        return box;
    }

    /// <summary>A certificate and key, made as the README says.</summary>
    private static async Task<string> PairAsync()
    {
        var dir = Directory.CreateTempSubdirectory("btw-pair-").FullName;
        var made = await Sandbox.ShellAsync("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", Path.Combine(dir, "cluster-key.pem"), "-out", Path.Combine(dir, "cluster-cert.pem"), "-days", "30", "-subj", "/CN=btw-backup-cluster");
        Assert.True(made.ExitCode == 0, made.ToString());
        return dir;
    }

    /// <summary>The members a node's status shows, as "host status reachable".</summary>
    private static async Task<string[]> MembersAsync(Sandbox box)
    {
        var status = await box.RunAsync("status", "--json");
        Assert.True(status.ExitCode == 0, status.ToString());
        using var json = JsonDocument.Parse(status.Stdout);
        if (!json.RootElement.TryGetProperty("cluster", out var cluster))
            return [];
        return [.. cluster.GetProperty("members").EnumerateArray()
            .Select(m => $"{m.GetProperty("host").GetString()} {m.GetProperty("status").GetString()} {(m.GetProperty("reachable").GetBoolean() ? "reachable" : "unreachable")}")
            .Order(StringComparer.Ordinal)];
    }

    private static async Task<TimeSpan> WaitForAsync(Sandbox box, string[] expected, TimeSpan within)
    {
        var clock = Stopwatch.StartNew();
        string[] seen = [];
        while (clock.Elapsed < within)
        {
            seen = await MembersAsync(box);
            if (seen.SequenceEqual(expected))
                return clock.Elapsed;
            await Task.Delay(200);
        }

        throw new Xunit.Sdk.XunitException($"members after {within.TotalSeconds} s: [{string.Join(", ", seen)}], expected [{string.Join(", ", expected)}]");
    }

    [Fact]
    public async Task Three_nodes_form_one_cluster_run_anywhere_backs_up_each_host_on_itself_and_the_director_survives_kill_9_of_its_node()
    {
        var database = _run.Replace("-", "_", StringComparison.Ordinal);
        await pg.CreateDatabaseAsync(database);
        var user = (await Sandbox.ShellAsync("id", "-un")).Stdout.Trim();
        _journal = $"Host={pg.SocketDir};Port={pg.Port};Database={database};Username={user}";
        var pair = await PairAsync();
        // Two seeds, as the README asks: a first seed that restarts joins the cluster through the second instead of founding a cluster of its own.
        var (seedPort, secondSeed) = (Sandbox.FreePort(), Sandbox.FreePort());
        var seeds = $"127.0.0.1:{seedPort}, 127.0.0.1:{secondSeed}";
        var nodes = new[] { Node("alpha", seedPort, seeds, pair), Node("beta", secondSeed, seeds, pair), Node("gamma", Sandbox.FreePort(), seeds, pair) };

        var clock = Stopwatch.StartNew();
        await using var a = await DaemonProcess.StartAsync(nodes[0]);
        await using var b = await DaemonProcess.StartAsync(nodes[1]);
        await using var c = await DaemonProcess.StartAsync(nodes[2]);
        string[] all = ["alpha up reachable", "beta up reachable", "gamma up reachable"];
        await WaitForAsync(nodes[2], all, TimeSpan.FromSeconds(60));
        output.WriteLine($"three nodes up {clock.Elapsed.TotalSeconds:0.0} s after the first serve started");
        // Each node's view converges by gossip, a moment after another's.
        foreach (var node in nodes)
            await WaitForAsync(node, all, TimeSpan.FromSeconds(15));
        var text = await nodes[1].RunAsync("status");
        Assert.Matches("cluster: this node is beta; 3 members, 3 up and reachable; leader [a-z]+; director on alpha\n", text.Stdout);
        Assert.Matches(@"\n  gamma  127\.0\.0\.1:\d+  up\n", text.Stdout);

        // A local stranger on the cluster port: every connection fails its TLS handshake, and what Akka logs of them stays within the log's budget.
        var log = Path.Combine(nodes[0].ConfigDir, "btw-backup.log");
        var before = new FileInfo(log).Length;
        for (var i = 0; i < 1000; i++)
        {
            using var raw = new System.Net.Sockets.TcpClient();
            await raw.ConnectAsync("127.0.0.1", seedPort);
            await raw.GetStream().WriteAsync("\u0016\u0003\u0001 not a handshake"u8.ToArray());
        }

        await Task.Delay(2000);
        var grown = new FileInfo(log).Length - before;
        output.WriteLine($"1,000 refused connections grew the log by {grown} bytes");
        Assert.True(grown < 120 * 2_100 + 4_000, $"the log grew by {grown} bytes for 1,000 refused connections");
        Assert.Equal(all, await MembersAsync(nodes[0]));

        // Same configuration, its own certificate: its TLS handshakes fail, it is never a member, and its serve ends with one line.
        var strangerPair = await PairAsync();
        var stranger = Node("mallory", Sandbox.FreePort(), seeds, strangerPair);
        var refused = await stranger.RunAsync("serve");
        Assert.Equal(1, refused.ExitCode);
        Assert.EndsWith($"btw-backup: the cluster node mallory stopped: the cluster at {seeds} refused it (its TLS pair, cluster.tls) or removed it (it was on the smaller side of a partition); the log says which\n", refused.Stderr);
        Assert.Contains("TLS handshake failed", File.ReadAllText(Path.Combine(stranger.ConfigDir, "btw-backup.log")));
        foreach (var node in nodes)
            Assert.Equal(all, await MembersAsync(node));

        // A second node under a host name the cluster has: it leaves at once, so no pass or status ever mixes two machines under one name.
        var twin = Node("beta", Sandbox.FreePort(), seeds, pair);
        var left = await twin.RunAsync("serve");
        Assert.Equal(1, left.ExitCode);
        Assert.Matches(@"btw-backup: another node is already host beta in the cluster \(127\.0\.0\.1:\d+\): this one left \(give each node its own cluster\.host\)\n$", left.Stderr);
        await WaitForAsync(nodes[0], all, TimeSpan.FromSeconds(30));

        // run on one node: each host backs up its own sources, into its own root, and the reply has every host.
        var run = await nodes[2].RunAsync("run");
        Assert.True(run.ExitCode == 1, run.ToString());
        Assert.StartsWith("cluster pass started ", run.Stdout);
        Assert.Matches(@"\n    -> offsite: uploaded 0 \(0 B\), deleted 0, still pending 1\n       push of files/[-0-9T:]+\.tbz to offsite failed: .*: 404 NoSuchBucket\nhost beta:\n", run.Stdout);
        Assert.Equal("btw-backup: alpha: some files were not synced; they stay pending for the next sync\n", run.Stderr);
        foreach (var (node, host) in nodes.Zip(new[] { "alpha", "beta", "gamma" }))
        {
            Assert.Matches($@"\nhost {host}:\n    files-{host}  backed up \(full\) ", run.Stdout);
            var archive = Assert.Single(Directory.GetFiles(Path.Combine(node.Root, "files"), "*.tbz"));
            var listed = await Sandbox.ShellAsync("tar", "-xOjf", archive, "./owner.txt");
            Assert.Equal("the data of " + host + "\n", listed.Stdout);
        }

        Assert.DoesNotContain("files-beta", a.Output);
        Assert.Contains("files-beta", b.Output);
        // Each host mirrored its own root under its own prefix; alpha's bucket is not there yet, so its uploads wait in the shared journal.
        foreach (var (node, host) in nodes.Zip(new[] { "alpha", "beta", "gamma" }).Skip(1))
            Assert.Equal(Sandbox.FileHashes(node.Root), await s3.DownloadAsync(Prefix(host), node.Dir));
        var alphaArchive = "files/" + Path.GetFileName(Directory.GetFiles(Path.Combine(nodes[0].Root, "files"), "*.tbz")[0]);
        var pendingOfAlpha = await nodes[2].RunAsync("sync-state", "--list", "--host", "alpha");
        Assert.True(pendingOfAlpha.ExitCode == 0, pendingOfAlpha.ToString());
        Assert.Contains("Must push: " + alphaArchive + "\n", pendingOfAlpha.Stdout);
        Assert.Equal("", (await nodes[2].RunAsync("sync-state", "--list", "--host", "beta")).Stdout);
        Assert.Matches($@"^\d{{4}}-\d\d-\d\dT\d\d:\d\d:\d\d \+push {System.Text.RegularExpressions.Regex.Escape(alphaArchive)}\n",
            (await nodes[1].RunAsync("sync-state", "--history", "--host", "alpha")).Stdout);
        var unknown = await nodes[1].RunAsync("sync-state", "--list", "--host", "delta");
        Assert.Equal(new RunResult(1, "", "btw-backup: the shared journal holds no sync state of host delta (a host of this cluster with destinations writes one at its first start)\n"), unknown);

        // status on node 1: every host's sources, each as its own node last saw them.
        var whole = await nodes[0].RunAsync("status");
        Assert.True(whole.ExitCode == 0, whole.ToString());
        foreach (var (host, header) in new[] { ("alpha", "host alpha (this node):"), ("beta", "host beta:"), ("gamma", "host gamma:") })
            Assert.Matches($@"\n{System.Text.RegularExpressions.Regex.Escape(header)}\n  sources:\n    files-{host}  tar -> files \(1 point, \d+ B\): backed up \(full\) ", whole.Stdout);
        var wholeJson = await nodes[0].RunAsync("status", "--json");
        using (var json = JsonDocument.Parse(wholeJson.Stdout))
        {
            Assert.Equal("alpha", json.RootElement.GetProperty("cluster").GetProperty("director").GetString());
            Assert.Equal(["beta files-beta", "gamma files-gamma"], json.RootElement.GetProperty("hosts").EnumerateArray()
                .Select(h => h.GetProperty("host").GetString() + " " + h.GetProperty("status").GetProperty("sources")[0].GetProperty("name").GetString()));
        }

        // run --host narrows a pass to every source of one host.
        var narrowed = await nodes[0].RunAsync("run", "--host", "gamma");
        Assert.True(narrowed.ExitCode == 0, narrowed.ToString());
        Assert.Matches(@": all good\nhost gamma:\n    files-gamma  unchanged at [^\n]+\n    -> offsite: uploaded 1 \(\d+ B\), deleted 0, still pending 0\n$", narrowed.Stdout); // its log.txt

        // kill -9 of the oldest node, where the director runs: the singleton moves, and a pass runs on the others and names the dead host.
        await a.KillAsync();
        var failover = Stopwatch.StartNew();
        RunResult after;
        do
        {
            after = await nodes[2].RunAsync("run");
            if (after.Stdout.Contains("\nhost beta:\n", StringComparison.Ordinal))
                break;
            await Task.Delay(500);
        }
        while (failover.Elapsed < TimeSpan.FromSeconds(90));
        output.WriteLine($"a pass over the survivors {failover.Elapsed.TotalSeconds:0.0} s after kill -9 of the director's node");
        Assert.True(after.ExitCode == 1, after.ToString());
        Assert.StartsWith("cluster pass started ", after.Stdout);
        Assert.Contains(": with failures\n", after.Stdout);
        Assert.Matches(@"\nhost alpha:\n  unreachable since \d{4}-\d\d-\d\d \d\d:\d\d:\d\d: (not backed up|its pass is not known)", after.Stdout);
        Assert.Contains("\nhost beta:\n    files-beta  unchanged", after.Stdout);
        Assert.Contains("\nhost gamma:\n    files-gamma  unchanged", after.Stdout);
        Assert.Matches(@"^btw-backup: alpha: unreachable since ", after.Stderr);
        await WaitForAsync(nodes[1], ["beta up reachable", "gamma up reachable"], TimeSpan.FromSeconds(30));
        var removed = await nodes[2].RunAsync("run");
        Assert.True(removed.ExitCode == 1, removed.ToString());
        Assert.Matches(@"\nhost alpha:\n  unreachable since [-0-9: ]+: not backed up\n", removed.Stdout);
        var lost = await nodes[2].RunAsync("status");
        Assert.Matches(@"\nhost alpha: unreachable since [-0-9: ]+\n", lost.Stdout);
        // The oldest survivor: the one of beta and gamma that came up first.
        Assert.Matches("; director on (beta|gamma)\n", lost.Stdout);
        Assert.Matches(@"\nhost beta:\n  sources:\n    files-beta  tar -> files \(1 point, \d+ B\): unchanged ", lost.Stdout);
        // What the dead host still had to upload is read from the shared journal, on a survivor.
        Assert.Contains("Must push: " + alphaArchive + "\n", (await nodes[2].RunAsync("sync-state", "--list", "--host", "alpha")).Stdout);

        // The dead node restarted (its bucket made meanwhile): it joins again, a pass backs it up once more, and its pending uploads finish.
        var made = await Sandbox.ShellAsync("s3cmd", "-c", s3.S3cmdConfig(nodes[0].Dir), "mb", $"s3://{BucketOf("alpha")}");
        Assert.True(made.ExitCode == 0, made.ToString());
        File.WriteAllText(Path.Combine(nodes[0].Dir, "files", "owner.txt"), "the data of alpha, changed\n");
        await using var again = await DaemonProcess.StartAsync(nodes[0]);
        TimeSpan rejoin;
        try
        {
            // Seen by both survivors: beta, the node the pass is asked of, and the director (beta or
            // gamma), whose view decides the pass; either may see alpha up a moment before the other.
            rejoin = await WaitForAsync(nodes[1], all, TimeSpan.FromSeconds(60));
            await WaitForAsync(nodes[2], all, TimeSpan.FromSeconds(60));
        }
        catch (Xunit.Sdk.XunitException e)
        {
            throw new Xunit.Sdk.XunitException(e.Message + "\nthe restarted node said:\n" + again.Output);
        }

        output.WriteLine($"the restarted node up again {rejoin.TotalSeconds:0.0} s after its serve started");
        var back = await nodes[1].RunAsync("run");
        Assert.True(back.ExitCode == 0, back.ToString());
        Assert.Matches(@"\nhost alpha:\n    files-alpha  backed up \(", back.Stdout);
        Assert.Equal(2, Directory.GetFiles(Path.Combine(nodes[0].Root, "files"), "*.tbz").Length);
        Assert.Equal(Sandbox.FileHashes(nodes[0].Root), await s3.DownloadAsync(Prefix("alpha"), nodes[0].Dir, BucketOf("alpha")));
        Assert.Equal("", (await nodes[1].RunAsync("sync-state", "--list", "--host", "alpha")).Stdout);

        // A daemon stopped (SIGTERM: its node leaves the cluster cleanly, never unreachable): its host is named, not passed over.
        await c.TerminateAsync();
        await WaitForAsync(nodes[1], ["alpha up reachable", "beta up reachable"], TimeSpan.FromSeconds(30));
        var stopped = await nodes[1].RunAsync("run");
        Assert.True(stopped.ExitCode == 1, stopped.ToString());
        Assert.Matches(@"\nhost gamma:\n  left the cluster since [-0-9: ]+: not backed up\n", stopped.Stdout);
        Assert.Matches(@"\nhost gamma: left the cluster since [-0-9: ]+\n", (await nodes[0].RunAsync("status")).Stdout);
        Directory.Delete(pair, recursive: true);
        Directory.Delete(strangerPair, recursive: true);
    }

    public void Dispose()
    {
        foreach (var box in _boxes)
            box.Dispose();
    }
}

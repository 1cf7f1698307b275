using System.Net;
using System.Net.Sockets;
using System.Text;
using BtwBackup.Daemon;
using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// The daemon runs as root: what a local user without the token can do to it, through its port
/// or by taking the port while the daemon is down.
/// </summary>
public sealed class DaemonDoorTests : IDisposable
{
    private readonly Sandbox _box = new();
    private readonly int _port = Sandbox.FreePort();

    public DaemonDoorTests() => _box.WriteConfig($$"""
        root-path = "{{_box.Root}}"
        daemon { port = {{_port}} }
        """);

    public void Dispose() => _box.Dispose();

    private string DaemonAddress => $"akka.tcp://btw-backup@127.0.0.1:{_port}";

    [Fact]
    public async Task A_raw_remoting_client_without_the_token_runs_nothing_reaches_only_the_gateway_and_is_logged_once()
    {
        var canary = _box.MakeTree("canary");
        var before = Sandbox.Snapshot(canary);
        await using var daemon = await DaemonProcess.StartAsync(_box);
        var commands = new[]
        {
            // What the default serializer (Newtonsoft JSON, id 1) would build from the names on the
            // wire: a working folder for /, and a forced restore over the canary tree.
            Json("BtwBackup.Protocol.ExecuteCommand", $$"""{"Command":{"$type":"BtwBackup.Protocol.InitFileTree, BtwBackup.Core","Source":"/","Name":"pwned","Type":0},"ProgressTo":null}"""),
            Json("BtwBackup.Protocol.ExecuteCommand", $$"""{"Command":{"$type":"BtwBackup.Protocol.RestoreBackup, BtwBackup.Core","Dst":"x","Target":"{{canary}}","At":null,"From":null,"Database":null,"Force":true},"ProgressTo":null}"""),
            Json("BtwBackup.Protocol.InitFileTree", """{"Source":"/","Name":"pwned","Type":0}"""),
            // btw-backup's own request, with made-up nonces and a command in clear instead of sealed.
            (4102, "request", Encoding.UTF8.GetBytes($$"""{"client_nonce":"{{new string('b', 64)}}","daemon_nonce":"{{new string('a', 64)}}","progress":false,"sealed":"{\"command\":\"fs-init\",\"source\":\"/\",\"name\":\"pwned\",\"type\":\"Tar\"}"}""")),
            (4102, "hello", Encoding.UTF8.GetBytes("""{"client_nonce":"not a nonce"}""")),
            (16, "PP", []),                                      // PoisonPill
            (16, "K", []),                                       // Kill
            (16, "STF", []),                                     // Status.Failure (an exception by type name)
            (16, "ID", [0x0a, 0x00]),                            // Identify
            (16, "RWHB", []),                                    // a remote watcher's heartbeat
            (17, "S", Encoding.UTF8.GetBytes("hello")),          // a bare string
            (4, null, [1, 2, 3]),                                // raw bytes
            (2, "Google.Protobuf.WellKnownTypes.Empty, Google.Protobuf", []),
            (6, null, [0x0a, 0x00]),                             // an actor selection
        };
        var paths = new[] { "/user/gateway", "/user/orchestrator", "/user", "/", "/system", "/system/remote-watcher", "/user/orchestrator/pass" };

        await using (var intruder = await RawAkkaClient.AssociateAsync(_port))
        {
            foreach (var path in paths)
            {
                foreach (var (serializer, manifest, body) in commands)
                    await intruder.SendAsync(DaemonAddress, path, serializer, manifest, body);
            }

            // Last, a well-formed hello: the gateway, alive after all of the above (which remoting
            // dispatched in order before it), answers with a challenge.
            await intruder.SendAsync(DaemonAddress, "/user/gateway", 4102, "hello", Encoding.UTF8.GetBytes($$"""{"client_nonce":"{{new string('c', 64)}}"}"""));
            Assert.True(await intruder.ReceivesAsync("challenge", TimeSpan.FromSeconds(20)), "the gateway did not answer a hello after the attack:\n" + daemon.Output);

            // Supervision system messages (Terminate), with sequence numbers as reliable delivery
            // sends them: remoting drops the association at the first one it refuses.
            ulong seq = 1;
            foreach (var path in paths)
                await intruder.SendAsync(DaemonAddress, path, 22, "Akka.Dispatch.SysMsg.Terminate, Akka", [], seq++);

            // One line for the intruder, however many messages it sent (the log is written apart
            // from the answers: wait for it, then give any second line time to show up).
            List<string> Lines() => [.. daemon.Output.Split('\n').Where(l => l.Contains(intruder.Address, StringComparison.Ordinal) && !l.Contains("Removing receive buffers", StringComparison.Ordinal))];
            var deadline = DateTime.UtcNow.AddSeconds(20);
            while (Lines().Count == 0 && DateTime.UtcNow < deadline)
                await Task.Delay(50);
            await Task.Delay(1000);
            Assert.Contains("refused", Assert.Single(Lines()), StringComparison.Ordinal);
        }

        // Nothing ran: no working folder, the canary as it was, no command reached the Orchestrator.
        await using (var next = await RawAkkaClient.AssociateAsync(_port))
        {
            await next.SendAsync(DaemonAddress, "/user/gateway", 4102, "hello", Encoding.UTF8.GetBytes($$"""{"client_nonce":"{{new string('d', 64)}}"}"""));
            Assert.True(await next.ReceivesAsync("challenge", TimeSpan.FromSeconds(20)), "the gateway did not survive the system messages:\n" + daemon.Output);
        }

        Assert.Empty(Directory.GetDirectories(_box.ConfigDir, "pwned*"));
        Assert.Equal(before, Sandbox.Snapshot(canary));
        Assert.False(daemon.HasExited);
        Assert.DoesNotContain("gateway: InitFileTree", daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain("gateway: RestoreBackup", daemon.Output, StringComparison.Ordinal);
        var status = await _box.RunAsync("status");
        Assert.True(status.ExitCode == 0, status.ToString());
        Assert.StartsWith($"daemon: serving on 127.0.0.1:{_port}", status.Stdout, StringComparison.Ordinal);
    }

    [Fact]
    public async Task A_request_with_a_stolen_challenge_but_no_token_is_refused()
    {
        await using var daemon = await DaemonProcess.StartAsync(_box);
        // The real CLI works; a second client that replays nothing and guesses the proof does not.
        Assert.Equal(0, (await _box.RunAsync("status")).ExitCode);
        await using var intruder = await RawAkkaClient.AssociateAsync(_port);
        var clientNonce = new string('d', 64);
        await intruder.SendAsync(DaemonAddress, "/user/gateway", 4102, "hello", Encoding.UTF8.GetBytes($$"""{"client_nonce":"{{clientNonce}}"}"""));
        var challenge = await intruder.ReceiveAsync("challenge", TimeSpan.FromSeconds(20));
        Assert.True(challenge is not null, daemon.Output);
        var daemonNonce = System.Text.RegularExpressions.Regex.Match(challenge, "\"daemon_nonce\":\"([0-9a-f]{64})\"").Groups[1].Value;
        Assert.NotEqual("", daemonNonce);
        // The live challenge, answered with a command sealed under a guessed token: refused.
        var guessed = new DaemonAuth("a guess").Session(clientNonce, daemonNonce).Seal(SealedWay.Request, 0, """{"command":"fs-init","source":"/","name":"pwned","type":"Tar"}""", "");
        await intruder.SendAsync(DaemonAddress, "/user/gateway", 4102, "request", Encoding.UTF8.GetBytes(
            $$"""{"client_nonce":"{{clientNonce}}","daemon_nonce":"{{daemonNonce}}","progress":false,"sealed":"{{guessed}}"}"""));
        var deadline = DateTime.UtcNow.AddSeconds(20);
        while (!daemon.Output.Contains("gateway: refused a request from " + intruder.Address, StringComparison.Ordinal) && DateTime.UtcNow < deadline)
            await Task.Delay(50);
        Assert.Contains("gateway: refused a request from " + intruder.Address + ": not sealed with this daemon's token", daemon.Output, StringComparison.Ordinal);
        Assert.Empty(Directory.GetDirectories(_box.ConfigDir, "pwned*"));
    }

    [Fact]
    public async Task An_impostor_on_the_port_gets_neither_the_token_nor_a_command_and_the_cli_says_so()
    {
        // Another user takes the port while the daemon is down, and records what it receives.
        var capture = Path.Combine(Path.GetTempPath(), "btw-impostor-" + Guid.NewGuid().ToString("N"));
        File.WriteAllText(capture, "");
        File.SetUnixFileMode(capture, (UnixFileMode)0b110_110_110);
        var asNobody = Environment.UserName == "root";
        const string listener = "use IO::Socket::INET; $s = IO::Socket::INET->new(LocalAddr => '127.0.0.1', LocalPort => $ARGV[0], Listen => 5) or die $!; "
            + "open(F, '>>', $ARGV[1]) or die $!; F->autoflush(1); print STDOUT \"listening\\n\"; STDOUT->flush(); "
            + "while ($c = $s->accept) { while (sysread($c, $b, 65536)) { print F $b } }";
        string[] command = asNobody
            ? ["runuser", "-u", "nobody", "--", "perl", "-e", listener, _port.ToString(System.Globalization.CultureInfo.InvariantCulture), capture]
            : ["perl", "-e", listener, _port.ToString(System.Globalization.CultureInfo.InvariantCulture), capture];
        using var impostor = System.Diagnostics.Process.Start(new System.Diagnostics.ProcessStartInfo(command[0], command[1..]) { RedirectStandardOutput = true })!;
        try
        {
            Assert.Equal("listening", await impostor.StandardOutput.ReadLineAsync());
            // The daemon has run before: the token exists, and root's CLI holds it.
            var token = Path.Combine(_box.ConfigDir, "daemon.token");
            File.WriteAllText(token, Convert.ToHexStringLower(System.Security.Cryptography.RandomNumberGenerator.GetBytes(32)));
            File.SetUnixFileMode(token, UnixFileMode.UserRead | UnixFileMode.UserWrite);

            var sync = await _box.RunAsync("fs-init", "--type", "tar", _box.MakeTree("www"), "www");
            Assert.Equal(1, sync.ExitCode);
            Assert.Equal($"btw-backup: something listens on 127.0.0.1:{_port} (daemon.port) but does not answer as btw-backup's daemon within 10 s: "
                + "an impostor, the daemon of another configuration directory, or a daemon too busy to answer; the command was not sent\n", sync.Stderr);
            Assert.Empty(Directory.GetDirectories(_box.ConfigDir, "www.*"));
            var received = File.ReadAllText(capture, Encoding.Latin1);
            Assert.DoesNotContain(File.ReadAllText(token).Trim(), received, StringComparison.Ordinal);
            Assert.DoesNotContain("fs-init", received, StringComparison.Ordinal);
            Assert.DoesNotContain("www", received, StringComparison.Ordinal);

            // A backup is not stopped by it: the lock was free, so no daemon serves this directory,
            // and the backup runs in-process without asking the port.
            await RunOneSourceAsync(_box, "rdiff");
            var full = Assert.Single(Directory.GetDirectories(Path.Combine(_box.Root, "site")));
            Assert.True(File.Exists(Path.Combine(full, "backup.tar")));
            Assert.Contains("no daemon serves " + _box.ConfigDir + " (this process holds its lock): working in-process",
                File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log")), StringComparison.Ordinal);
            Assert.DoesNotContain("site", File.ReadAllText(capture, Encoding.Latin1), StringComparison.Ordinal);
        }
        finally
        {
            impostor.Kill(entireProcessTree: true);
            File.Delete(capture);
        }
    }

    /// <summary>Configures one source "site" of <paramref name="type"/> on this test's port and runs a pass; it must succeed.</summary>
    private async Task RunOneSourceAsync(Sandbox box, string type)
    {
        var src = box.MakeTree("site");
        box.WriteConfig($$"""
            root-path = "{{box.Root}}"
            daemon { port = {{_port}} }
            sources { site { type = {{type}}, path = "{{src}}", dst = site } }
            """);
        var run = await box.RunAsync("run");
        Assert.True(run.ExitCode == 0, run.ToString());
    }

    [Fact]
    public async Task A_daemon_of_another_configuration_directory_is_not_trusted_with_a_command()
    {
        await using var daemon = await DaemonProcess.StartAsync(_box);
        var token = Path.Combine(_box.ConfigDir, "daemon.token");
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(token));
        using var other = new Sandbox();
        File.Copy(Path.Combine(_box.ConfigDir, "btw-backup.conf"), Path.Combine(other.ConfigDir, "btw-backup.conf"), overwrite: true);

        // No token at all: nothing can be checked, nothing is sent.
        var unreadable = await other.RunAsync("status");
        Assert.Equal(1, unreadable.ExitCode);
        Assert.Equal($"btw-backup: something answers on 127.0.0.1:{_port} (daemon.port), but this user cannot read {other.ConfigDir}/daemon.token, "
            + "so it cannot check that it is btw-backup's daemon: nothing was sent (run the command as the daemon's user, with its --config-dir)\n", unreadable.Stderr);

        // Another token: the daemon cannot prove it holds this one, so the CLI sends nothing.
        File.WriteAllText(Path.Combine(other.ConfigDir, "daemon.token"), new string('0', 64));
        var wrong = await other.RunAsync("status");
        Assert.Equal(1, wrong.ExitCode);
        Assert.Equal($"btw-backup: something listens on 127.0.0.1:{_port} (daemon.port) but cannot prove it holds {other.ConfigDir}/daemon.token: "
            + "an impostor, or the daemon of another configuration directory; the command was not sent\n", wrong.Stderr);
        Assert.DoesNotContain("gateway: ShowStatus", daemon.Output, StringComparison.Ordinal);
        // A writer of the other directory takes that directory's free lock: no daemon serves it, so
        // it works there, in-process, and sends nothing to this daemon.
        await RunOneSourceAsync(other, "tar");
        Assert.Single(Directory.GetFiles(Path.Combine(other.Root, "site"), "*.tbz"));
        Assert.DoesNotContain("gateway: RunPass", daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(new string('0', 64), daemon.Output, StringComparison.Ordinal);
        Assert.DoesNotContain(File.ReadAllText(token).Trim(), daemon.Output + File.ReadAllText(Path.Combine(_box.ConfigDir, "btw-backup.log")), StringComparison.Ordinal);
        Assert.Equal(0, (await _box.RunAsync("status")).ExitCode);
    }

    [Fact]
    public async Task A_second_daemon_on_the_same_port_refuses_to_start_and_names_the_first()
    {
        await using var daemon = await DaemonProcess.StartAsync(_box);
        using var other = new Sandbox();
        other.WriteConfig($$"""
            root-path = "{{other.Root}}"
            daemon { port = {{_port}} }
            """);
        var second = await other.RunAsync("serve");
        Assert.Equal(1, second.ExitCode);
        Assert.StartsWith($"btw-backup: cannot serve: port {_port} on 127.0.0.1 (daemon.port in {other.ConfigDir}/btw-backup.conf) is taken by pid {daemon.Pid} (", second.Stderr, StringComparison.Ordinal);
        Assert.EndsWith("; a daemon never shares its port: stop that process or choose another port\n", second.Stderr, StringComparison.Ordinal);
        // The first one still answers, and alone.
        for (var i = 0; i < 3; i++)
            Assert.Equal(0, (await _box.RunAsync("status")).ExitCode);

        // A plain listener (not a daemon) on the port: the same refusal.
        using var squatter = new TcpListener(IPAddress.Loopback, Sandbox.FreePort());
        squatter.Start();
        var taken = ((IPEndPoint)squatter.LocalEndpoint).Port;
        other.WriteConfig($$"""
            root-path = "{{other.Root}}"
            daemon { port = {{taken}} }
            """);
        var third = await other.RunAsync("serve");
        Assert.Equal(1, third.ExitCode);
        Assert.StartsWith($"btw-backup: cannot serve: port {taken} on 127.0.0.1", third.Stderr, StringComparison.Ordinal);
    }

    [Fact]
    public async Task Serve_refuses_an_address_beyond_loopback_without_tls()
    {
        _box.WriteConfig($$"""
            root-path = "{{_box.Root}}"
            daemon { hostname = "0.0.0.0", port = {{_port}} }
            """);
        var serve = await _box.RunAsync("serve");
        Assert.Equal(1, serve.ExitCode);
        Assert.Equal($"btw-backup: daemon.hostname \"0.0.0.0\" in {_box.ConfigDir}/btw-backup.conf is not a loopback address: a daemon reachable "
            + "from other machines needs TLS (daemon.tls); use 127.0.0.1 (the default) or ::1, or set daemon.tls\n", serve.Stderr);
    }

    /// <summary>A certificate and its key, made as the README tells an administrator to.</summary>
    private static async Task MakeCertificateAsync(string dir)
    {
        var made = await Sandbox.ShellAsync("openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
            "-keyout", Path.Combine(dir, "daemon-key.pem"), "-out", Path.Combine(dir, "daemon-cert.pem"), "-days", "30", "-subj", "/CN=btw-backup");
        Assert.True(made.ExitCode == 0, made.ToString());
        File.SetUnixFileMode(Path.Combine(dir, "daemon-key.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);
    }

    private static string TlsConfig(Sandbox box, string hostname, int port) => $$"""
        root-path = "{{box.Root}}"
        daemon { hostname = "{{hostname}}", port = {{port}}, tls { certificate = "daemon-cert.pem", key = "daemon-key.pem" } }
        """;

    [Fact]
    public async Task With_tls_the_daemon_serves_beyond_loopback_to_its_own_certificate_only()
    {
        await MakeCertificateAsync(_box.ConfigDir);
        File.SetUnixFileMode(Path.Combine(_box.ConfigDir, "daemon-key.pem"), (UnixFileMode)0b110_100_100);
        _box.WriteConfig(TlsConfig(_box, "0.0.0.0", _port));
        var exposed = await _box.RunAsync("serve");
        Assert.Equal(1, exposed.ExitCode);
        Assert.Equal($"btw-backup: daemon.tls.key: {_box.ConfigDir}/daemon-key.pem is readable by other users: make it private (chmod 600) first\n", exposed.Stderr);
        File.SetUnixFileMode(Path.Combine(_box.ConfigDir, "daemon-key.pem"), UnixFileMode.UserRead | UnixFileMode.UserWrite);

        await using var daemon = await DaemonProcess.StartAsync(_box);
        var status = await _box.RunAsync("status");
        Assert.True(status.ExitCode == 0, status + "\n" + daemon.Output);
        Assert.StartsWith($"daemon: serving on 0.0.0.0:{_port}", status.Stdout, StringComparison.Ordinal);

        // Plain remoting on the TLS port: no challenge comes back.
        await using (var plain = await RawAkkaClient.AssociateAsync(_port))
        {
            await plain.SendAsync($"akka.tcp://btw-backup@0.0.0.0:{_port}", "/user/gateway", 4102, "hello", Encoding.UTF8.GetBytes($$"""{"client_nonce":"{{new string('c', 64)}}"}"""));
            Assert.False(await plain.ReceivesAsync("challenge", TimeSpan.FromSeconds(5)));
        }

        // The same token with another certificate: TLS refuses it before any handshake of btw-backup's.
        using var other = new Sandbox();
        await MakeCertificateAsync(other.ConfigDir);
        other.WriteConfig(TlsConfig(other, "0.0.0.0", _port));
        File.Copy(Path.Combine(_box.ConfigDir, "daemon.token"), Path.Combine(other.ConfigDir, "daemon.token"));
        // A writer too: with a daemon beyond loopback (maybe another machine's, driven from here),
        // a free local lock proves nothing, so the port is asked first.
        var stranger = await other.RunAsync("sync");
        Assert.Equal(1, stranger.ExitCode);
        // Remoting gives up on the transport (and stops the client), or the handshake times out.
        Assert.Matches($@"^btw-backup: (the connection to 0\.0\.0\.0:{_port} \(daemon\.port\) failed before the daemon answered|something listens on 0\.0\.0\.0:{_port} \(daemon\.port\) but )", stranger.Stderr);
        Assert.DoesNotContain("gateway: SyncNow", daemon.Output, StringComparison.Ordinal);
        Assert.False(daemon.HasExited);
    }

    private static (int, string?, byte[]) Json(string type, string body) =>
        (1, type + ", BtwBackup.Core", Encoding.UTF8.GetBytes(body));
}

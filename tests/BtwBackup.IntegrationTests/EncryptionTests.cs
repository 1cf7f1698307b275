using Xunit;

namespace BtwBackup.IntegrationTests;

/// <summary>Client-side encryption as a user meets it: keygen, then encrypted destinations on the S3 test server.</summary>
public sealed class KeygenTests : IDisposable
{
    private readonly Sandbox _box = new();

    public void Dispose() => _box.Dispose();

    [Fact]
    public async Task Keygen_writes_a_private_identity_age_reads_prints_its_recipient_and_never_replaces_a_file()
    {
        var file = Path.Combine(_box.Dir, "identity.txt");
        var made = await _box.RunAsync("keygen", file);
        Assert.True(made.ExitCode == 0, made.ToString());
        Assert.Matches("^age1[a-z0-9]{58}\n$", made.Stdout);
        Assert.Equal(UnixFileMode.UserRead | UnixFileMode.UserWrite, File.GetUnixFileMode(file));
        var recipient = await Sandbox.ShellAsync("age-keygen", "-y", file);
        Assert.Equal(made.Stdout, recipient.Stdout);
        // The identity never shows on stdout or stderr when it goes to a file.
        var secret = File.ReadAllLines(file).Single(l => l.StartsWith("AGE-SECRET-KEY-1", StringComparison.Ordinal));
        Assert.DoesNotContain(secret, made.Stdout + made.Stderr);

        var before = File.ReadAllText(file);
        var again = await _box.RunAsync("keygen", file);
        Assert.Equal(new RunResult(1, "", $"btw-backup: {file} exists: keygen never replaces an identity (the backups encrypted to it would be lost with it)\n"), again);
        Assert.Equal(before, File.ReadAllText(file));

        // A link planted where the identity goes: refused, and what it points to is untouched.
        var victim = Path.Combine(_box.Dir, "victim");
        File.WriteAllText(victim, "keep\n");
        var link = Path.Combine(_box.Dir, "planted.txt");
        File.CreateSymbolicLink(link, victim);
        Assert.Equal(1, (await _box.RunAsync("keygen", link)).ExitCode);
        Assert.Equal("keep\n", File.ReadAllText(victim));
    }
}

using System.Runtime.InteropServices;
using System.Text;
using BtwBackup.Cli;

namespace BtwBackup.Launcher;

/// <summary>
/// <c>out/btw-backup</c>: answers what the command line alone decides (<c>-h</c>, <c>--version</c>,
/// a usage error), with the CLI's own parser and texts, and hands every command to the CLI in
/// <c>lib/</c> beside it by execv: the same process (its PID, which systemd, the daemon's lock and
/// signals see), the same arguments byte for byte, the same environment but for two settings of the
/// CLI's runtime (<see cref="RuntimeSettings"/>). The CLI parses them again and decides everything
/// else; this front only spares the .NET runtime's start where nothing needs it.
/// </summary>
public static class Launcher
{
    [DllImport("libc", SetLastError = true)]
    private static extern int execv(IntPtr path, IntPtr[] argv);

    [DllImport("libc", SetLastError = true)]
    private static extern int setenv([MarshalAs(UnmanagedType.LPUTF8Str)] string name, [MarshalAs(UnmanagedType.LPUTF8Str)] string value, int overwrite);

    /// <summary>
    /// Call counting off in the CLI's runtime: hot code is not compiled a second time, neither what
    /// was compiled ahead of time (ReadyToRun) nor what the JIT compiled quickly at first (a long
    /// loop still gets optimized code, by on-stack replacement). An initial sync of 4 x 64 MiB +
    /// 256 MiB: user CPU 3.46 -> 2.69 s, peak RSS 184 -> 164 MB; of 5,000 small files: 4.85 ->
    /// 4.58 s, 187 -> 172 MB (medians of 3). The runtime reads it only from the environment, not
    /// from runtimeconfig.json.
    /// </summary>
    private const string NoRecompilation = "TC_CallCounting";

    /// <summary>
    /// The garbage collector's first generation starts with a budget of 8 MiB (the runtime may
    /// raise it; its own follows the CPU's cache, tens of MiB on a server's, which a short run
    /// never reuses):
    /// a sync --full of one rewritten 64 MiB file, peak RSS 155 -> 147 MB, CPU 1.29 -> 1.14 s; an
    /// initial sync of 4 x 64 MiB + 256 MiB, 178 -> 168 MB at the same CPU (medians of 6 and 3).
    /// Only the environment carries it (hexadecimal, as every such setting of the runtime).
    /// </summary>
    private const string FirstGenerationBudget = "GCgen0size";

    /// <summary>
    /// What the front adds to the CLI's environment (as DOTNET_ variables); a value the caller set
    /// is kept, under either of the runtime's prefixes (COMPlus_ is the older one, and the runtime
    /// would prefer the DOTNET_ one added here).
    /// </summary>
    private static readonly (string Name, string Value)[] RuntimeSettings = [(NoRecompilation, "0"), (FirstGenerationBudget, "800000")];

    public static int Main(string[] args)
    {
        // Decided here only when no argument holds a replacement character (where bytes that are
        // not UTF-8 were): the CLI's runtime replaces them its own way, so it decides those
        // itself, and the messages that quote them stay its own.
        if (!args.Any(a => a.Contains('\uFFFD', StringComparison.Ordinal))
            && CommandLine.Parser().Parse(args) is ParseOutcome.Exit exit)
            return CommandLine.Print(exit);

        // Found from this executable's own path, never from argv[0], PATH or the environment: the
        // CLI that runs is the one installed beside it (/proc/self/exe: a symbolic link to the
        // front is resolved; a hard link in another folder needs the owner of the file to make it).
        string? self;
        try
        {
            self = new FileInfo("/proc/self/exe").LinkTarget;
        }
        catch (IOException)
        {
            self = null;
        }

        if (self is null)
            return Fail("cannot find its own executable (is /proc mounted?)");
        if (self.EndsWith(" (deleted)", StringComparison.Ordinal))
            return Fail($"its own executable was deleted ({self}): start it from where it is installed");
        var cli = Path.Combine(Path.GetDirectoryName(self)!, "lib", CommandLine.Prog);

        var argv = RawArguments(args.Length) ?? [Encoding.UTF8.GetBytes(self), .. args.Select(Encoding.UTF8.GetBytes)];
        var pointers = new IntPtr[argv.Length + 1];
        for (var i = 0; i < argv.Length; i++)
            pointers[i] = NulTerminated(argv[i]);
        foreach (var (name, value) in RuntimeSettings)
        {
            if (Environment.GetEnvironmentVariable("COMPlus_" + name) is null)
                setenv("DOTNET_" + name, value, overwrite: 0);
        }
        execv(NulTerminated(Encoding.UTF8.GetBytes(cli)), pointers);
        var error = Marshal.GetPInvokeErrorMessage(Marshal.GetLastPInvokeError());
        return Fail($"cannot start {cli}: {error} (copy the whole published folder: lib/ goes beside {CommandLine.Prog})");
    }

    /// <summary>
    /// The arguments exactly as this process received them (/proc/self/cmdline: argv[0] first), so
    /// that a name that is not valid UTF-8 reaches the CLI unchanged; null when they cannot be read
    /// or do not match the <paramref name="count"/> the runtime decoded.
    /// </summary>
    private static byte[][]? RawArguments(int count)
    {
        byte[] cmdline;
        try
        {
            cmdline = File.ReadAllBytes("/proc/self/cmdline");
        }
        catch (IOException)
        {
            return null;
        }
        catch (UnauthorizedAccessException)
        {
            return null;
        }

        if (cmdline.Length == 0 || cmdline[^1] != 0)
            return null;
        var parts = new List<byte[]>();
        var start = 0;
        for (var i = 0; i < cmdline.Length; i++)
        {
            if (cmdline[i] != 0)
                continue;
            parts.Add(cmdline[start..i]);
            start = i + 1;
        }

        return parts.Count == count + 1 ? [.. parts] : null;
    }

    private static IntPtr NulTerminated(byte[] bytes)
    {
        var p = Marshal.AllocHGlobal(bytes.Length + 1);
        Marshal.Copy(bytes, 0, p, bytes.Length);
        Marshal.WriteByte(p, bytes.Length, 0);
        return p;
    }

    private static int Fail(string message)
    {
        Console.Error.WriteLine(CommandLine.Prog + ": " + message);
        return 1;
    }
}

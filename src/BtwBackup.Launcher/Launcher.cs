using System.Runtime.InteropServices;
using System.Text;
using BtwBackup.Cli;

namespace BtwBackup.Launcher;

/// <summary>
/// <c>out/btw-backup</c>: answers what the command line alone decides (<c>-h</c>, <c>--version</c>,
/// a usage error), with the CLI's own parser and texts, and hands every command to the CLI in
/// <c>lib/</c> beside it by execv: the same process (its PID, which systemd, the daemon's lock and
/// signals see), the same arguments byte for byte, the same environment. The CLI parses them
/// again and decides everything else; this front only spares the .NET runtime's start where
/// nothing needs it.
/// </summary>
public static class Launcher
{
    private const int SIGPIPE = 13;
    private static readonly IntPtr SigDfl = IntPtr.Zero;

    [DllImport("libc", SetLastError = true)]
    private static extern int execv(IntPtr path, IntPtr[] argv);

    [DllImport("libc")]
    private static extern IntPtr signal(int signum, IntPtr handler);

    public static int Main(string[] args)
    {
        if (CommandLine.Parser().Parse(args) is ParseOutcome.Exit exit)
        {
            Console.Out.Write(exit.Stdout);
            Console.Error.Write(exit.Stderr);
            return exit.Code;
        }

        // Found from this executable's own path (/proc/self/exe, links resolved), never from
        // argv[0], PATH or the environment: the CLI that runs is the one installed beside it.
        var self = Environment.ProcessPath;
        if (self is null)
            return Fail("cannot find its own executable (is /proc mounted?)");
        var cli = Path.Combine(Path.GetDirectoryName(self)!, "lib", CommandLine.Prog);

        var argv = RawArguments(args.Length) ?? [Encoding.UTF8.GetBytes(self), .. args.Select(Encoding.UTF8.GetBytes)];
        var pointers = new IntPtr[argv.Length + 1];
        for (var i = 0; i < argv.Length; i++)
            pointers[i] = NulTerminated(argv[i]);

        // This runtime ignores SIGPIPE from its start, and an ignored signal stays ignored across
        // execv: the CLI starts with the default a shell gives it, as without this front.
        signal(SIGPIPE, SigDfl);
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

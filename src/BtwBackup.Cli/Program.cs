using Akka.Actor;
using BtwBackup.Config;
using BtwBackup.Hosting;
using BtwBackup.Logging;
using BtwBackup.Platform;
using BtwBackup.Protocol;

namespace BtwBackup.Cli;

/// <summary>
/// The edge: parse (no actor system for -h, --version or a usage error), load and validate the
/// configuration, take the configuration directory's lock for commands that write, then hand
/// the command to the Orchestrator and print its reply.
/// </summary>
public static class Program
{
    public static async Task<int> Main(string[] args)
    {
        Posix.SetPrivateUmask();
        var parsed = CommandLine.Parser().Parse(args);
        if (parsed is ParseOutcome.Exit exit)
        {
            Console.Out.Write(exit.Stdout);
            Console.Error.Write(exit.Stderr);
            return exit.Code;
        }

        var run = ((ParseOutcome.Run)parsed).Args;
        using var interrupt = new Interrupt();
        LogFile? log = null;
        try
        {
            var request = Requests.From(run);
            var configDir = Path.GetFullPath(run.ConfigDir ?? ConfigLoader.DefaultConfigDir());
            var settings = ConfigLoader.LoadGeneral(configDir);
            log = new LogFile(settings.LogFile);
            if (request.Syncs && settings.DestinationError is { } noDestination)
                throw new ConfigException(noDestination);
            log.Write("INFO", "cli", $"{CommandLine.Prog} {string.Join(' ', args)}");

            using var configLock = request.Writes
                ? await ConfigDirLock.AcquireAsync(configDir, settings.LockTimeout,
                    () => Console.Error.WriteLine($"{ErrorReport.Prefix}waiting for another btw-backup working on {configDir} (pid {ConfigDirLock.Holder(configDir)})"),
                    interrupt.Token)
                    ?? throw new ConfigException($"another btw-backup is working on {configDir} (pid {ConfigDirLock.Holder(configDir)}); gave up after {Durations.Format(settings.LockTimeout)} (lock-timeout)")
                : null;

            var reply = await ExecuteAsync(settings, request.Command, showProgress: !run.Quiet && Posix.IsTerminal(1), interrupt.Token);
            foreach (var line in reply.Stdout)
                Console.Out.WriteLine(line);
            foreach (var line in reply.Stderr)
                Console.Error.WriteLine(line);
            log.Write(reply.ExitCode == Protocol.ExitCode.Ok ? "INFO" : "WARNING", "cli", $"{run.Command} exited with {(int)reply.ExitCode}");
            return (int)reply.ExitCode;
        }
        catch (UsageException e)
        {
            Console.Error.WriteLine(e.Usage);
            Console.Error.WriteLine($"{CommandLine.Prog} {run.Command}: error: {e.Message}");
            return (int)Protocol.ExitCode.Usage;
        }
        catch (OperationCanceledException)
        {
            Console.Error.WriteLine(ErrorReport.Prefix + "interrupted: nothing half-stored; the next run starts clean");
            return (int)Protocol.ExitCode.Error;
        }
        catch (Exception e)
        {
            foreach (var line in ErrorReport.Lines(e))
                Console.Error.WriteLine(line);
            if (!ErrorReport.IsExpected(e))
                log?.Write("ERROR", "cli", e.ToString());
            return (int)Protocol.ExitCode.Error;
        }
    }

    private static async Task<CommandReply> ExecuteAsync(GeneralSettings settings, CliCommand command, bool showProgress, CancellationToken ct)
    {
        var (system, orchestrator) = BackupHost.Start(settings);
        try
        {
            var progress = showProgress ? system.ActorOf(ProgressPrinter.Props(Console.Out), "progress") : null;
            var reply = await orchestrator.Ask<CommandReply>(new ExecuteCommand(command, progress), Timeout.InfiniteTimeSpan, ct);
            if (progress is not null)
                await progress.Ask<ProgressPrinter.Cleared>(new ProgressPrinter.Clear(), TimeSpan.FromSeconds(5), CancellationToken.None);
            return reply;
        }
        finally
        {
            await FileLogger.FlushAsync(system, TimeSpan.FromSeconds(2));
            // Stopping the system cancels the work in flight; partial files are removed by the
            // procedures' own clean-up and, failing that, by the next run.
            await system.Terminate();
        }
    }

    /// <summary>SIGINT and SIGTERM cancel the command instead of killing the process mid-write.</summary>
    private sealed class Interrupt : IDisposable
    {
        private readonly CancellationTokenSource _cts = new();
        private readonly List<System.Runtime.InteropServices.PosixSignalRegistration> _registrations;

        public Interrupt()
        {
            _registrations =
            [
                System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGINT, Cancel),
                System.Runtime.InteropServices.PosixSignalRegistration.Create(System.Runtime.InteropServices.PosixSignal.SIGTERM, Cancel),
            ];
        }

        public CancellationToken Token => _cts.Token;

        private void Cancel(System.Runtime.InteropServices.PosixSignalContext context)
        {
            context.Cancel = true;
            _cts.Cancel();
        }

        public void Dispose()
        {
            foreach (var r in _registrations)
                r.Dispose();
            _cts.Dispose();
        }
    }
}

using BtwBackup.Backup;
using BtwBackup.Tools;
using Xunit;

namespace BtwBackup.Tests.Backup;

public sealed class DiskSpaceTests
{
    private sealed class FixedRunner(ProcessResult result) : IProcessRunner
    {
        public List<ProcessSpec> Runs { get; } = [];

        public Task<ProcessResult> RunAsync(ProcessSpec spec, CancellationToken cancellationToken)
        {
            Runs.Add(spec);
            return Task.FromResult(result);
        }
    }

    public static TheoryData<Exception, bool> Errors => new()
    {
        { new ToolFailedException("tar", 2, "tar: /r/.x.partial: Cannot write: No space left on device\n"), true },
        { new ToolFailedException("rdiff-backup", 1, "OSError: [Errno 28] No space left on device\n"), true },
        { new ToolFailedException("pg_dump", 1, "pg_dump: error: connection refused\n"), false },
        { new IOException("No space left on device : '/r/log.txt'"), true },
        { new IOException("disk full", 28), true },
        { new IOException("Permission denied", 13), false },
        { new AggregateException(new IOException("x", 28)), true },
        { new InvalidOperationException("No space left on device"), false },
    };

    [Theory]
    [MemberData(nameof(Errors))]
    public void A_full_disk_is_told_from_other_failures(Exception e, bool noSpace) =>
        Assert.Equal(noSpace, DiskSpace.IsNoSpace(e));

    [Fact]
    public void The_message_names_the_device_and_the_mount_point()
    {
        var (device, mountPoint) = DiskSpace.MountOf("/proc/self/status");
        Assert.Equal("proc", device);
        Assert.Equal("/proc", mountPoint);
        Assert.Equal("no space left on proc (/proc)", DiskSpace.NoSpace("/proc/self").Message);
        Assert.Equal("/", DiskSpace.MountOf("/").MountPoint);
    }

    [Fact]
    public async Task Rdiff_backup_exit_2_is_a_stored_backup_with_its_warnings()
    {
        var runner = new FixedRunner(new ProcessResult(2, "", "WARNING: Previous backup seems to have failed, regressing destination now\nNOTE: x\n"));
        var warnings = await new RdiffBackup(runner).BackupAsync("/src", "/repo", CancellationToken.None);
        Assert.Equal(["rdiff-backup: WARNING: Previous backup seems to have failed, regressing destination now"], warnings);
    }

    [Theory]
    [InlineData(1)]
    [InlineData(3)]
    [InlineData(4)]
    public async Task Rdiff_backup_errors_still_fail(int exit)
    {
        var runner = new FixedRunner(new ProcessResult(exit, "", "ERROR: x\n"));
        var e = await Assert.ThrowsAsync<ToolFailedException>(() => new RdiffBackup(runner).BackupAsync("/src", "/repo", CancellationToken.None));
        Assert.Equal(exit, e.ExitCode);
    }

    [Fact]
    public async Task Regress_runs_the_regress_action_and_accepts_its_warning_exit()
    {
        var runner = new FixedRunner(new ProcessResult(2, "", "WARNING: Previous backup seems to have failed\n"));
        await new RdiffBackup(runner).RegressAsync("/repo", CancellationToken.None);
        Assert.Equal(["regress", "/repo"], Assert.Single(runner.Runs).Arguments);
    }
}

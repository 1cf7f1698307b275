using BtwBackup.Backup;
using Xunit;

namespace BtwBackup.Tests.Backup;

/// <summary>The pid rdiff-backup writes in its current_mirror marker, read as its own regress reads it.</summary>
public sealed class RdiffMarkerTests
{
    [Theory]
    [InlineData("PID 1234\n", 1234)]
    [InlineData("pid\t42", 42)]
    [InlineData("Something\nPID 7\n", 7)]
    [InlineData("PID x\nPID 9\n", 9)]
    [InlineData("PID\n\n31", 31)]
    [InlineData(" PID 5\n", null)]
    [InlineData("no pid here", null)]
    [InlineData("PID 99999999999\n", null)]
    [InlineData("", null)]
    public void The_pid_is_the_number_after_the_first_line_that_starts_with_PID(string marker, int? pid) =>
        Assert.Equal(pid, RdiffRepository.PidIn(marker));
}

using BtwBackup.Restore;
using BtwBackup.Sync;
using Xunit;

namespace BtwBackup.Tests.Restore;

public sealed class PendingWorkTests
{
    [Fact]
    public void Each_pending_path_is_dated_by_its_latest_request_in_the_history()
    {
        var state = new SyncState(["www/a.tbz", "www/gone.tbz"], ["db/shop/"]);
        var history = new[]
        {
            "2026-01-01T00:00:00 +push www/a.tbz",
            "2026-01-01T00:00:05 -push www/a.tbz",
            "2026-01-02T00:00:00 +push www/a.tbz",
            "2026-01-03T00:00:00 +sync db/shop/",
        };
        var at = new DateTime(2026, 1, 3, 12, 0, 0, DateTimeKind.Utc);

        var work = PendingWork.From("offsite", state, history, at);

        Assert.Equal(("offsite", at, false), (work.Destination, work.LastSync, work.StateUnknown));
        Assert.Equal(
            [("www/a.tbz", new DateTime(2026, 1, 2, 0, 0, 0, DateTimeKind.Utc)), ("www/gone.tbz", null), ("db/shop/", new DateTime(2026, 1, 3, 0, 0, 0, DateTimeKind.Utc))],
            work.Paths.Select(p => (p.Path, p.Since)).ToArray<(string, DateTime?)>());
        Assert.True(PendingWork.Unknown("offsite", null).StateUnknown);
    }
}

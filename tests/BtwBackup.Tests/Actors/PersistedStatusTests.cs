using BtwBackup.Actors;
using BtwBackup.Protocol;
using Xunit;

namespace BtwBackup.Tests.Actors;

/// <summary>What status.json keeps, as pure changes of the last status.</summary>
public sealed class PersistedStatusTests
{
    private static readonly DateTime Noon = new(2026, 12, 3, 12, 0, 0, DateTimeKind.Utc);

    private static SourceRun Run(string result, string? error = null) => new(result, error is null ? "2026-12-03T12:00:00" : null, error, Noon, 1.5, 10);

    [Fact]
    public void A_source_is_known_from_its_first_job_and_counts_its_failures_while_keeping_its_last_result()
    {
        var status = PersistedStatus.Empty.Started("www", "rdiff", "www");
        Assert.Same(status, status.Started("www", "tar", "elsewhere"));
        Assert.Equal(new SourceRecord("rdiff", "www", null, 0, null), status.Sources["www"]);

        status = status.Failed("www", Run(SourceRun.Failed, "the disk is full")).Failed("www", Run(SourceRun.Failed, "interrupted"));
        Assert.Equal((2, "interrupted"), (status.Sources["www"].Restarts, status.Sources["www"].LastFailure));

        status = status.Completed("www", Run("full"));
        Assert.Equal(("full", 2, "interrupted"), (status.Sources["www"].Last!.Result, status.Sources["www"].Restarts, status.Sources["www"].LastFailure));
        Assert.Empty(PersistedStatus.Empty.Sources);
    }

    [Fact]
    public void A_sync_records_its_time_or_its_first_failure_and_how_many_more_without_forgetting_the_other()
    {
        var status = PersistedStatus.Empty.Synced("offsite", [], Noon);
        Assert.Equal(new DestinationRecord(Noon, null, null), status.Destinations["offsite"]);

        var later = Noon.AddHours(1);
        status = status.Synced("offsite", ["push of www/log.txt to offsite failed: 503", "push of db/x to offsite failed: 503"], later);
        Assert.Equal(new DestinationRecord(Noon, "push of www/log.txt to offsite failed: 503 (and 1 more)", later), status.Destinations["offsite"]);
    }
}

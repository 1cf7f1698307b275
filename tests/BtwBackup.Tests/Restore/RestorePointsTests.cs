using BtwBackup.Config;
using BtwBackup.Restore;
using Xunit;

namespace BtwBackup.Tests.Restore;

public sealed class RestorePointsTests
{
    private static DateTime T(string s) => DateTime.SpecifyKind(DateTime.Parse(s, System.Globalization.CultureInfo.InvariantCulture), DateTimeKind.Utc);

    // A full backup with two increments, then a second full backup (its rdiff time a second after its name).
    private static readonly RestorePoint[] Points =
    [
        new("2026-01-01T02:00:00", T("2026-01-01T02:00:00"), "2026-01-01T02:00:00", T("2026-01-01T02:00:01")),
        new("2026-01-02T02:00:00", T("2026-01-02T02:00:00"), "2026-01-01T02:00:00", T("2026-01-02T02:00:00")),
        new("2026-01-03T02:00:00", T("2026-01-03T02:00:00"), "2026-01-01T02:00:00", T("2026-01-03T02:00:00")),
        new("2026-01-04T02:00:00", T("2026-01-04T02:00:00"), "2026-01-04T02:00:00", T("2026-01-04T02:00:01")),
    ];

    [Theory]
    [InlineData(null, "2026-01-04T02:00:00")]
    [InlineData("now", "2026-01-04T02:00:00")]
    [InlineData("2026-01-02T02:00:00", "2026-01-02T02:00:00")]
    [InlineData(" 2026-01-03T02:00:00", "2026-01-03T02:00:00")]
    [InlineData("2026-01-03T23:59:59", "2026-01-03T02:00:00")]
    [InlineData("2026-01-02", "2026-01-01T02:00:00")]
    [InlineData("2026-01-01T02:00:00Z", "2026-01-01T02:00:00")]
    public void Chooses_a_name_as_list_prints_it_or_the_latest_point_at_or_before_a_time(string? at, string expected) =>
        Assert.Equal(expected, RestorePoints.Choose(Points, at, "www").Name);

    [Fact]
    public void Refuses_a_time_before_the_first_backup_and_text_that_is_no_time()
    {
        Assert.Equal("no backup in www at or before 2025-12-31T00:00:00: the oldest is 2026-01-01T02:00:00",
            Assert.Throws<ConfigException>(() => RestorePoints.Choose(Points, "2025-12-31", "www")).Message);
        Assert.StartsWith("--at: not a backup name, an ISO time or 'now': 'yesterday'",
            Assert.Throws<ConfigException>(() => RestorePoints.Choose(Points, "yesterday", "www")).Message);
        Assert.Equal("no backup in www", Assert.Throws<ConfigException>(() => RestorePoints.Choose([], null, "www")).Message);
    }

    [Theory]
    [InlineData(null, "2026-01-04T02:00:00")]
    [InlineData("2026-01-03T02:00:00", "2026-01-01T02:00:00")]
    [InlineData("2026-01-04T02:00:00", "2026-01-04T02:00:00")]
    public void From_the_names_alone_finds_the_full_backup_that_holds_the_point(string? at, string expected) =>
        Assert.Equal(expected, RestorePoints.ChooseEntry(["2026-01-01T02:00:00", "2026-01-04T02:00:00"], at, "www"));

    [Theory]
    [InlineData("2026-01-01T02:00:00.tbz", "2026-01-01T02:00:00.tbz")]
    [InlineData("2026-01-02", "2026-01-01T02:00:00.tbz")]
    public void From_the_names_alone_finds_the_archive(string at, string expected) =>
        Assert.Equal(expected, RestorePoints.ChooseEntry(["2026-01-01T02:00:00.tbz", "2026-01-03T02:00:00.tbz"], at, "notes"));
}

using BtwBackup.Sync;
using Xunit;

namespace BtwBackup.Tests.Sync;

public sealed class DeletionGuardTests
{
    private static readonly HashSet<string> Series = ["www", "db"];

    private static string? Refusal(string folder, int localFiles, int remote, string[] deletions, DeletionLimits? limits = null, HashSet<string>? topLevel = null) =>
        DeletionGuard.Refusal(new DeletionPlan(folder, localFiles, topLevel ?? Series, remote, deletions), limits ?? new DeletionLimits(1000));

    private static string[] Keys(string folder, int n) => [.. Enumerable.Range(0, n).Select(i => $"{folder}f{i:D4}")];

    [Fact]
    public void A_few_deletions_in_a_folder_that_root_holds_go_ahead()
    {
        Assert.Null(Refusal("", 10, 12, ["www/a", "www/b"]));
        Assert.Null(Refusal("www/x/", 3, 4, ["www/x/old"]));
        Assert.Null(Refusal("", 10, 12, []));
        Assert.Null(Refusal("", 0, 12, [])); // nothing to delete: nothing to refuse
        Assert.Null(Refusal("", 1, 2, ["notes.txt"])); // a top-level file is no series
    }

    [Fact]
    public void An_empty_local_folder_deletes_nothing_even_with_allow_deletes()
    {
        var line = Refusal("", 0, 3, ["www/a", "www/b", "db/c", "db/d"], new DeletionLimits(1000, AllowDeletes: true));
        Assert.Equal("nothing deleted: the local folder root holds no file (an unmounted disk?): 4 object(s) kept, e.g. db/c, db/d, www/a, ...; the sync stays pending until it holds the backups again", line);
        Assert.StartsWith("nothing deleted: the local folder www/x holds no file", Refusal("www/x/", 0, 1, ["www/x/a"]));
    }

    [Fact]
    public void A_whole_series_root_does_not_hold_is_not_deleted_unless_allowed()
    {
        var line = Refusal("", 5, 100, ["old/a", "old/b", "www/c"]);
        Assert.Equal("nothing deleted: root does not hold the series old (2 object(s)) that the destination holds: a sync never deletes a whole series; sync --allow-deletes if it was removed on purpose; the sync stays pending", line);
        Assert.Null(Refusal("", 5, 100, ["old/a", "old/b", "www/c"], new DeletionLimits(1000, AllowDeletes: true)));
    }

    [Fact]
    public void More_than_max_delete_or_than_half_of_the_folder_stops_and_lists_a_few()
    {
        Assert.Equal("nothing deleted: the sync of www would delete 11 object(s), more than sync.max-delete (10), e.g. www/f0000, www/f0001, www/f0002, ...; sync --allow-deletes to go ahead; the sync stays pending",
            Refusal("www/", 100, 100, Keys("www/", 11), new DeletionLimits(10)));
        Assert.Null(Refusal("www/", 100, 100, Keys("www/", 10), new DeletionLimits(10)));
        Assert.Equal("nothing deleted: the sync of root would delete 6 of its 10 object(s) on the destination, more than half, e.g. www/f0000, www/f0001, www/f0002, ...; sync --allow-deletes to go ahead; the sync stays pending",
            Refusal("", 4, 10, Keys("www/", 6)));
        Assert.Null(Refusal("", 5, 10, Keys("www/", 5)));
        Assert.Null(Refusal("", 4, 10, Keys("www/", 6), new DeletionLimits(10, AllowDeletes: true)));
        Assert.NotNull(Refusal("www/", 100, 100, Keys("www/", 1), new DeletionLimits(0)));
    }

    [Fact]
    public void Deletions_a_plan_of_the_tool_made_are_allowed_whatever_their_number()
    {
        var planned = Keys("www/", 50);
        var limits = new DeletionLimits(10) { Planned = planned.ToHashSet(StringComparer.Ordinal) };
        Assert.Null(Refusal("www/", 10, 60, planned, limits));
        Assert.NotNull(Refusal("www/", 10, 60, [.. planned, .. Keys("www/x", 11)], limits));
    }

    [Fact]
    public void A_planned_folder_lets_every_key_under_it_go_and_nothing_beside_it()
    {
        var limits = new DeletionLimits(2) { Planned = new HashSet<string>(["www/2026-10-30T02:30:00"]) };
        var planned = Keys("www/2026-10-30T02:30:00/", 50);
        Assert.Null(Refusal("www/", 10, 60, planned, limits));
        // A key that only starts like the planned folder's name is not under it.
        Assert.NotNull(Refusal("www/", 10, 60, [.. planned, "www/2026-10-30T02:30:00x/a", "www/b", "www/c"], limits));
    }
}

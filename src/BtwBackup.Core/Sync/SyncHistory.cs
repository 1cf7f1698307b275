using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace BtwBackup.Sync;

/// <summary>
/// <c>sync-state --history</c>: a destination's events (by its persistence id, see <see cref="SyncIds"/>) read back with Akka.Persistence.Query,
/// oldest first, in the original's state-file line format (the original's file could be read
/// with cat; an administrator keeps that).
/// </summary>
public static class SyncHistory
{
    public static async Task<ImmutableList<string>> ReadAsync(ActorSystem system, string persistenceId, DateTime? since)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        IImmutableList<EventEnvelope> envelopes;
        try
        {
            envelopes = await journal
                .CurrentEventsByPersistenceId(persistenceId, 0, long.MaxValue)
                .RunWith(Sink.Seq<EventEnvelope>(), system.Materializer());
        }
        catch (Exception e) when (e is OverflowException or InvalidCastException or FormatException)
        {
            // The plugin read a column that is not what it writes (a serializer id out of range).
            throw new SyncJournalDamagedException("row", e);
        }

        return Lines(envelopes.Select(e => e.Event).OfType<SyncEvent>(), since);
    }

    /// <summary>The lines of <paramref name="events"/> at or after <paramref name="since"/> (all when null).</summary>
    public static ImmutableList<string> Lines(IEnumerable<SyncEvent> events, DateTime? since) =>
        [.. events.Where(e => since is null || e.At >= since).Select(SyncHistoryFormat.Line)];

    /// <summary>The histories of several destinations: one as it is; several, each headed by its destination's name.</summary>
    public static ImmutableList<string> Combine(IEnumerable<(string Destination, ImmutableList<string> Lines)> histories)
    {
        var all = histories.ToList();
        if (all.Count == 1)
            return all[0].Lines;
        var lines = ImmutableList.CreateBuilder<string>();
        foreach (var (name, history) in all)
        {
            lines.Add(name + ":");
            lines.AddRange(history.Select(l => "  " + l));
        }

        return lines.ToImmutable();
    }

    /// <summary>Every sync state of <paramref name="host"/> in the journal, as (destination, persistence id), by destination.</summary>
    public static async Task<ImmutableList<(string Destination, string Id)>> HostIdsAsync(ActorSystem system, string host)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var prefix = SyncIds.HostPrefix(host);
        var ids = await journal.CurrentPersistenceIds().RunWith(Sink.Seq<string>(), system.Materializer());
        return [.. ids
            .Where(id => id.StartsWith(prefix, StringComparison.Ordinal) && id.Length > prefix.Length)
            .Select(id => (id[prefix.Length..], id))
            .OrderBy(d => d.Item1, StringComparer.Ordinal)];
    }
}

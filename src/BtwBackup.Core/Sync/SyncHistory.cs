using System.Collections.Immutable;
using Akka.Actor;
using Akka.Persistence.Query;
using Akka.Persistence.Sql.Query;
using Akka.Streams;
using Akka.Streams.Dsl;

namespace BtwBackup.Sync;

/// <summary>
/// <c>sync-state --history</c>: a destination's journal read back with Akka.Persistence.Query,
/// oldest first, in the original's state-file line format (the original's file could be read
/// with cat; an administrator keeps that).
/// </summary>
public static class SyncHistory
{
    public static async Task<ImmutableList<string>> ReadAsync(ActorSystem system, string destination, DateTime? since)
    {
        var journal = PersistenceQuery.Get(system).ReadJournalFor<SqlReadJournal>(SqlReadJournal.Identifier);
        var envelopes = await journal
            .CurrentEventsByPersistenceId("destination-" + destination, 0, long.MaxValue)
            .RunWith(Sink.Seq<EventEnvelope>(), system.Materializer());
        return [.. envelopes
            .Select(e => e.Event)
            .OfType<SyncEvent>()
            .Where(e => since is null || e.At >= since)
            .Select(SyncHistoryFormat.Line)];
    }
}

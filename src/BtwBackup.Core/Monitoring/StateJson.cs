using System.Text.Json.Serialization;
using BtwBackup.Actors;

namespace BtwBackup.Monitoring;

/// <summary>
/// status.json and history.jsonl, with their formats fixed at compile time (the same as
/// <see cref="Protocol.SummaryFormat.Json"/> and the history's own): every command that works
/// in-process reads them at start, and building their metadata by reflection was a tenth of
/// that start.
/// </summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, WriteIndented = true)]
[JsonSerializable(typeof(PersistedStatus))]
internal sealed partial class StatusJson : JsonSerializerContext;

/// <summary>One line of history.jsonl (see <see cref="StatusJson"/>).</summary>
[JsonSourceGenerationOptions(PropertyNamingPolicy = JsonKnownNamingPolicy.SnakeCaseLower, DefaultIgnoreCondition = JsonIgnoreCondition.WhenWritingNull)]
[JsonSerializable(typeof(RunRecord))]
internal sealed partial class RunJson : JsonSerializerContext;

namespace BtwBackup.Config;

/// <summary>
/// A configuration the user can fix: reported as one line, exit 1. The line may quote the
/// user's text (a value, a key); a line break or other control character in it is shown as
/// <c>\xNN</c>, so the report stays one line whatever the file holds.
/// </summary>
public sealed class ConfigException(string message) : Exception(Protocol.TerminalText.Printable(message));

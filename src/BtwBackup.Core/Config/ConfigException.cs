namespace BtwBackup.Config;

/// <summary>
/// A configuration the user can fix: reported as one line, exit 1. The line may quote the
/// user's text (a value, a key); a line break or other control character in it is shown as
/// <c>\xNN</c>, so the report stays one line whatever the file holds.
/// </summary>
public sealed class ConfigException(string message) : Exception(Protocol.TerminalText.Printable(message))
{
    /// <summary>Why a file could not be read, in words rather than the runtime's sentence (which repeats the path).</summary>
    public static string Reason(Exception e) => e switch
    {
        UnauthorizedAccessException => "permission denied",
        FileNotFoundException => "no such file",
        DirectoryNotFoundException => "no such directory",
        _ => e.Message.ReplaceLineEndings(" ").TrimEnd('.'),
    };
}

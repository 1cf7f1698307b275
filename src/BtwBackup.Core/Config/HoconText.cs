namespace BtwBackup.Config;

/// <summary>Writing values into HOCON text built by the program.</summary>
public static class HoconText
{
    /// <summary>A quoted HOCON string for any value (paths, connection strings).</summary>
    public static string Quote(string s) =>
        "\"" + s.Replace("\\", "\\\\", StringComparison.Ordinal).Replace("\"", "\\\"", StringComparison.Ordinal) + "\"";
}

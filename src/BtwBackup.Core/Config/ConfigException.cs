namespace BtwBackup.Config;

/// <summary>A configuration the user can fix: reported as one line, exit 1.</summary>
public sealed class ConfigException(string message) : Exception(message);

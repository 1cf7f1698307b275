using BtwBackup.Config;
using BtwBackup.Crypto;

namespace BtwBackup.Restore;

/// <summary><c>--identity FILE</c> of restore and verify --deep: read before anything is fetched, one line when it cannot be.</summary>
internal static class IdentityOption
{
    /// <summary>
    /// The identities of <paramref name="file"/>; without a file, null, unless
    /// <paramref name="encrypted"/> (a destination the command must decrypt) is given: then
    /// "NAME is encrypted: <paramref name="withoutIt"/>".
    /// </summary>
    public static IReadOnlyList<AgeIdentity>? Read(string? file, DestinationSettings? encrypted, string withoutIt)
    {
        if (file is null)
            return encrypted is null ? null : throw new ConfigException($"{encrypted.Name} is encrypted: {withoutIt}");
        try
        {
            return AgeIdentity.ReadFile(file);
        }
        catch (AgeKeyException e)
        {
            throw new ConfigException("--identity: " + e.Message);
        }
    }
}

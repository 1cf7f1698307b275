using System.Security.Cryptography;
using System.Security.Cryptography.X509Certificates;
using Akka.Remote.Transport.DotNetty;
using BtwBackup.Config;

namespace BtwBackup.Daemon;

/// <summary>
/// TLS for a daemon reachable from other machines: mutual, and pinned. The daemon and every
/// CLI that drives it load the same certificate and key (PEM files the administrator makes
/// once, kept beside the token), and each side accepts a peer only if it presents exactly that
/// certificate: no certificate authority, no host name to get wrong, and no stranger gets as
/// far as the gateway's handshake.
/// </summary>
public static class DaemonTls
{
    /// <summary>The certificate and its private key, checked: the key file must be readable by its owner only.</summary>
    public static X509Certificate2 Load(TlsSettings tls, string key = "daemon.tls")
    {
        if (!File.Exists(tls.Certificate))
            throw new ConfigException($"{key}.certificate: {tls.Certificate} does not exist");
        if (!File.Exists(tls.Key))
            throw new ConfigException($"{key}.key: {tls.Key} does not exist");
        if (!OperatingSystem.IsWindows() && (File.GetUnixFileMode(tls.Key) & (UnixFileMode.GroupRead | UnixFileMode.GroupWrite | UnixFileMode.OtherRead | UnixFileMode.OtherWrite)) != 0)
            throw new ConfigException($"{key}.key: {tls.Key} is readable by other users: make it private (chmod 600) first");
        try
        {
            using var pem = X509Certificate2.CreateFromPemFile(tls.Certificate, tls.Key);
            // An ephemeral PEM key cannot serve TLS on every platform: go through PKCS#12 once.
            return X509CertificateLoader.LoadPkcs12(pem.Export(X509ContentType.Pkcs12), null);
        }
        catch (CryptographicException e)
        {
            throw new ConfigException($"{key}: cannot load {tls.Certificate} with the key {tls.Key}: {e.Message}");
        }
    }

    /// <summary>Akka.Remote's TLS with this certificate on both ends, and nothing else accepted.</summary>
    public static DotNettySslSetup Setup(X509Certificate2 certificate)
    {
        var pinned = certificate.GetCertHash(HashAlgorithmName.SHA256);
        return new DotNettySslSetup(certificate, suppressValidation: false, requireMutualAuthentication: true,
            (peer, _, _, _, _) => peer is not null && CryptographicOperations.FixedTimeEquals(peer.GetCertHash(HashAlgorithmName.SHA256), pinned));
    }
}

/// <summary>daemon.tls: the PEM certificate and key that a daemon listening beyond loopback and its CLI share.</summary>
public sealed record TlsSettings(string Certificate, string Key);

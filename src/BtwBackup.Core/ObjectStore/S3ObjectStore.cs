using System.Net;
using System.Net.Sockets;
using System.Runtime.CompilerServices;
using Amazon.Runtime;
using Amazon.S3;
using Amazon.S3.Model;

namespace BtwBackup.ObjectStore;

/// <summary>How to reach one bucket. Secrets stay in here: <see cref="ToString"/> never shows them.</summary>
public sealed record S3Connection(string Bucket, string? Endpoint, string? Region, string? AccessKey, string? SecretKey, bool ServerSideEncryption)
{
    /// <summary>Sign every body, over HTTPS too (payload-signing = always: a bucket policy that refuses UNSIGNED-PAYLOAD).</summary>
    public bool SignPayload { get; init; }

    public override string ToString() => $"s3://{Bucket} at {Endpoint ?? "AWS"}";
}

/// <summary>
/// The object store over AWSSDK.S3. Uploads are byte-exact on every S3-compatible server we
/// know: no aws-chunked bodies (some servers store them raw), a Content-MD5 on every request
/// (S3 refuses a body that does not match it; the ETag answered is checked as well, for servers
/// that do not). Over HTTPS the body itself is not signed (UNSIGNED-PAYLOAD, as rclone sends it,
/// unless <see cref="S3Connection.SignPayload"/>): the Content-MD5 that binds it is a signed
/// header and TLS carries it, which spares a SHA-256 pass over every byte sent. Over plain HTTP
/// the SDK signs it (it refuses otherwise). A file goes in one PUT streamed from disk
/// with the MD5 the sync already took; above <see cref="MultipartAbove"/> it goes as a
/// hand-written multipart upload streamed part by part, so memory stays bounded.
/// </summary>
public sealed class S3ObjectStore : IObjectStore, IDisposable
{
    public const long PartSize = 8L * 1024 * 1024;

    /// <summary>
    /// The largest file sent in one PUT. One request costs the server one write instead of parts
    /// then their concatenation, and costs us no part MD5s (a multipart upload of 512 MiB took the
    /// test server 4.6 s of CPU, single PUTs 2.9 s). 64 MiB stays within the request timeout down
    /// to an uplink of about 0.25 MB/s, and is what a failed request sends again.
    /// </summary>
    public const long SinglePutLimit = 64L * 1024 * 1024;

    /// <summary>Files larger than this go as multipart uploads (<see cref="SinglePutLimit"/>; tests lower it).</summary>
    public long MultipartAbove { get; init; } = SinglePutLimit;
    private const int PartsInFlight = 2;
    private readonly AmazonS3Client _client;
    private readonly S3Connection _connection;
    private readonly bool _unsignedPayload;

    // Each multipart upload holds its parts in flight in memory: at most four at once keeps the peak
    // bounded whatever the number of large files and the transfer parallelism.
    private readonly SemaphoreSlim _multipart = new(4);

    // Part buffers come from a pool of this store's own, so that at most the buffers of the
    // uploads in flight are kept (the shared pool keeps one per thread).
    private readonly System.Buffers.ArrayPool<byte> _parts = System.Buffers.ArrayPool<byte>.Create((int)PartSize, 2 * PartsInFlight);

    public S3ObjectStore(S3Connection connection)
        : this(connection, null)
    {
    }

    /// <param name="http">The HTTP clients to use (tests pin their HTTPS server's certificate with them); null: <see cref="S3HttpClients"/>.</param>
    /// <param name="timeout">How long one request may take (tests shorten it).</param>
    internal S3ObjectStore(S3Connection connection, S3HttpClients? http, TimeSpan? timeout = null)
    {
        _connection = connection;
        var config = new AmazonS3Config
        {
            HttpClientFactory = http ?? new S3HttpClients(),
            RequestChecksumCalculation = RequestChecksumCalculation.WHEN_REQUIRED,
            ResponseChecksumValidation = ResponseChecksumValidation.WHEN_REQUIRED,
            MaxErrorRetry = 0, // retries are RetryingObjectStore's, with their own backoff
            Timeout = timeout ?? TimeSpan.FromMinutes(5),
            // A body goes out in writes of this size (the SDK's default, 8 KiB, made a 64 MiB PUT
            // 8,192 writes, and the server as many reads); below the large-object heap's threshold.
            BufferSize = 64 * 1024,
        };
        if (connection.Endpoint is not null)
        {
            config.ServiceURL = connection.Endpoint;
            config.ForcePathStyle = true;
            config.AuthenticationRegion = connection.Region ?? "us-east-1";
        }
        else if (connection.Region is not null)
        {
            config.RegionEndpoint = Amazon.RegionEndpoint.GetBySystemName(connection.Region);
        }

        config.EndpointProvider = new S3EndpointCache(config.EndpointProvider);

        // No endpoint: AWS's own, always HTTPS.
        _unsignedPayload = !connection.SignPayload
            && (connection.Endpoint is null || connection.Endpoint.StartsWith("https://", StringComparison.OrdinalIgnoreCase));
        _client = connection.AccessKey is not null && connection.SecretKey is not null
            ? new AmazonS3Client(new BasicAWSCredentials(connection.AccessKey, connection.SecretKey), config)
            : new AmazonS3Client(config);
    }

    /// <summary>
    /// What the first client and the first request of a process pay once, paid ahead: the SDK's
    /// region table, its configuration's statics and request pipeline, the endpoint rules, the
    /// hashes of the signature (OpenSSL's start) and the XML reader of the responses. No request
    /// is made, nothing is read from the configuration. A sync runs it on a thread of its own as
    /// the process starts, on the core the configuration's load leaves idle.
    /// </summary>
    public static void WarmUp()
    {
        using var store = new S3ObjectStore(new S3Connection("warm-up", "http://127.0.0.1:9", null, "warm-up", "warm-up", true), null);
        store._client.Config.EndpointProvider.ResolveEndpoint(new Amazon.S3.Endpoints.S3EndpointParameters
        {
            Bucket = "warm-up", Region = "us-east-1", Endpoint = "http://127.0.0.1:9", UseFIPS = false, UseDualStack = false, ForcePathStyle = true,
            Accelerate = false, UseGlobalEndpoint = false, DisableMultiRegionAccessPoints = false, UseArnRegion = true,
        });
        byte[] some = [1, 2, 3];
        System.Security.Cryptography.HMACSHA256.HashData(some, some);
        System.Security.Cryptography.SHA256.HashData(some);
        System.Security.Cryptography.MD5.HashData(some);
        using var xml = System.Xml.XmlReader.Create(new StringReader("<ListBucketResult><Key>k</Key></ListBucketResult>"));
        while (xml.Read())
        {
        }
    }

    public async IAsyncEnumerable<RemoteObject> ListAsync(string prefix, [EnumeratorCancellation] CancellationToken ct)
    {
        string? token = null;
        do
        {
            var response = await Call("list " + prefix, () => _client.ListObjectsV2Async(new ListObjectsV2Request
            {
                BucketName = _connection.Bucket,
                Prefix = prefix,
                ContinuationToken = token,
                // Keys come URL-encoded: a key with a control character cannot be carried in XML 1.0,
                // and would break the listing rather than be refused by name.
                Encoding = EncodingType.Url,
            }, ct));
            // The SDK leaves the keys as they came; a server that honoured encoding-type says so.
            var encoded = response.Encoding == EncodingType.Url;
            foreach (var o in response.S3Objects ?? [])
                yield return new RemoteObject(encoded ? WebUtility.UrlDecode(o.Key) : o.Key, o.Size ?? 0, PlainMd5(o.ETag)) { ETag = o.ETag?.Trim('"') };
            token = response.IsTruncated == true ? response.NextContinuationToken : null;
        }
        while (token is not null);
    }

    public async Task PutFileAsync(string key, string path, string md5, CancellationToken ct)
    {
        // A small file is read at once and sent from memory (its Content-MD5, taken before, still
        // binds what the server keeps: a file changed since is refused).
        // Not a pooled buffer: a request that timed out may still be reading it.
        if (Sync.Md5Cache.ReadSmall(path, pooled: false) is (byte[] buffer, int read))
        {
            using var body = new MemoryStream(buffer, 0, read, writable: false);
            await PutSingleAsync(key, body, md5, ct);
            return;
        }

        var length = new FileInfo(path).Length;
        await using var file = new FileStream(path, FileMode.Open, FileAccess.Read, FileShare.Read, 1 << 16, useAsync: true);
        if (length <= MultipartAbove)
            await PutSingleAsync(key, file, md5, ct);
        else
            await PutLargeAsync(key, file, length, md5, ct);
    }

    public async Task<string> PutStreamAsync(string key, Func<Stream> open, long length, CancellationToken ct)
    {
        await using var source = open();
        if (length > PartSize)
            return await PutLargeAsync(key, source, length, null, ct);
        // Read whole first (at most a part's size), so that its MD5 goes with the request and the server checks it.
        var bytes = new byte[length];
        await ReadExactAsync(key, source, bytes, ct);
        EnsureEnded(key, source);
        using var body = new MemoryStream(bytes, writable: false);
        return await PutSingleAsync(key, body, Convert.ToHexStringLower(System.Security.Cryptography.MD5.HashData(bytes)), ct);
    }

    /// <summary>One PUT of <paramref name="body"/>, whose MD5 the server checks; the ETag it stored.</summary>
    private async Task<string> PutSingleAsync(string key, Stream body, string md5, CancellationToken ct)
    {
        var request = new PutObjectRequest
        {
            BucketName = _connection.Bucket,
            Key = key,
            InputStream = body,
            AutoCloseStream = false,
            UseChunkEncoding = false,
            DisablePayloadSigning = _unsignedPayload,
            MD5Digest = Convert.ToBase64String(Convert.FromHexString(md5)),
        };
        Describe(request.Metadata, request, md5);
        var response = await Call("put " + key, () => _client.PutObjectAsync(request, ct));
        CheckStored(key, response.ETag, md5);
        return response.ETag.Trim('"');
    }

    /// <summary>A multipart upload, at most four at once in this store (each holds its parts in flight in memory).</summary>
    private async Task<string> PutLargeAsync(string key, Stream source, long length, string? md5, CancellationToken ct)
    {
        await _multipart.WaitAsync(ct);
        try
        {
            return await PutMultipartAsync(key, source, length, md5, ct);
        }
        finally
        {
            _multipart.Release();
        }
    }

    private static async Task ReadExactAsync(string key, Stream source, Memory<byte> buffer, CancellationToken ct)
    {
        try
        {
            await source.ReadExactlyAsync(buffer, ct);
        }
        catch (EndOfStreamException)
        {
            throw new ObjectStoreException($"put {key}: the content ended early (its file changed during the upload)", transient: true);
        }
    }

    /// <summary>A source longer than declared (a file that grew during the upload) is never stored cut short.</summary>
    private static void EnsureEnded(string key, Stream source)
    {
        if (source.ReadByte() >= 0)
            throw new ObjectStoreException($"put {key}: the content goes on past its size (its file changed during the upload)", transient: true);
    }

    private void Describe(MetadataCollection metadata, PutObjectRequest request, string md5)
    {
        metadata["btw-md5"] = md5;
        if (_connection.ServerSideEncryption)
            request.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AES256;
    }

    /// <summary>A multipart upload of <paramref name="length"/> bytes of <paramref name="source"/>; <paramref name="md5"/>, when known, is kept in its metadata. Its ETag.</summary>
    private async Task<string> PutMultipartAsync(string key, Stream source, long length, string? md5, CancellationToken ct)
    {
        var initiate = new InitiateMultipartUploadRequest { BucketName = _connection.Bucket, Key = key };
        if (md5 is not null)
            initiate.Metadata["btw-md5"] = md5;
        if (_connection.ServerSideEncryption)
            initiate.ServerSideEncryptionMethod = ServerSideEncryptionMethod.AES256;
        var upload = await Call("put " + key, () => _client.InitiateMultipartUploadAsync(initiate, ct));
        try
        {
            // Parts go up PartsInFlight at a time, each from a pooled buffer: memory stays at
            // PartsInFlight x PartSize per upload, whatever the file size.
            var parts = new List<Task<PartETag>>();
            using var inFlight = new SemaphoreSlim(PartsInFlight);
            for (var number = 1; (long)(number - 1) * PartSize < length; number++)
            {
                await inFlight.WaitAsync(ct);
                var buffer = _parts.Rent((int)PartSize);
                int size;
                try
                {
                    size = (int)Math.Min(PartSize, length - (number - 1) * PartSize);
                    await ReadExactAsync(key, source, buffer.AsMemory(0, size), ct);
                }
                catch
                {
                    _parts.Return(buffer);
                    inFlight.Release();
                    throw;
                }

                parts.Add(UploadPartAsync(key, upload.UploadId, number, buffer, size, inFlight, ct));
            }

            var etags = await Task.WhenAll(parts);
            EnsureEnded(key, source);
            var completed = await Call("put " + key, () => _client.CompleteMultipartUploadAsync(new CompleteMultipartUploadRequest
            {
                BucketName = _connection.Bucket,
                Key = key,
                UploadId = upload.UploadId,
                PartETags = [.. etags],
            }, ct));
            return completed.ETag.Trim('"');
        }
        catch
        {
            try
            {
                await _client.AbortMultipartUploadAsync(_connection.Bucket, key, upload.UploadId, CancellationToken.None);
            }
            catch (Exception e) when (e is AmazonServiceException or HttpRequestException or IOException)
            {
                // The upload stays incomplete on the server; a lifecycle rule cleans those.
            }

            throw;
        }
    }

    private async Task<PartETag> UploadPartAsync(string key, string uploadId, int number, byte[] buffer, int size, SemaphoreSlim inFlight, CancellationToken ct)
    {
        try
        {
            var partMd5 = System.Security.Cryptography.MD5.HashData(buffer.AsSpan(0, size));
            using var part = new MemoryStream(buffer, 0, size, writable: false);
            var response = await Call($"put {key} part {number}", () => _client.UploadPartAsync(new UploadPartRequest
            {
                BucketName = _connection.Bucket,
                Key = key,
                UploadId = uploadId,
                PartNumber = number,
                InputStream = part,
                PartSize = size,
                UseChunkEncoding = false,
                DisablePayloadSigning = _unsignedPayload,
                MD5Digest = Convert.ToBase64String(partMd5),
            }, ct));
            CheckStored($"{key} part {number}", response.ETag, Convert.ToHexStringLower(partMd5));
            return new PartETag(number, response.ETag);
        }
        finally
        {
            _parts.Return(buffer);
            inFlight.Release();
        }
    }

    public Task DeleteAsync(string key, CancellationToken ct) =>
        Call("delete " + key, () => _client.DeleteObjectAsync(_connection.Bucket, key, ct));

    public async Task<string?> StoredMd5Async(string key, CancellationToken ct)
    {
        var metadata = await Call("head " + key, () => _client.GetObjectMetadataAsync(_connection.Bucket, key, ct));
        return metadata.Metadata["btw-md5"] ?? PlainMd5(metadata.ETag);
    }

    public async Task GetFileAsync(string key, string path, CancellationToken ct)
    {
        using var response = await Call("get " + key, () => _client.GetObjectAsync(_connection.Bucket, key, ct));
        await using var output = new FileStream(path, FileMode.Create, FileAccess.Write, FileShare.None, 1 << 16, useAsync: true);
        try
        {
            await response.ResponseStream.CopyToAsync(output, ct);
        }
        catch (AmazonClientException e)
        {
            // The SDK checks a body against its ETag as it reads (a copy damaged on the server, or on the way).
            throw new ObjectStoreException($"get {key}: the downloaded content does not match its MD5 ({e.Message})", transient: false, e);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or SocketException && e is not OperationCanceledException)
        {
            throw new ObjectStoreException($"get {key}: {e.Message}", transient: true, e);
        }
    }

    /// <summary>
    /// S3 refuses a body whose Content-MD5 does not match; some compatible servers do not, so the
    /// ETag they answer (the MD5 of what they stored, for a single part) is checked as well.
    /// </summary>
    private static void CheckStored(string what, string? etag, string md5)
    {
        if (PlainMd5(etag) is { } stored && stored != md5)
            throw new ObjectStoreException($"put {what}: the server stored other content than sent (MD5 {stored}, expected {md5})", transient: true);
    }

    /// <summary>The listing's ETag is the content's MD5 only for single-part uploads: a quoted 32-hex string.</summary>
    internal static string? PlainMd5(string? etag)
    {
        var e = etag?.Trim('"');
        return e is { Length: 32 } && e.All(Uri.IsHexDigit) ? e.ToLowerInvariant() : null;
    }

    /// <summary>Runs one request and classifies its failure: transient (retry) or not.</summary>
    private static async Task<T> Call<T>(string what, Func<Task<T>> request)
    {
        try
        {
            return await request();
        }
        catch (AmazonServiceException e)
        {
            var status = (int)e.StatusCode;
            var transient = status >= 500 || status is 408 or 429 || e.ErrorCode is "RequestTimeout" or "SlowDown" or "BadDigest";
            throw new ObjectStoreException($"{what}: {(status > 0 ? status + " " : "")}{e.ErrorCode ?? e.Message}", transient, e);
        }
        catch (HttpRequestException e) when (e.InnerException is System.Security.Authentication.AuthenticationException refused)
        {
            // The SDK's own text only says to see this inner exception. Retried as any connection
            // failure (a proxy in front of the server can fail handshakes while it restarts).
            var untrusted = refused.Message.Contains("certificate", StringComparison.OrdinalIgnoreCase);
            throw new ObjectStoreException($"{what}: TLS: {refused.Message}{(untrusted ? " (a server with a private CA is trusted through SSL_CERT_FILE)" : "")}", transient: true, e);
        }
        catch (Exception e) when (e is HttpRequestException or IOException or SocketException or WebException or TimeoutException or TaskCanceledException && e is not OperationCanceledException { CancellationToken.IsCancellationRequested: true })
        {
            throw new ObjectStoreException($"{what}: {e.Message}", transient: true, e);
        }
        catch (Exception e) when (e is System.Xml.XmlException or AmazonUnmarshallingException)
        {
            throw new ObjectStoreException($"{what}: the server's answer is not valid S3 XML: {e.Message}", transient: false, e);
        }
    }

    public void Dispose()
    {
        _client.Dispose();
        _multipart.Dispose();
    }
}

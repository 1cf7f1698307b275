using System.Net.Sockets;
using System.Text;

namespace BtwBackup.IntegrationTests;

/// <summary>
/// An Akka.Remote client written from the wire format, with no Akka library: what a hostile local
/// user can write in an afternoon. DotNetty framing (a 4-byte little-endian length, then one PDU),
/// an ASSOCIATE handshake naming any origin it likes, then envelopes to any actor path, with any
/// serializer id and manifest.
/// </summary>
internal sealed class RawAkkaClient : IAsyncDisposable
{
    private readonly TcpClient _tcp;
    private readonly NetworkStream _stream;
    private readonly TcpListener _listener;
    private readonly int _port;

    private RawAkkaClient(TcpClient tcp, TcpListener listener)
    {
        _tcp = tcp;
        _stream = tcp.GetStream();
        _listener = listener;
        _port = ((System.Net.IPEndPoint)listener.LocalEndpoint).Port;
        Address = $"akka.tcp://intruder@127.0.0.1:{_port}";
    }

    /// <summary>The address this client claims; it listens there, for what the daemon sends back.</summary>
    public string Address { get; }

    public static async Task<RawAkkaClient> AssociateAsync(int port)
    {
        var listener = new TcpListener(System.Net.IPAddress.Loopback, 0);
        listener.Start();
        var tcp = new TcpClient();
        await tcp.ConnectAsync("127.0.0.1", port);
        var client = new RawAkkaClient(tcp, listener);
        await WriteFrameAsync(client._stream, client.Associate());
        return client;
    }

    private byte[] Associate()
    {
        var origin = Message(Text(1, "intruder"), Text(2, "127.0.0.1"), Varint(3, (ulong)_port), Text(4, "tcp"));
        var handshake = Message(Field(1, origin), Fixed64(2, (ulong)Random.Shared.NextInt64()));
        return Message(Field(2, Message(Varint(1, 1), Field(2, handshake))));
    }

    /// <summary>One message for <paramref name="recipientPath"/> (relative to the daemon's address), as raw serialized bytes.</summary>
    public Task SendAsync(string daemonAddress, string recipientPath, int serializerId, string? manifest, byte[] body, ulong? seq = null)
    {
        var payload = new List<byte[]> { Bytes(1, body), Varint(2, (ulong)serializerId) };
        if (manifest is not null)
            payload.Add(Text(3, manifest));
        var envelope = new List<byte[]>
        {
            Field(1, Message(Text(1, daemonAddress + recipientPath))),
            Field(2, Message([.. payload])),
            Field(4, Message(Text(1, Address + "/user/intruder"))),
        };
        // No sequence number (the maximum) for an ordinary message; system messages carry one.
        envelope.Add(Fixed64(5, seq ?? ulong.MaxValue));
        var container = Message(Field(2, Message([.. envelope])));
        return WriteFrameAsync(_stream, Message(Bytes(1, container)));
    }

    private static async Task WriteFrameAsync(NetworkStream stream, byte[] pdu)
    {
        var frame = new byte[4 + pdu.Length];
        BitConverter.TryWriteBytes(frame.AsSpan(0, 4), pdu.Length);
        if (!BitConverter.IsLittleEndian)
            frame.AsSpan(0, 4).Reverse();
        pdu.CopyTo(frame, 4);
        await stream.WriteAsync(frame);
        await stream.FlushAsync();
    }

    /// <summary>
    /// Waits until the daemon sends something that holds <paramref name="marker"/>: on this
    /// connection, or on one it opens back to the address this client claims (as Akka.Remote
    /// may, to reply).
    /// </summary>
    public async Task<bool> ReceivesAsync(string marker, TimeSpan timeout) => await ReceiveAsync(marker, timeout) is not null;

    /// <summary>What the daemon sent, up to and with the first frame that holds <paramref name="marker"/> (as Latin-1 text); null when nothing did in time.</summary>
    public async Task<string?> ReceiveAsync(string marker, TimeSpan timeout)
    {
        using var cts = new CancellationTokenSource(timeout);
        var found = new TaskCompletionSource<string?>(TaskCreationOptions.RunContinuationsAsynchronously);
        var readers = new List<Task> { ReadUntilAsync(_stream, marker, found, cts.Token) };
        _ = Task.Run(async () =>
        {
            try
            {
                while (!cts.IsCancellationRequested)
                {
                    var back = await _listener.AcceptTcpClientAsync(cts.Token);
                    await WriteFrameAsync(back.GetStream(), Associate());
                    readers.Add(ReadUntilAsync(back.GetStream(), marker, found, cts.Token).ContinueWith(_ => back.Dispose(), TaskScheduler.Default));
                }
            }
            catch (Exception e) when (e is OperationCanceledException or SocketException or IOException)
            {
            }
        });
        await using (cts.Token.Register(() => found.TrySetResult(null)))
            return await found.Task;
    }

    private static async Task ReadUntilAsync(NetworkStream stream, string marker, TaskCompletionSource<string?> found, CancellationToken ct)
    {
        var seen = new List<byte>();
        var buffer = new byte[65536];
        try
        {
            int n;
            while ((n = await stream.ReadAsync(buffer, ct)) > 0)
            {
                seen.AddRange(buffer.AsSpan(0, n));
                var text = Encoding.Latin1.GetString([.. seen]);
                if (text.Contains(marker, StringComparison.Ordinal))
                {
                    found.TrySetResult(text);
                    return;
                }
            }
        }
        catch (Exception e) when (e is OperationCanceledException or IOException or ObjectDisposedException)
        {
        }
    }

    public ValueTask DisposeAsync()
    {
        _tcp.Dispose();
        _listener.Stop();
        return ValueTask.CompletedTask;
    }

    // Protocol buffers, the little that is needed: varints, length-delimited fields, fixed64.
    private static byte[] Message(params byte[][] fields) => [.. fields.SelectMany(f => f)];

    private static byte[] Field(int number, byte[] content) => [.. Key(number, 2), .. VarintBytes((ulong)content.Length), .. content];

    private static byte[] Bytes(int number, byte[] content) => Field(number, content);

    private static byte[] Text(int number, string text) => Field(number, Encoding.UTF8.GetBytes(text));

    private static byte[] Varint(int number, ulong value) => [.. Key(number, 0), .. VarintBytes(value)];

    private static byte[] Fixed64(int number, ulong value) => [.. Key(number, 1), .. BitConverter.GetBytes(value)];

    private static byte[] Key(int number, int wireType) => VarintBytes((ulong)((number << 3) | wireType));

    private static byte[] VarintBytes(ulong value)
    {
        var bytes = new List<byte>();
        do
        {
            var b = (byte)(value & 0x7F);
            value >>= 7;
            bytes.Add(value == 0 ? b : (byte)(b | 0x80));
        }
        while (value != 0);
        return [.. bytes];
    }
}

using System.Collections.Concurrent;
using System.Net;
using System.Net.Sockets;
using System.Text;

namespace EfficientViT.ML.Tests.Checkpoints.Pretrained;

/// <summary>What the loopback server answers to one request.</summary>
/// <param name="Status">The HTTP status code.</param>
/// <param name="Body">The body (null: none).</param>
/// <param name="Location">A Location header (redirects).</param>
/// <param name="ContentLength">The announced Content-Length; default the body's length.</param>
/// <param name="SendBytes">Send only this many bytes of the body, then close the connection (a truncated body).</param>
/// <param name="StallAfter">Send this many bytes of the body, then send nothing more until the server is disposed.</param>
/// <param name="BeforeBody">Awaited after the headers are sent and before the body.</param>
internal sealed record Reply(int Status, byte[]? Body = null, string? Location = null, long? ContentLength = null, int? SendBytes = null, int? StallAfter = null,
    Func<Task>? BeforeBody = null)
{
    public static Reply Ok(byte[] body) => new(200, body);

    public static Reply NotFound() => new(404, Encoding.ASCII.GetBytes("not found"));

    public static Reply Redirect(string location) => new(302, Location: location);
}

/// <summary>
/// A minimal HTTP/1.1 server on 127.0.0.1 that the tests start: every request's path is recorded, and the answer
/// (status, headers, how much of the body, stalls) is exactly what the test asks for, which a real server would not do.
/// </summary>
internal sealed class LoopbackServer : IDisposable
{
    private readonly TcpListener listener = new(IPAddress.Loopback, 0);
    private readonly CancellationTokenSource stop = new();
    private readonly Func<string, Reply> answer;

    // Open connections stay reachable: a connection waiting on a task nothing else references would otherwise be
    // collected, and the socket's finalizer would reset it.
    private readonly ConcurrentBag<TcpClient> connections = [];

    public LoopbackServer(Func<string, Reply> answer)
    {
        this.answer = answer;
        listener.Start();
        BaseUrl = new Uri($"http://127.0.0.1:{((IPEndPoint)listener.LocalEndpoint).Port}/");
        _ = Task.Run(AcceptLoop);
    }

    /// <summary>http://127.0.0.1:PORT/</summary>
    public Uri BaseUrl { get; }

    /// <summary>The paths requested, in order of arrival.</summary>
    public ConcurrentQueue<string> Requests { get; } = new();

    public Uri Url(string path) => new(BaseUrl, path.TrimStart('/'));

    private async Task AcceptLoop()
    {
        while (!stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await listener.AcceptTcpClientAsync(stop.Token);
            }
            catch (Exception e) when (e is OperationCanceledException or ObjectDisposedException or SocketException)
            {
                return;
            }
            connections.Add(client);
            _ = Task.Run(() => Serve(client));
        }
    }

    private async Task Serve(TcpClient client)
    {
        using (client)
        {
            try
            {
                var stream = client.GetStream();
                var path = await ReadRequestPath(stream);
                Requests.Enqueue(path);
                var reply = answer(path);
                var body = reply.Body ?? [];
                var headers = new StringBuilder($"HTTP/1.1 {reply.Status} {(HttpStatusCode)reply.Status}\r\n");
                headers.Append($"Content-Length: {reply.ContentLength ?? body.Length}\r\n");
                if (reply.Location is { } location)
                    headers.Append($"Location: {location}\r\n");
                headers.Append("Connection: close\r\n\r\n");
                await stream.WriteAsync(Encoding.ASCII.GetBytes(headers.ToString()), stop.Token);
                if (reply.BeforeBody is { } wait)
                    await wait();
                var count = Math.Min(body.Length, reply.StallAfter ?? reply.SendBytes ?? body.Length);
                for (var offset = 0; offset < count; offset += 1 << 16)
                    await stream.WriteAsync(body.AsMemory(offset, Math.Min(1 << 16, count - offset)), stop.Token);
                await stream.FlushAsync(stop.Token);
                if (reply.StallAfter is not null)
                    await Task.Delay(Timeout.Infinite, stop.Token);
            }
            catch (Exception e) when (e is IOException or OperationCanceledException or SocketException or ObjectDisposedException)
            {
                // The client went away (a timeout, a killed process) or the test ended.
            }
        }
    }

    private static async Task<string> ReadRequestPath(NetworkStream stream)
    {
        // Byte by byte up to the blank line: a request has no body here, and nothing of the next one may be consumed.
        var text = new StringBuilder();
        var one = new byte[1];
        while (!text.ToString().EndsWith("\r\n\r\n", StringComparison.Ordinal))
        {
            if (await stream.ReadAsync(one) == 0)
                throw new IOException("the client closed the connection before the request ended");
            text.Append((char)one[0]);
        }
        return text.ToString().Split(' ')[1];
    }

    public void Dispose()
    {
        stop.Cancel();
        listener.Stop();
        foreach (var client in connections)
            client.Dispose();
    }
}

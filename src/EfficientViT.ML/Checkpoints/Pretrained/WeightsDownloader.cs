using System.Net;
using System.Net.Http.Headers;
using System.Security.Cryptography;

namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// Downloads one file over HTTP(S) into a stream: redirects followed up to a bound (never from https to http),
/// a timeout on connecting and on every wait for more bytes, the body checked against its announced and expected
/// sizes, and its SHA-256 computed on the way.
/// </summary>
internal static class WeightsDownloader
{
    /// <summary>Writes the body at <paramref name="url"/> to <paramref name="destination"/>; returns its SHA-256 (lower-case hex) and where it came from.</summary>
    /// <exception cref="PretrainedWeightsException">Any failure, naming <paramref name="name"/>, the URL and the problem.</exception>
    public static (string Sha256, Uri FinalUrl) Download(string name, Uri url, long? expectedSize, Stream destination, PretrainedWeightsOptions options)
    {
        // The library's API is synchronous (ML.NET's Fit, the trainers); the download runs on the thread pool so that
        // a caller's synchronization context cannot deadlock it.
        return Task.Run(() => DownloadAsync(name, url, expectedSize, destination, options)).GetAwaiter().GetResult();
    }

    private static async Task<(string, Uri)> DownloadAsync(string name, Uri url, long? expectedSize, Stream destination, PretrainedWeightsOptions options)
    {
        using var handler = new SocketsHttpHandler
        {
            // Redirects are followed below, to bound them, to refuse a downgrade to http and to name the URL that failed.
            AllowAutoRedirect = false,
            ConnectTimeout = options.Timeout,
            AutomaticDecompression = DecompressionMethods.None,
        };
        using var client = new HttpClient(handler) { Timeout = System.Threading.Timeout.InfiniteTimeSpan };
        client.DefaultRequestHeaders.UserAgent.Add(new ProductInfoHeaderValue("EfficientViT.ML", typeof(WeightsDownloader).Assembly.GetName().Version?.ToString() ?? "0"));

        var current = url;
        for (var redirects = 0; ; redirects++)
        {
            using var response = await Send(name, current, client, options.Timeout);
            if (IsRedirect(response.StatusCode))
            {
                var location = response.Headers.Location
                    ?? throw new PretrainedWeightsException(name, current, $"HTTP {(int)response.StatusCode} redirect without a Location header");
                var next = location.IsAbsoluteUri ? location : new Uri(current, location);
                if (redirects + 1 > options.MaxRedirects)
                    throw new PretrainedWeightsException(name, url, $"more than {options.MaxRedirects} redirects (the last to {next})");
                if (current.Scheme == Uri.UriSchemeHttps && next.Scheme != Uri.UriSchemeHttps)
                    throw new PretrainedWeightsException(name, current, $"refusing a redirect from https to {next}");
                current = next;
                continue;
            }
            if (!response.IsSuccessStatusCode)
                throw new PretrainedWeightsException(name, current, $"HTTP {(int)response.StatusCode} {response.ReasonPhrase}");

            var announced = response.Content.Headers.ContentLength;
            if (announced is { } length && expectedSize is { } expected && length != expected)
                throw new PretrainedWeightsException(name, current, $"wrong size: the server announces {length:N0} bytes, expected {expected:N0}");
            var total = expectedSize ?? announced;
            options.Progress?.Report(new DownloadProgress(name, current, 0, total, Completed: false));
            var sha256 = await CopyBody(name, current, response, destination, total, options);
            return (sha256, current);
        }
    }

    private static async Task<HttpResponseMessage> Send(string name, Uri url, HttpClient client, TimeSpan timeout)
    {
        using var headersTimeout = new CancellationTokenSource(timeout);
        try
        {
            return await client.GetAsync(url, HttpCompletionOption.ResponseHeadersRead, headersTimeout.Token);
        }
        catch (OperationCanceledException e) when (headersTimeout.IsCancellationRequested)
        {
            throw new PretrainedWeightsException(name, url, $"timed out: no response within {timeout.TotalSeconds:G3} s", e);
        }
        catch (HttpRequestException e)
        {
            throw new PretrainedWeightsException(name, url, $"cannot connect: {e.Message}", e);
        }
    }

    private static async Task<string> CopyBody(string name, Uri url, HttpResponseMessage response, Stream destination, long? total, PretrainedWeightsOptions options)
    {
        using var sha = IncrementalHash.CreateHash(HashAlgorithmName.SHA256);
        var announced = response.Content.Headers.ContentLength;
        var buffer = new byte[1 << 16];
        long received = 0;
        try
        {
            await using var body = await response.Content.ReadAsStreamAsync();
            while (true)
            {
                // A timeout per read, not per download: a large file on a slow link is fine, a stalled one is not.
                using var stall = new CancellationTokenSource(options.Timeout);
                int read;
                try
                {
                    read = await body.ReadAsync(buffer, stall.Token);
                }
                catch (OperationCanceledException e) when (stall.IsCancellationRequested)
                {
                    throw new PretrainedWeightsException(name, url, $"timed out: no data for {options.Timeout.TotalSeconds:G3} s after {received:N0} bytes", e);
                }
                if (read == 0)
                    break;
                received += read;
                if (total is { } limit && received > limit)
                    throw new PretrainedWeightsException(name, url, $"wrong size: more than the expected {limit:N0} bytes");
                sha.AppendData(buffer, 0, read);
                try
                {
                    destination.Write(buffer, 0, read);
                }
                catch (IOException e)
                {
                    throw new PretrainedWeightsException(name, url, $"cannot write the download to the cache: {e.Message}", e);
                }
                options.Progress?.Report(new DownloadProgress(name, url, received, total, Completed: false));
            }
        }
        catch (Exception e) when (e is IOException or HttpRequestException && e is not PretrainedWeightsException)
        {
            throw new PretrainedWeightsException(name, url, $"truncated: the connection ended after {received:N0}" +
                (announced is { } all ? $" of {all:N0} bytes" : " bytes") + $" ({e.Message})", e);
        }
        if (announced is { } expectedLength && received != expectedLength)
            throw new PretrainedWeightsException(name, url, $"truncated: received {received:N0} of {expectedLength:N0} bytes");
        if (total is { } size && received != size)
            throw new PretrainedWeightsException(name, url, $"wrong size: received {received:N0} bytes, expected {size:N0}");
        return Convert.ToHexStringLower(sha.GetHashAndReset());
    }

    private static bool IsRedirect(HttpStatusCode status) =>
        status is HttpStatusCode.MovedPermanently or HttpStatusCode.Found or HttpStatusCode.SeeOther
            or HttpStatusCode.TemporaryRedirect or HttpStatusCode.PermanentRedirect;
}

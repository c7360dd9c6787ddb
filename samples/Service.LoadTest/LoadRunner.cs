using System.Diagnostics;
using System.Net.Http.Headers;
using System.Net.Http.Json;

namespace EfficientViT.Service.LoadTest;

/// <summary>Sends a fixed number of <c>POST /predict</c> requests from concurrent clients and checks every answer.</summary>
/// <param name="client">A client for the service's address.</param>
/// <param name="images">The image files to send, in turn.</param>
/// <param name="expected">The serial answer for each image.</param>
/// <param name="tolerance">The largest accepted difference of a probability from the serial answer's.</param>
public sealed class LoadRunner(HttpClient client, IReadOnlyList<byte[]> images, IReadOnlyList<Prediction> expected, float tolerance)
{
    /// <summary>Runs <paramref name="requests"/> requests spread over <paramref name="clients"/> clients.</summary>
    public async Task<LoadResult> RunAsync(string configuration, int clients, int requests)
    {
        var latencies = new double[requests];
        var next = -1;
        var errors = 0;
        var mismatches = 0;
        var clock = Stopwatch.StartNew();
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int request;
            while ((request = Interlocked.Increment(ref next)) < requests)
            {
                var image = request % images.Count;
                var start = Stopwatch.GetTimestamp();
                var answer = await PredictAsync(images[image]);
                latencies[request] = Stopwatch.GetElapsedTime(start).TotalMilliseconds;
                if (answer is null)
                    Interlocked.Increment(ref errors);
                else if (!Matches(answer, expected[image]))
                    Interlocked.Increment(ref mismatches);
            }
        })));
        var seconds = clock.Elapsed.TotalSeconds;
        Array.Sort(latencies);
        return new LoadResult(configuration, clients, requests, seconds, latencies, errors, mismatches, null);
    }

    private async Task<Prediction?> PredictAsync(byte[] image)
    {
        try
        {
            using var content = new ByteArrayContent(image);
            content.Headers.ContentType = new MediaTypeHeaderValue("image/png");
            using var response = await client.PostAsync("predict", content);
            return response.IsSuccessStatusCode ? await response.Content.ReadFromJsonAsync<Prediction>() : null;
        }
        catch (HttpRequestException)
        {
            return null;
        }
    }

    /// <summary>The same classes in the same order, each probability within <paramref name="tolerance"/>.</summary>
    public static bool Matches(Prediction answer, Prediction expected, float tolerance) =>
        answer.Label == expected.Label && answer.Top.Count == expected.Top.Count &&
        answer.Top.Zip(expected.Top).All(pair => pair.First.Label == pair.Second.Label && Math.Abs(pair.First.Probability - pair.Second.Probability) <= tolerance);

    private bool Matches(Prediction answer, Prediction expected) => Matches(answer, expected, tolerance);
}

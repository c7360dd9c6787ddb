using System.Text;

namespace EfficientViT.Service.LoadTest;

/// <summary>One kind of upload in the soak, and the answers it may get.</summary>
/// <param name="Kind">What it is, for the report.</param>
/// <param name="Body">The request body.</param>
/// <param name="ContentType">Its Content-Type.</param>
/// <param name="Statuses">The statuses it may get.</param>
/// <param name="Label">For an image the service scores, the model's own answer for it (one image, one engine).</param>
/// <param name="ExpectContinue">Ask for 100-continue first (a body refused from its declared length).</param>
public sealed record SoakUpload(string Kind, byte[] Body, string ContentType, int[] Statuses, string? Label = null, bool ExpectContinue = false);

/// <summary>
/// A fixed number of uploads, good ones mixed with large and malformed ones, from concurrent clients against the
/// service run as a process of its own, within a time limit. Every answer must have an allowed status, be JSON
/// (503 with Retry-After), and give the model's own answer for the images it scores; afterwards the service
/// must still be healthy, and stop on SIGTERM with exit code 0 and no temporary files left.
/// </summary>
public static class SoakScenario
{
    /// <summary>
    /// The mix, one entry per request of a round: mostly small good images (as PNG, JPEG and form uploads), one
    /// 4096×4096 image (scored, or 503 when the decode budget is taken), and one of each malformed or refused kind.
    /// Small images must be scored: the budget keeps a lane for them, so they never wait behind 4096×4096 ones.
    /// </summary>
    public static IReadOnlyList<SoakUpload> Mix(IReadOnlyList<(byte[] Png, string Label)> good, (byte[] File, string Label) jpeg, (byte[] File, string Label) large)
    {
        var mix = new List<SoakUpload>();
        foreach (var (png, label) in good.Take(6))
            mix.Add(new SoakUpload("small PNG", png, "image/png", [200], label));
        mix.Add(new SoakUpload("JPEG", jpeg.File, "image/jpeg", [200], jpeg.Label));
        mix.Add(new SoakUpload("PNG as a form file", HostileUploads.Multipart(good[0].Png), HostileUploads.MultipartContentType, [200], good[0].Label));
        mix.Add(new SoakUpload("4096x4096 PNG", large.File, "image/png", [200, 503], large.Label));
        mix.Add(new SoakUpload("8000x6250 PNG header", HostileUploads.PngDeclaring(8000, 6250), "image/png", [413]));
        mix.Add(new SoakUpload("11 MB body", new byte[11 * 1024 * 1024], "image/png", [413], ExpectContinue: true));
        mix.Add(new SoakUpload("form without its closing boundary", HostileUploads.MultipartWithoutClosingBoundary(good[1].Png), HostileUploads.MultipartContentType, [400]));
        mix.Add(new SoakUpload("form cut in its file", HostileUploads.MultipartCutInFile(good[2].Png), HostileUploads.MultipartContentType, [400]));
        mix.Add(new SoakUpload("JPEG without scan data", HostileUploads.JpegWithoutScanData(jpeg.File), "image/jpeg", [400]));
        mix.Add(new SoakUpload("truncated PNG", HostileUploads.Truncated(good[3].Png, 0.5), "image/png", [400]));
        mix.Add(new SoakUpload("text as image/png", Encoding.UTF8.GetBytes("this is not an image"), "image/png", [400]));
        mix.Add(new SoakUpload("empty body", [], "image/png", [400]));
        mix.Add(new SoakUpload("text/plain", good[4].Png, "text/plain", [415]));
        return mix;
    }

    /// <summary>Sends <paramref name="requests"/> uploads of <paramref name="mix"/> in turn from <paramref name="clients"/> clients; prints a table per kind. True when every check passes.</summary>
    public static async Task<bool> RunAsync(string serviceAssembly, IReadOnlyList<string> serviceArguments, IReadOnlyList<SoakUpload> mix, int requests, int clients, TimeSpan timeLimit)
    {
        using var folder = new TemporaryFolder();
        using var service = await ServiceProcess.StartAsync(serviceAssembly, serviceArguments, folder.Path);
        // A body refused from its declared length gets its 413 before 100-continue: the client waits for that
        // answer instead of sending the body after a second, into a connection the service is closing.
        using var client = new HttpClient(new SocketsHttpHandler { Expect100ContinueTimeout = TimeSpan.FromMinutes(1) })
        {
            BaseAddress = service.Address,
            Timeout = TimeSpan.FromMinutes(2),
        };
        using var deadline = new CancellationTokenSource(timeLimit);

        var answers = new UploadAnswer?[requests];
        var next = -1;
        await Task.WhenAll(Enumerable.Range(0, clients).Select(_ => Task.Run(async () =>
        {
            int request;
            while (!deadline.IsCancellationRequested && (request = Interlocked.Increment(ref next)) < requests)
            {
                var upload = mix[request % mix.Count];
                answers[request] = await UploadAnswer.PostAsync(client, upload.Body, upload.ContentType, upload.ExpectContinue);
            }
        })));
        var healthy = await MemoryScenario.HealthyAsync(client);
        var peak = service.PeakResidentBytes;
        var exitCode = await service.TerminateAsync(TimeSpan.FromMinutes(1));
        var leftovers = ServiceProcess.Leftovers(folder.Path);

        Console.WriteLine("| upload | sent | statuses | wrong |");
        Console.WriteLine("|---|---|---|---|");
        var wrong = 0;
        foreach (var group in Enumerable.Range(0, requests).Where(i => answers[i] is not null).GroupBy(i => mix[i % mix.Count].Kind))
        {
            var failures = group.Where(i => !Passes(mix[i % mix.Count], answers[i]!)).Select(i => answers[i]!).ToArray();
            wrong += failures.Length;
            var statuses = string.Join(", ", group.GroupBy(i => answers[i]!.Status).OrderBy(s => s.Key).Select(s => $"{s.Count()}x {s.Key}"));
            Console.WriteLine($"| {group.Key} | {group.Count()} | {statuses} | {failures.Length} |");
            foreach (var failure in failures.Take(2))
                Console.WriteLine($"  wrong answer to a {group.Key}: {failure.Status} {failure.Body[..Math.Min(300, failure.Body.Length)]}");
        }
        var sent = answers.Count(a => a is not null);
        Console.WriteLine($"{sent} of {requests} uploads sent within {timeLimit.TotalSeconds:F0} s from {clients} clients; {wrong} wrong answers; /health afterwards: {(healthy ? "ok" : "FAILED")}; " +
            $"peak resident memory {peak / 1e6:N0} MB; SIGTERM: {(exitCode is { } code ? $"exit code {code}" : "did not stop within a minute")}; temporary files left: {(leftovers.Length == 0 ? "none" : string.Join(", ", leftovers))}");
        var passed = sent == requests && wrong == 0 && healthy && exitCode == 0 && leftovers.Length == 0;
        if (!passed)
            Console.WriteLine($"the service's output:\n{service.Output}");
        return passed;
    }

    private static bool Passes(SoakUpload upload, UploadAnswer answer) =>
        answer.WellFormed && upload.Statuses.Contains(answer.Status) && (answer.Status != 200 || answer.Label == upload.Label);
}

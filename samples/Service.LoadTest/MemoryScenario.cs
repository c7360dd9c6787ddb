using System.Diagnostics;
using System.Text.Json;

namespace EfficientViT.Service.LoadTest;

/// <summary>
/// A burst of large images at once against the service run as a process of its own: its peak resident memory,
/// whether every answer is a prediction or a JSON refusal, whether it still serves afterwards, how soon its memory
/// goes back, and whether SIGTERM stops it cleanly (exit code 0, nothing left in its temporary folder).
/// </summary>
public static class MemoryScenario
{
    /// <summary>The largest peak resident memory that passes.</summary>
    public const long PeakGoalBytes = 2_500_000_000;

    /// <summary>The resident memory the service must be back under after the burst.</summary>
    public const long SettledGoalBytes = 1_000_000_000;

    /// <summary>How long after the burst it may take to get there.</summary>
    public static readonly TimeSpan SettleWithin = TimeSpan.FromMinutes(1);

    /// <summary>The table's header.</summary>
    public const string Header =
        "| address-space limit | uploads | 200 | 503 | other | well-formed | /health after | peak RSS MB | RSS after the burst MB | under 1 GB after | SIGTERM exit | temporary files left |\n" +
        "|---|---|---|---|---|---|---|---|---|---|---|---|";

    /// <summary>Runs the burst once; prints a table row, and the service's output when a goal is missed. True when every goal is met.</summary>
    /// <param name="serviceAssembly">The service to start.</param>
    /// <param name="serviceArguments">Its arguments (<c>--model</c> and any others).</param>
    /// <param name="image">The image file every upload sends (PNG).</param>
    /// <param name="uploads">How many uploads are sent at once.</param>
    /// <param name="addressSpaceBytes">An address-space limit for the service (see <see cref="ServiceProcess.StartAsync"/>), or null.</param>
    public static async Task<bool> RunAsync(string serviceAssembly, IReadOnlyList<string> serviceArguments, byte[] image, int uploads, long? addressSpaceBytes)
    {
        using var folder = new TemporaryFolder();
        using var service = await ServiceProcess.StartAsync(serviceAssembly, serviceArguments, folder.Path, addressSpaceBytes);
        using var client = new HttpClient { BaseAddress = service.Address, Timeout = TimeSpan.FromMinutes(5) };

        var answers = await Task.WhenAll(Enumerable.Range(0, uploads).Select(_ => Task.Run(() => UploadAnswer.PostAsync(client, image, "image/png"))));
        var peak = service.PeakResidentBytes;
        var afterBurst = service.ResidentBytes;
        var healthy = await HealthyAsync(client);

        var clock = Stopwatch.StartNew();
        double? settledAfter = null;
        while (!service.HasExited && clock.Elapsed < SettleWithin)
        {
            if (service.ResidentBytes is > 0 and < SettledGoalBytes && !service.HasExited)
            {
                settledAfter = clock.Elapsed.TotalSeconds;
                break;
            }
            await Task.Delay(TimeSpan.FromSeconds(1));
        }
        var exitCode = await service.TerminateAsync(TimeSpan.FromMinutes(1));
        var leftovers = ServiceProcess.Leftovers(folder.Path);

        var ok = answers.Count(a => a.Status == 200);
        var busy = answers.Count(a => a.Status == 503);
        var wellFormed = answers.Count(a => a.WellFormed && (a.Status is 200 or 503 || a.Status is >= 400 and < 500));
        Console.WriteLine($"| {(addressSpaceBytes is { } limit ? $"{limit / 1e9:F1} GB" : "none")} | {uploads} | {ok} | {busy} | {uploads - ok - busy} | {wellFormed} | {(healthy ? "ok" : "FAILED")} | " +
            $"{peak / 1e6:N0} | {afterBurst / 1e6:N0} | {(settledAfter is { } seconds ? $"{seconds:F0} s" : "no")} | {(exitCode?.ToString() ?? "did not stop")} | {(leftovers.Length == 0 ? "none" : string.Join(", ", leftovers))} |");

        var passed = wellFormed == uploads && healthy && peak <= PeakGoalBytes && settledAfter is not null && exitCode == 0 && leftovers.Length == 0;
        if (!passed)
        {
            foreach (var answer in answers.Where(a => !a.WellFormed).Take(3))
                Console.WriteLine($"  an answer that is not well-formed: {answer.Status} {answer.Body[..Math.Min(300, answer.Body.Length)]}");
            Console.WriteLine($"  the service's output:\n{service.Output}");
        }
        return passed;
    }

    /// <summary>Whether <c>GET /health</c> answers 200 with status "ok".</summary>
    public static async Task<bool> HealthyAsync(HttpClient client)
    {
        try
        {
            using var response = await client.GetAsync("health");
            if (!response.IsSuccessStatusCode)
                return false;
            using var health = JsonDocument.Parse(await response.Content.ReadAsStringAsync());
            return health.RootElement.GetProperty("status").GetString() == "ok";
        }
        catch (Exception e) when (e is HttpRequestException or JsonException or KeyNotFoundException)
        {
            return false;
        }
    }
}

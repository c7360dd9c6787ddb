using System.Globalization;
using EfficientViT.ML.Data;

namespace EfficientViT.Service.LoadTest;

/// <summary>
/// The runs against the service started as a process of its own: <c>--memory</c> (a burst of 4096×4096 images,
/// without a limit and under an address-space limit) and <c>--soak</c> (good, large and malformed uploads mixed).
/// </summary>
public static class ServiceRuns
{
    /// <summary>Runs what <paramref name="settings"/> asks for; exit code 0 when every check passes, else 1.</summary>
    public static async Task<int> RunAsync(LoadTestSettings settings)
    {
        using var temporary = new TemporaryFolder();
        var data = FashionMnistDataset.Load(FashionMnistSplit.Test);
        var modelPath = settings.ModelPath ?? settings.SaveModelPath ?? Path.Combine(temporary.Path, "fashion-mnist-small.zip");
        if (settings.ModelPath is null)
            FashionMnistClassifier.FitAndSave(data, modelPath);
        string[] serviceArguments = ["--model", modelPath, .. settings.ServiceArguments];
        var large = HostileUploads.LargePng(settings.ImageSide, settings.ImageSide);
        Console.WriteLine($"service: {settings.ServiceAssembly} {string.Join(' ', serviceArguments)}");
        Console.WriteLine($"large image: {settings.ImageSide}x{settings.ImageSide} PNG, {large.Length:N0} bytes");

        var passed = true;
        if (settings.Memory)
        {
            Console.WriteLine();
            Console.WriteLine($"{settings.Uploads} uploads of the large image at once; goals: peak resident memory at most {MemoryScenario.PeakGoalBytes / 1e9:F1} GB, " +
                $"every answer 200 or a JSON refusal, /health ok afterwards, under {MemoryScenario.SettledGoalBytes / 1e9:F0} GB within {MemoryScenario.SettleWithin.TotalSeconds:F0} s, exit code 0 on SIGTERM");
            Console.WriteLine(MemoryScenario.Header);
            passed &= await MemoryScenario.RunAsync(settings.ServiceAssembly, serviceArguments, large, settings.Uploads, null);
            if (settings.AddressSpaceGigabytes > 0)
                passed &= await MemoryScenario.RunAsync(settings.ServiceAssembly, serviceArguments, large, settings.Uploads, (long)(settings.AddressSpaceGigabytes * 1e9));
        }
        if (settings.Soak)
        {
            using var model = ImageClassifier.Load(modelPath, settings.RowThreads);
            var pngs = Enumerable.Range(9000, 8).Select(i => PngImages.Encode(data.Get(i))).ToArray();
            var jpeg = PngImages.EncodeJpeg(data.Get(9100));
            var labels = SerialAnswers.For(model, [.. pngs, jpeg, large]).Select(p => p.Label).ToArray();
            var mix = SoakScenario.Mix(pngs.Select((png, i) => (png, labels[i])).ToArray(), (jpeg, labels[^2]), (large, labels[^1]));
            Console.WriteLine();
            Console.WriteLine($"soak: {settings.SoakRequests} uploads from {settings.Clients} clients, {mix.Count} kinds in turn, within {settings.SoakSeconds} s");
            passed &= await SoakScenario.RunAsync(settings.ServiceAssembly, serviceArguments, mix, settings.SoakRequests, settings.Clients, TimeSpan.FromSeconds(settings.SoakSeconds));
        }
        Console.WriteLine($"load average at end: {LoadAverage.Now()}");
        Console.WriteLine(passed ? "every check passed." : "error: a check failed (above).");
        return passed ? 0 : 1;
    }
}

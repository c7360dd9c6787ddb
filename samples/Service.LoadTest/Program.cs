// Load test of samples/Service on loopback: for each model and scoring mode, one client then N concurrent
// clients send a fixed number of POST /predict requests; prints requests/s, p50/p99 latency, errors, and
// answers that differ from the model's serial (one-image PredictionEngine) answer. Exit code 1 on any error
// or mismatch. Scoring modes alternate (engines, batched, batched, engines, ...) so that both see the same load.
//   dotnet run --project samples/Service.LoadTest -c Release -- [--model PATH] [--clients 8] [--requests 400] [--rounds 2] [--quick]
// --memory and --soak run the service as a process of its own instead (see ServiceRuns):
//   dotnet run --project samples/Service.LoadTest -c Release -- --memory [--uploads 64] [--address-space-gb 3]
//   dotnet run --project samples/Service.LoadTest -c Release -- --soak [--soak-requests 300] [--soak-seconds 180]
// Without --model it makes a small Fashion-MNIST classifier zip in seconds (see FashionMnistClassifier;
// --save-model PATH keeps it) and also serves that model as fitted in memory, whose featurizer scores a
// Transform's rows in batches: what a zip loaded with batched scoring gives.
using System.Globalization;
using EfficientViT.ML;
using EfficientViT.ML.Data;
using EfficientViT.Service;
using EfficientViT.Service.LoadTest;
using Microsoft.ML.Data;

var settings = LoadTestSettings.Parse(args);
Console.WriteLine($"machine: {MachineDescription.Summary()}");
Console.WriteLine($"load average at start: {LoadAverage.Now()}");
if (settings.Memory || settings.Soak)
    return await ServiceRuns.RunAsync(settings);
Console.WriteLine($"{settings.Clients} clients, {settings.Requests} requests each run ({settings.SingleClientRequests} for one client), {settings.Rounds} round(s), batching: at most {settings.MaxBatch} images, {settings.BatchWaitMs} ms wait; an image scored alone on {settings.RowThreads} ONNX Runtime thread(s)");

var data = FashionMnistDataset.Load(FashionMnistSplit.Test);
var images = Enumerable.Range(5000, settings.Images).Select(i => PngImages.Encode(data.Get(i))).ToArray();
var models = new List<ImageClassifier>();
using var temporary = new TemporaryFolder();
if (settings.ModelPath is { } modelPath)
    models.Add(ImageClassifier.Load(modelPath, settings.RowThreads));
else
{
    var zip = settings.SaveModelPath ?? Path.Combine(temporary.Path, "fashion-mnist-small.zip");
    var (context, fitted) = FashionMnistClassifier.FitAndSave(data, zip);
    models.Add(ImageClassifier.Load(zip, settings.RowThreads));
    models.Add(new ImageClassifier(context, fitted, "fitted in memory"));
}

Console.WriteLine();
DirectScoring.Print(models.Select(m => (Name(m), m)).ToArray(), images, [1, 4, 16], settings.DirectImages, settings.Rounds + 1);

var results = new List<LoadResult>();
var minBatches = new List<string>();
Console.WriteLine();
Console.WriteLine(LoadResult.Header);
for (var round = 0; round < settings.Rounds; round++)
{
    string[] modes = round % 2 == 0 ? [EnginePoolScorer.ModeName, BatchingScorer.ModeName] : [BatchingScorer.ModeName, EnginePoolScorer.ModeName];
    foreach (var model in models)
    {
        var expected = SerialAnswers.For(model, images);
        var name = Name(model);
        foreach (var mode in modes)
        {
            await using var app = ServiceHost.Build(
            [
                .. settings.MinBatch is { } fewest ? ["--min-batch", fewest.ToString(CultureInfo.InvariantCulture)] : Array.Empty<string>(),
                "--urls", "http://127.0.0.1:0", "--scoring", mode,
                "--max-batch", settings.MaxBatch.ToString(CultureInfo.InvariantCulture),
                "--batch-wait-ms", settings.BatchWaitMs.ToString(CultureInfo.InvariantCulture),
                "--Logging:LogLevel:Default=Warning",
            ], model);
            await app.StartAsync();
            using var client = new HttpClient { BaseAddress = new Uri(app.Urls.First() + "/") };
            var scorer = (IImageScorer)app.Services.GetService(typeof(IImageScorer))!;
            if (scorer is BatchingScorer { MinBatchSize: var minBatch })
                minBatches.Add($"{name} {minBatch}");
            var runner = new LoadRunner(client, images, expected, settings.Tolerance);
            await runner.RunAsync("warm-up", settings.Clients, images.Length);
            foreach (var (clients, requests) in new[] { (1, settings.SingleClientRequests), (settings.Clients, settings.Requests) })
            {
                var before = (scorer as BatchingScorer)?.Counts;
                var result = await runner.RunAsync($"{name} / {mode}", clients, requests);
                if (scorer is BatchingScorer batching)
                {
                    var (batches, scored) = batching.Counts;
                    result = result with { MeanBatch = (double)(scored - before!.Value.Images) / (batches - before.Value.Batches) };
                }
                results.Add(result);
                Console.WriteLine(result.Row());
            }
            await app.StopAsync();
        }
    }
}

Console.WriteLine();
Console.WriteLine("| model / scoring | 1 client req/s | " + settings.Clients + " clients req/s | scaling |");
Console.WriteLine("|---|---|---|---|");
foreach (var group in results.GroupBy(r => r.Configuration))
{
    var single = group.Where(r => r.Clients == 1).Average(r => r.Rate);
    var many = group.Where(r => r.Clients > 1).Average(r => r.Rate);
    Console.WriteLine($"| {group.Key} | {single:F1} | {many:F1} | {many / single:F2}x |");
}
Console.WriteLine($"batched scoring: the fewest images per Transform (smaller batches on engines), as chosen at each start: {string.Join(", ", minBatches)}");
Console.WriteLine($"load average at end: {LoadAverage.Now()}");
var failures = results.Sum(r => r.Errors + r.Mismatches);
if (failures > 0)
{
    Console.Error.WriteLine($"error: {results.Sum(r => r.Errors)} failed requests and {results.Sum(r => r.Mismatches)} answers that differ from the serial answer.");
    return 1;
}
Console.WriteLine("every answer equals the serial answer for its image.");
return 0;

static string Name(ImageClassifier model) => model.Source == "fitted in memory" ? model.Source : "zip";

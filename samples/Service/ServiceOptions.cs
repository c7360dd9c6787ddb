using System.Globalization;

namespace EfficientViT.Service;

/// <summary>The service's settings, from the command line (<c>--model PATH</c>, ...) or any other ASP.NET Core configuration source.</summary>
public sealed record ServiceOptions
{
    /// <summary>Where <c>efficientvit demo</c> (scripts/demo.sh) writes its model zip, relative to the repository root.</summary>
    public static readonly string DemoModelPath = Path.Combine("runs", "demo", "fashion-mnist-efficientvit-m0.zip");

    /// <summary>The model zip (<c>--model</c>).</summary>
    public string ModelPath { get; init; } = DemoModelPath;

    /// <summary>
    /// <c>--scoring</c>: "engines" (the default: each request scored at once on a pooled PredictionEngine) or "batched"
    /// (concurrent requests gathered into one Transform). Engines served more requests in every quiet load test on
    /// 2 cores, for the loaded zip and the model fitted in memory alike; see README.md.
    /// </summary>
    public string Scoring { get; init; } = EnginePoolScorer.ModeName;

    /// <summary><c>--max-batch</c>: the most images in one Transform call.</summary>
    public int MaxBatchSize { get; init; } = 16;

    /// <summary><c>--batch-wait-ms</c>: how long a short batch waits for more requests.</summary>
    public double BatchWaitMilliseconds { get; init; } = 2;

    /// <summary>
    /// <c>--min-batch</c>: the fewest gathered requests scored by one <c>Transform</c>; fewer are scored one by one on
    /// engines. Null (the default): measured at start-up, see <see cref="ScoringCost"/>.
    /// </summary>
    public int? MinBatchSize { get; init; }

    /// <summary><c>--batch-workers</c>: batches scored at once; default one per core.</summary>
    public int BatchWorkers { get; init; } = Environment.ProcessorCount;

    /// <summary>
    /// <c>--row-threads</c>: ONNX Runtime threads for an image scored alone. Default 1: concurrent requests
    /// already keep every core busy, and a one-thread call wastes none of its time sharing small operations.
    /// </summary>
    public int RowThreads { get; init; } = 1;

    /// <summary><c>--max-body-mb</c>: the largest request body, in MB (larger: 413).</summary>
    public double MaxBodyMegabytes { get; init; } = 10;

    /// <summary><c>--max-megapixels</c>: the largest image, in millions of pixels (larger: 413, refused from the file's header).</summary>
    public double MaxMegapixels { get; init; } = 16.8;

    /// <summary>The body limit in bytes.</summary>
    public long MaxBodyBytes => (long)(MaxBodyMegabytes * 1024 * 1024);

    /// <summary>The pixel limit.</summary>
    public long MaxPixels => (long)(MaxMegapixels * 1_000_000);

    /// <summary>Reads the options from configuration, checking each value.</summary>
    /// <exception cref="ArgumentException">A value is out of range; the message names the option.</exception>
    public static ServiceOptions From(IConfiguration configuration)
    {
        var defaults = new ServiceOptions();
        var options = new ServiceOptions
        {
            ModelPath = configuration["model"] ?? defaults.ModelPath,
            Scoring = configuration["scoring"] ?? defaults.Scoring,
            MaxBatchSize = (int)Number(configuration, "max-batch", defaults.MaxBatchSize, 1, 1024),
            BatchWaitMilliseconds = Number(configuration, "batch-wait-ms", defaults.BatchWaitMilliseconds, 0, 1000),
            BatchWorkers = (int)Number(configuration, "batch-workers", defaults.BatchWorkers, 1, 256),
            RowThreads = (int)Number(configuration, "row-threads", defaults.RowThreads, 1, 256),
            MinBatchSize = configuration["min-batch"] is null ? null : (int)Number(configuration, "min-batch", 2, 2, 1025),
            MaxBodyMegabytes = Number(configuration, "max-body-mb", defaults.MaxBodyMegabytes, 0.001, 1024),
            MaxMegapixels = Number(configuration, "max-megapixels", defaults.MaxMegapixels, 0.000001, 1000),
        };
        if (options.Scoring is not (BatchingScorer.ModeName or EnginePoolScorer.ModeName))
            throw new ArgumentException($"--scoring {options.Scoring}: expected '{EnginePoolScorer.ModeName}' or '{BatchingScorer.ModeName}'.");
        return options;
    }

    private static double Number(IConfiguration configuration, string key, double fallback, double min, double max)
    {
        var text = configuration[key];
        if (text is null)
            return fallback;
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out var value) || value < min || value > max)
            throw new ArgumentException($"--{key} {text}: expected a number from {min.ToString(CultureInfo.InvariantCulture)} to {max.ToString(CultureInfo.InvariantCulture)}.");
        return value;
    }
}

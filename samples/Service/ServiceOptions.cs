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

    /// <summary>
    /// <c>--max-decode-mb</c>: the memory decoded images may take at once, in MB (16 bytes per pixel: see
    /// <see cref="EncodedImage.DecodedBytesPerPixel"/>). A request whose image does not fit waits for others to finish.
    /// Null (the default): 1024, or less where the process has less memory (see <see cref="MemoryRoom"/>).
    /// </summary>
    public double? DecodeBudgetMegabytes { get; init; }

    /// <summary><c>--decode-wait-ms</c>: how long a request waits for room in the decode budget before it gets 503 with <c>Retry-After</c>.</summary>
    public double DecodeWaitMilliseconds { get; init; } = 2000;

    /// <summary>The body limit in bytes.</summary>
    public long MaxBodyBytes => (long)(MaxBodyMegabytes * 1024 * 1024);

    /// <summary>The pixel limit.</summary>
    public long MaxPixels => (long)(MaxMegapixels * 1_000_000);

    /// <summary>The decode budget in bytes, when given.</summary>
    public long? DecodeBudgetBytes => DecodeBudgetMegabytes is { } megabytes ? (long)(megabytes * 1024 * 1024) : null;

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
            DecodeBudgetMegabytes = configuration["max-decode-mb"] is null ? null : Number(configuration, "max-decode-mb", 0, 1, 1 << 20),
            DecodeWaitMilliseconds = Number(configuration, "decode-wait-ms", defaults.DecodeWaitMilliseconds, 0, 600_000),
        };
        if (options.Scoring is not (BatchingScorer.ModeName or EnginePoolScorer.ModeName))
            throw new ArgumentException($"--scoring {options.Scoring}: expected '{EnginePoolScorer.ModeName}' or '{BatchingScorer.ModeName}'.");
        if (options.DecodeBudgetBytes is { } budget && options.MaxPixels * EncodedImage.DecodedBytesPerPixel > DecodeBudget.LargestServiceShareBytes(budget))
            throw new ArgumentException(string.Create(CultureInfo.InvariantCulture,
                $"--max-decode-mb {options.DecodeBudgetMegabytes}: an image of --max-megapixels {options.MaxMegapixels} takes {options.MaxPixels * EncodedImage.DecodedBytesPerPixel / 1024.0 / 1024.0:F0} MB decoded and would never fit in the {DecodeBudget.LargestServiceShareBytes(budget) / 1024.0 / 1024.0:F0} MB one image may take (a sixteenth of the budget is kept for small images); raise --max-decode-mb or lower --max-megapixels."));
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

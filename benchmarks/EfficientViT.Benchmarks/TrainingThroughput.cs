using EfficientViT.ML;
using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Training steps per second of EfficientViT-M0 at the Fashion-MNIST demo's setting (64x64 or --training-size, batch 128,
/// AdamW with the recipe's parameter groups, label smoothing, adaptive clipping), at each thread count,
/// on a fixed random batch: the model's share of a training run, without data loading. The thread counts
/// take turns round by round, so that a change of machine load hits all of them alike.
/// </summary>
internal static class TrainingThroughput
{
    private const int WarmupSteps = 2;

    // Training steps are slower than inference passes; each round of a thread count gets twice --seconds.
    private static double MinimumSeconds(BenchmarkOptions options) => options.Seconds * 2;

    /// <summary>The input and the timing rule, for the report's header.</summary>
    public static (string Input, string Timing) Describe(BenchmarkOptions options) =>
        ($"{options.TrainingImageSize}x{options.TrainingImageSize} RGB, one fixed random batch of {options.TrainingBatch}",
         $"{options.TrainingRounds} rounds alternating the thread counts, each ≥ {MinimumSeconds(options).ToString(System.Globalization.CultureInfo.InvariantCulture)} s and ≥ {options.TrainingSteps} steps after {WarmupSteps} warm-up steps");

    public static void Run(BenchmarkOptions options, TextWriter output)
    {
        var table = new TextTable("threads", "round", "images/s", "ms/step", "forward ms", "backward ms", "clip ms", "optimizer ms", "optimizer");
        var speeds = options.TrainingOptimizers.Select(name => (Name: name, Speed: new TrainingSpeed(options.TrainingVariant, options.TrainingImageSize, options.TrainingBatch, flatOptimizer: name == "flat", options.CheckpointActivations))).ToList();
        try
        {
            for (var round = 1; round <= options.TrainingRounds; round++)
            {
                foreach (var threads in options.Threads)
                {
                    set_num_threads(threads);
                    foreach (var (name, speed) in speeds)
                    {
                        var t = speed.Measure(TimeSpan.FromSeconds(MinimumSeconds(options)), options.TrainingSteps, WarmupSteps);
                        table.AddRow(threads.ToString(), round.ToString(), t.ImagesPerSecond.ToString("F1"), t.MillisecondsPerStep.ToString("F1"),
                            Ms(t.Forward), Ms(t.Backward), Ms(t.Clip), Ms(t.Optimizer), name);
                        Console.Error.WriteLine($"  training, {threads} thread(s), {name} AdamW, round {round}: {t.ImagesPerSecond:F1} images/s");
                    }
                }
            }
        }
        finally
        {
            foreach (var (_, speed) in speeds)
                speed.Dispose();
        }
        output.WriteLine($"### Training throughput: EfficientViT-{options.TrainingVariant}, {options.TrainingImageSize}x{options.TrainingImageSize}, batch {options.TrainingBatch}, AdamW steps (no data loading){(options.CheckpointActivations ? ", activation checkpointing" : "")}");
        output.WriteLine();
        output.WriteLine(table.Render(options.Markdown));
        PeakMemory.Report(output);
    }

    private static string Ms(double seconds) => (seconds * 1000).ToString("F1");
}

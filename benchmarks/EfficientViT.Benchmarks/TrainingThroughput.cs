using System.Diagnostics;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Training steps per second of EfficientViT-M0 at the Fashion-MNIST demo's setting (64x64 or --training-size, batch 128,
/// AdamW with the recipe's parameter groups, label smoothing, adaptive clipping), at each thread count,
/// on a fixed random batch: the model's share of a training run, without data loading.
/// </summary>
internal static class TrainingThroughput
{
    private const int Batch = 128, Classes = 10, WarmupSteps = 2, MinimumSteps = 3;

    // Training steps are slower than inference passes; each thread count gets four times --seconds.
    private static double MinimumSeconds(BenchmarkOptions options) => options.Seconds * 4;

    /// <summary>The input and the timing rule, for the report's header.</summary>
    public static (string Input, string Timing) Describe(BenchmarkOptions options) =>
        ($"{options.TrainingImageSize}x{options.TrainingImageSize} RGB, one fixed random batch of {Batch}",
         $"≥ {MinimumSeconds(options).ToString(System.Globalization.CultureInfo.InvariantCulture)} s and ≥ {MinimumSteps} steps per thread count after {WarmupSteps} warm-up steps");

    public static void Run(BenchmarkOptions options, TextWriter output)
    {
        var imageSize = options.TrainingImageSize;
        var table = new TextTable("threads", "images/s", "ms/step", "vs 1 thread");
        double? single = null;
        foreach (var threads in options.Threads)
        {
            set_num_threads(threads);
            manual_seed(0);
            using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize, Classes);
            model.train();
            var recipe = TrainingRecipe.ForSmallData(10, Batch, 468).WithPeakLearningRate(2e-3) with { EmaDecay = null };
            using var optimizer = OptimizerFactory.CreateAdamW(model, recipe);
            var parameters = model.parameters().ToList();
            using var images = randn(Batch, 3, imageSize, imageSize);
            using var labels = randint(0, Classes, [Batch]);

            void Step()
            {
                using var scope = NewDisposeScope();
                optimizer.Optimizer.zero_grad();
                var loss = Losses.LabelSmoothingCrossEntropy(model.forward(images), labels, recipe.LabelSmoothing);
                loss.backward();
                GradientClipping.Apply(parameters, recipe.GradientClipMode, recipe.GradientClip);
                optimizer.Optimizer.step();
            }

            for (var i = 0; i < WarmupSteps; i++)
                Step();
            var steps = 0;
            var clock = Stopwatch.StartNew();
            while (steps < MinimumSteps || clock.Elapsed.TotalSeconds < MinimumSeconds(options))
            {
                Step();
                steps++;
            }
            var rate = steps * Batch / clock.Elapsed.TotalSeconds;
            single ??= rate;
            table.AddRow(threads.ToString(), rate.ToString("F1"), (clock.Elapsed.TotalMilliseconds / steps).ToString("F1"), $"{rate / single.Value:F2}x");
            Console.Error.WriteLine($"  training, {threads} thread(s): {rate:F1} images/s");
        }
        output.WriteLine($"### Training throughput: EfficientViT-M0, {imageSize}x{imageSize}, batch {Batch}, AdamW steps (no data loading)");
        output.WriteLine();
        output.WriteLine(table.Render(options.Markdown));
    }
}

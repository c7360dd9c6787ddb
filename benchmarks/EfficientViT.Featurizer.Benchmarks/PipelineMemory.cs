using System.Diagnostics;
using System.Globalization;
using EfficientViT.ML;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using Microsoft.ML;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Peak resident memory beside images/s of whole ML.NET featurization pipelines, ResNet18's <c>DnnFeaturizeImage</c>
/// and <c>EfficientVitFeaturize</c> (M0, M4), each in a child process of its own (a process's peak is for its whole
/// life): the same decoded 224x224 images in memory, made before the clock starts, through the pipeline twice. Rounds
/// take the pipelines in turn.
/// </summary>
internal static class PipelineMemory
{
    private static readonly string[] Sides = ["ResNet18", "M0", "M4"];

    /// <summary>Runs every side in a child process, <paramref name="rounds"/> times, and prints the table.</summary>
    public static void Run(int images, int rounds, bool markdown)
    {
        var table = new TextTable("pipeline", "round", "img/s", "peak MiB", "img/s vs ResNet18", "peak vs ResNet18");
        for (var round = 1; round <= rounds; round++)
        {
            var results = Sides.Select(side => (Side: side, Result: Child(side, images))).ToList();
            var (rate, peak) = results[0].Result;
            foreach (var (side, result) in results)
            {
                table.AddRow(side == "ResNet18" ? "ResNet18 DnnFeaturizeImage" : $"EfficientViT-{side} EfficientVitFeaturize", round.ToString(CultureInfo.InvariantCulture),
                    Program.F(result.Rate), Program.F(result.PeakKib / 1024.0), $"{result.Rate / rate:F1}x", $"{(double)result.PeakKib / peak:F2}x");
            }
        }
        Program.Section($"Peak memory of whole ML.NET pipelines ({images} decoded 224x224 images, twice; each pipeline a process of its own; {Program.Threads} threads)", table, markdown);
        Console.WriteLine("peak: the process's peak resident memory (VmHWM, the figure /usr/bin/time -f %M reports), the decoded images included (the same on every side).");
        Console.WriteLine();
    }

    /// <summary>The child's part: one pipeline over the images; prints its images/s and peak.</summary>
    public static void RunSide(string side, int images)
    {
        var mlContext = new MLContext(seed: 0);
        var source = new SyntheticImages(32, 224, seed: 1);
        var sample = mlContext.Data.LoadFromEnumerable(source.Rows(1));
        using var model = side == "ResNet18" ? null : EfficientVit.Create(Enum.Parse<EfficientVitVariant>(side), numClasses: 0);
        model?.eval();
        ITransformer transformer = model is null
            ? mlContext.Transforms.ResizeImages("Resized", 224, 224, "Image")
                .Append(mlContext.Transforms.ExtractPixels("Pixels", "Resized"))
                .Append(mlContext.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(mlContext, m.OutputColumn, m.InputColumn), "Pixels"))
                .Fit(sample)
            : mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
            {
                InputColumnName = "Image", OutputColumnName = "Features", Model = model, BatchSize = 16, Threads = Program.Threads,
            }).Fit(sample);
        var rate = 0.0;
        for (var pass = 0; pass < 2; pass++)
        {
            var data = mlContext.Data.LoadFromEnumerable(source.Rows(images).ToArray());
            rate = Program.Rate(images, () => Program.Consume(transformer.Transform(data), "Features"), once: true);
        }
        Console.WriteLine($"img/s: {rate.ToString(CultureInfo.InvariantCulture)}");
        PeakMemory.Report(Console.Out);
        (transformer as IDisposable)?.Dispose();
    }

    private static (double Rate, long PeakKib) Child(string side, int images)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!);
        foreach (var argument in new[] { typeof(PipelineMemory).Assembly.Location, "--memory-side", side, "--images", images.ToString(CultureInfo.InvariantCulture) })
            start.ArgumentList.Add(argument);
        var lines = ChildProcess.Output(start);
        var rate = double.Parse(lines.Single(l => l.StartsWith("img/s: ", StringComparison.Ordinal))["img/s: ".Length..], CultureInfo.InvariantCulture);
        var peak = PeakMemory.FromOutput(lines) ?? throw new InvalidOperationException($"the {side} pipeline's process wrote no peak memory");
        Console.Error.WriteLine($"  {side}: {rate:F1} img/s, peak {peak / 1024.0:F0} MiB");
        return (rate, peak);
    }
}

using System.Diagnostics;
using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Measures EfficientViT CPU inference throughput for every (variant, fused, threads, batch) of the grid
/// in one process, so the fused/unfused and thread-scaling ratios compare numbers from the same run.
/// </summary>
internal static class Program
{
    /// <summary>Seed of the random input images: the same input every run.</summary>
    public const int InputSeed = 0;

    // Weights do not change the amount of work, but a fixed seed keeps runs identical in every respect.
    private const int WeightSeed = 0;

    public static int Main(string[] args)
    {
        BenchmarkOptions options;
        try
        {
            options = BenchmarkOptions.Parse(args);
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine(e.Message);
            Console.Error.WriteLine();
            Console.Error.WriteLine(BenchmarkOptions.Usage);
            return 2;
        }
        if (options.Spin is { } spinning)
            return CpuLoad.Spin(spinning);
        if (options.ShowHelp)
        {
            Console.WriteLine(BenchmarkOptions.Usage);
            return 0;
        }

        ReportPrinter.PrintHeader(MachineInfo.Collect(), options, Console.Out);
        if (options.Threads.Any(t => t > Environment.ProcessorCount))
            Console.Error.WriteLine($"Warning: more threads requested than the {Environment.ProcessorCount} processors; those rows measure oversubscription.");

        var total = Stopwatch.StartNew();
        if (options.TrainingProfile)
        {
            TrainingProfile.Run(options, Console.Out);
            Console.WriteLine($"Total run time: {total.Elapsed.TotalSeconds:F0} s");
            return 0;
        }
        if (options.TrainingMemory)
        {
            TrainingMemory.Run(options, Console.Out);
            Console.WriteLine($"Total run time: {total.Elapsed.TotalSeconds:F0} s");
            return 0;
        }
        if (options.TrainingLoad)
        {
            TrainingUnderLoad.Run(options, Console.Out);
            Console.WriteLine($"Total run time: {total.Elapsed.TotalSeconds:F0} s");
            return 0;
        }
        if (options.Training)
        {
            TrainingThroughput.Run(options, Console.Out);
            Console.WriteLine($"Total run time: {total.Elapsed.TotalSeconds:F0} s");
            return 0;
        }
        var results = Run(options);
        ReportPrinter.PrintResults(results, options, Console.Out);
        Console.WriteLine($"Total run time: {total.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    private static List<Measurement> Run(BenchmarkOptions options)
    {
        var results = new List<Measurement>();
        var minimumDuration = TimeSpan.FromSeconds(options.Seconds);

        // One input per batch size, made once and kept outside every dispose scope for the whole run.
        using var generator = new Generator(InputSeed);
        var inputs = options.Batches.ToDictionary(
            batch => batch,
            batch => torch.randn(batch, 3, BenchmarkOptions.ImageSize, BenchmarkOptions.ImageSize, generator: generator));
        try
        {
            foreach (var variant in options.Variants)
            {
                // Two models with the same weights, one fused (fusion cannot be undone), so that each
                // unfused/fused pair is measured interleaved, under the same machine conditions.
                torch.manual_seed(WeightSeed);
                using var unfused = EfficientVit.Create(variant, BenchmarkOptions.ImageSize);
                unfused.eval();
                using var fused = EfficientVit.Create(variant, BenchmarkOptions.ImageSize);
                fused.load_state_dict(unfused.state_dict());
                fused.FuseBatchNorm();

                foreach (var threads in options.Threads)
                {
                    // Intra-op threads are the ones a forward pass uses. Inter-op threads only serve
                    // TorchScript fork/wait, which eager inference never calls, so they are left alone.
                    torch.set_num_threads(threads);
                    foreach (var batch in options.Batches)
                    {
                        foreach (var m in ThroughputMeter.Measure([unfused, fused], variant, threads, inputs[batch], minimumDuration))
                        {
                            results.Add(m);
                            // Progress goes to stderr so that stdout holds only the report.
                            Console.Error.WriteLine($"  {variant} fused={(m.Fused ? "yes" : "no"),-3} threads={threads} batch={batch,-3} {m.ImagesPerSecond,9:F1} images/s  ({m.Iterations} passes, round spread {m.RoundSpread * 100:F0}%)");
                        }
                    }
                }
            }
        }
        finally
        {
            foreach (var input in inputs.Values)
                input.Dispose();
        }
        return results;
    }
}

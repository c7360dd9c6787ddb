using System.Diagnostics;
using System.Globalization;
using EfficientViT.ML;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Training's peak resident memory beside its images/s, this project next to PyTorch, in one run: each side runs in a
/// child process of its own (a process's peak is for its whole life, so sides cannot share one), the same steps on
/// the same model, batch and image side, and reports its own peak (<see cref="PeakMemory"/>; PyTorch's
/// <c>ru_maxrss</c>). Rounds take the sides in turn, so that a change of machine load hits all of them alike. With
/// <c>--checkpoint-activations</c> this project runs a second time with activation checkpointing.
/// </summary>
internal static class TrainingMemory
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    // Two warm-up steps and --training-steps timed ones on each side: the heap's peak grows over the first steps, so
    // both sides run the same number.
    private const int WarmupSteps = 2;

    private sealed record Side(string Name, Func<int, int, ProcessStartInfo> Start);

    private sealed record Result(double ImagesPerSecond, long PeakKib);

    /// <summary>The input and the timing rule, for the report's header.</summary>
    public static (string Input, string Timing) Describe(BenchmarkOptions options) =>
        ($"EfficientViT-{options.TrainingVariant}, batch {options.TrainingBatch}, sides {string.Join(", ", options.TrainingSizes)}, one fixed random batch",
         $"each side a process of its own: {WarmupSteps} warm-up and {options.TrainingSteps} timed steps per thread count; {options.TrainingRounds} rounds taking the sides in turn");

    public static void Run(BenchmarkOptions options, TextWriter output)
    {
        var sides = new List<Side> { new("this project", (size, threads) => Project(options, size, threads, checkpoint: false)) };
        if (options.CheckpointActivations)
            sides.Add(new("this project, checkpointing", (size, threads) => Project(options, size, threads, checkpoint: true)));
        if (PyTorchTrainStep.Unavailable(options.PyTorchRoot) is { } reason)
            Console.Error.WriteLine($"PyTorch left out: {reason}");
        else
            sides.Add(new("PyTorch", (size, threads) => PyTorchTrainStep.Start(options.PyTorchRoot, options.TrainingVariant, options.TrainingBatch, size, [threads], WarmupSteps, options.TrainingSteps)));

        var table = new TextTable("side", "size", "threads", "round", "images/s", "peak MiB", "peak ÷ PyTorch", "img/s ÷ PyTorch");
        foreach (var size in options.TrainingSizes)
        {
            foreach (var threads in options.Threads)
            {
                for (var round = 1; round <= options.TrainingRounds; round++)
                {
                    var results = new List<(Side Side, Result Result)>();
                    foreach (var side in sides)
                    {
                        var result = Measure(side.Start(size, threads), threads);
                        results.Add((side, result));
                        Console.Error.WriteLine($"  {side.Name}, {size}x{size}, {threads} thread(s), round {round}: {result.ImagesPerSecond:F1} images/s, peak {result.PeakKib / 1024.0:F0} MiB");
                    }
                    var reference = results.FirstOrDefault(r => r.Side.Name == "PyTorch").Result;
                    foreach (var (side, result) in results)
                    {
                        table.AddRow(side.Name == "PyTorch" ? "PT" : side.Name.Contains("checkpointing", StringComparison.Ordinal) ? "ours-ckpt" : "ours",
                            size.ToString(Invariant), threads.ToString(Invariant), round.ToString(Invariant),
                            result.ImagesPerSecond.ToString("F1", Invariant), (result.PeakKib / 1024.0).ToString("F0", Invariant),
                            reference is null ? "—" : ((double)result.PeakKib / reference.PeakKib).ToString("F2", Invariant),
                            reference is null ? "—" : (result.ImagesPerSecond / reference.ImagesPerSecond).ToString("F2", Invariant));
                    }
                }
            }
        }
        output.WriteLine($"### Training peak memory and images/s: EfficientViT-{options.TrainingVariant}, batch {options.TrainingBatch}");
        output.WriteLine();
        output.WriteLine(table.Render(options.Markdown));
        output.WriteLine("peak: the process's peak resident memory (VmHWM; PyTorch's ru_maxrss), the figure /usr/bin/time -f %M reports. " +
            "ours: this benchmark's --training in a child process; ours-ckpt: the same with --checkpoint-activations; PT: benchmarks/pytorch/train_step.py in its Debian root. " +
            "Memory does not depend on the machine's load; images/s does.");
    }

    private static ProcessStartInfo Project(BenchmarkOptions options, int size, int threads, bool checkpoint)
    {
        var start = new ProcessStartInfo(Environment.ProcessPath!);
        // The benchmark's own assembly, run by the same host (dotnet), in --training mode for one thread count.
        foreach (var argument in new[]
                 {
                     typeof(TrainingMemory).Assembly.Location, "--training", "--training-variant", options.TrainingVariant.ToString(),
                     "--training-batch", options.TrainingBatch.ToString(Invariant), "--training-size", size.ToString(Invariant),
                     "--threads", threads.ToString(Invariant), "--rounds", "1", "--seconds", "0.001",
                     "--training-steps", options.TrainingSteps.ToString(Invariant),
                 })
            start.ArgumentList.Add(argument);
        if (checkpoint)
            start.ArgumentList.Add("--checkpoint-activations");
        return start;
    }

    // Runs the child to its end; its images/s at `threads` and its peak from its output.
    private static Result Measure(ProcessStartInfo start, int threads)
    {
        var lines = ChildProcess.Output(start);
        double? rate = PyTorchTrainStep.Rates(lines).TryGetValue(threads, out var pytorch) ? pytorch : null;
        foreach (var line in lines)
        {
            // This project: the table row "2  1  123.4 ..." (threads, round, images/s).
            var fields = line.Split(' ', StringSplitOptions.RemoveEmptyEntries);
            if (fields.Length > 3 && fields[0] == threads.ToString(Invariant) && fields[1] == "1" && double.TryParse(fields[2], NumberStyles.Float, Invariant, out var value))
                rate ??= value;
        }
        return new Result(rate ?? throw new InvalidOperationException($"no images/s in the output of {start.FileName}:\n{string.Join('\n', lines)}"),
            PeakMemory.FromOutput(lines) ?? throw new InvalidOperationException($"no peak memory in the output of {start.FileName}:\n{string.Join('\n', lines)}"));
    }
}

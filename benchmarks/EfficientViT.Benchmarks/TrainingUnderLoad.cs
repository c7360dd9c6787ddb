using System.Globalization;
using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Training steps (as <see cref="TrainingThroughput"/>: M0, batch 128, AdamW, a fixed random batch) on an idle
/// machine and on one shared with a CPU-bound process (<see cref="CpuLoad"/>), at one thread, at all cores, and
/// at the count the trainer's <see cref="ThreadCountWatcher"/> picks step by step ("auto"); and PyTorch's training
/// step (<see cref="PyTorchTrainStep"/>, a child process) at one thread and all cores under the same condition,
/// where it can run. The conditions and counts take turns round by round; the watcher is one for the whole run, as
/// one training run sees its machine change under it. Before each timed auto measurement it gets untimed steps to
/// notice the change (in a training run it notices within a dozen steps).
/// </summary>
internal static class TrainingUnderLoad
{
    private const int Batch = 128, WarmupSteps = 2, MinimumSteps = 3;

    /// <summary>Untimed steps before an auto measurement: enough for the recent pace to change, and a comparison.</summary>
    private const int AutoWarmupSteps = 2 * ThreadCountWatcher.Recent + 8;

    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    public static void Run(BenchmarkOptions options, TextWriter output)
    {
        var all = Environment.ProcessorCount;
        var duration = TimeSpan.FromSeconds(options.Seconds * 2);
        var counts = new[] { 1, all }.Distinct().ToArray();
        var modes = counts.Select(c => c.ToString(Invariant)).Append("auto").ToArray();
        var pytorchLeftOut = PyTorchTrainStep.Unavailable(options.PyTorchRoot);
        if (pytorchLeftOut is not null)
            Console.Error.WriteLine($"PyTorch left out: {pytorchLeftOut}");
        var table = new TextTable("machine", "round", "side", "threads", "images/s", "ms/step", "auto chose", "slowdown comparisons");
        var ratios = new TextTable("machine", "round", "ours best of 1/all", "ours auto", "PyTorch best", "best ÷ PyTorch", "auto ÷ PyTorch");
        var rates = new Dictionary<(bool Loaded, string Mode), List<double>>();
        string? pytorchVersion = null;
        using var speed = new TrainingSpeed(EfficientVitVariant.M0, options.TrainingImageSize, Batch);
        var watcher = new ThreadCountWatcher([1, all]);
        for (var round = 1; round <= options.TrainingRounds; round++)
        {
            foreach (var loaded in new[] { false, true })
            {
                using var load = loaded ? CpuLoad.Start(options.LoadThreads) : null;
                var machine = loaded ? $"{options.LoadThreads} busy thread(s)" : "idle";
                var ours = new Dictionary<string, double>();
                foreach (var mode in modes)
                {
                    TrainingStepTimes t;
                    if (mode == "auto")
                    {
                        t = speed.Measure(duration, MinimumSteps, AutoWarmupSteps, watcher);
                    }
                    else
                    {
                        set_num_threads(int.Parse(mode, Invariant));
                        t = speed.Measure(duration, MinimumSteps, WarmupSteps);
                    }
                    ours[mode] = t.ImagesPerSecond;
                    var key = (loaded, mode);
                    if (!rates.TryGetValue(key, out var list))
                        rates[key] = list = [];
                    list.Add(t.ImagesPerSecond);
                    table.AddRow(machine, round.ToString(Invariant), "ours", mode, t.ImagesPerSecond.ToString("F1", Invariant),
                        t.MillisecondsPerStep.ToString("F1", Invariant),
                        mode == "auto" ? watcher.Chosen.ToString(Invariant) : "",
                        mode == "auto" ? watcher.SlowdownComparisons.ToString(Invariant) : "");
                    Console.Error.WriteLine($"  training, {machine}, threads {mode}, round {round}: {t.ImagesPerSecond:F1} images/s");
                }
                if (pytorchLeftOut is not null)
                    continue;

                // PyTorch in a child process of its own, under the same load (still running), at each count in turn.
                var lines = ChildProcess.Output(PyTorchTrainStep.Start(
                    options.PyTorchRoot, EfficientVitVariant.M0, Batch, options.TrainingImageSize, counts, WarmupSteps, timedSeconds: duration.TotalSeconds));
                pytorchVersion ??= lines.FirstOrDefault(l => l.StartsWith("torch ", StringComparison.Ordinal))?.Split(',')[0];
                var pytorch = PyTorchTrainStep.Rates(lines);
                var missing = counts.Where(c => !pytorch.ContainsKey(c)).ToArray();
                if (missing.Length > 0)
                    throw new InvalidOperationException($"PyTorch's training step printed no images/s at {string.Join(", ", missing)} thread(s):\n{string.Join('\n', lines)}");
                foreach (var count in counts)
                {
                    var rate = pytorch[count];
                    table.AddRow(machine, round.ToString(Invariant), "PyTorch", count.ToString(Invariant), rate.ToString("F1", Invariant),
                        (Batch * 1000 / rate).ToString("F1", Invariant), "", "");
                    Console.Error.WriteLine($"  PyTorch, {machine}, threads {count}, round {round}: {rate:F1} images/s");
                }
                var best = counts.Max(c => ours[c.ToString(Invariant)]);
                var pytorchThreads = counts.MaxBy(c => pytorch[c]);
                var pytorchBest = pytorch[pytorchThreads];
                ratios.AddRow(machine, round.ToString(Invariant), best.ToString("F1", Invariant), ours["auto"].ToString("F1", Invariant),
                    $"{pytorchBest.ToString("F1", Invariant)} ({pytorchThreads} thread(s))",
                    (best / pytorchBest).ToString("F2", Invariant), (ours["auto"] / pytorchBest).ToString("F2", Invariant));
            }
        }
        output.WriteLine($"### Training under load: EfficientViT-M0, {options.TrainingImageSize}x{options.TrainingImageSize}, batch {Batch}, AdamW steps (no data loading)");
        output.WriteLine();
        output.WriteLine($"Load: a child process spinning {options.LoadThreads} thread(s) (benchmarks/EfficientViT.Benchmarks --spin). Each row ≥ {duration.TotalSeconds:F0} s. " +
            "ours: this project's training step in this process; PyTorch: benchmarks/pytorch/train_step.py (the official model) in a child process, while the same load runs.");
        output.WriteLine();
        output.WriteLine(table.Render(options.Markdown));
        output.WriteLine();
        double Mean(bool loaded, string mode) => rates[(loaded, mode)].Average();
        var allMode = modes[1 % modes.Length];
        output.WriteLine($"loaded: auto / 1 thread = {Mean(true, "auto") / Mean(true, "1"):F2} (goal ≥ 0.90); auto / {allMode} threads = {Mean(true, "auto") / Mean(true, allMode):F2}");
        output.WriteLine($"idle:   auto / {allMode} threads = {Mean(false, "auto") / Mean(false, allMode):F2}; auto / 1 thread = {Mean(false, "auto") / Mean(false, "1"):F2}");
        output.WriteLine("(ratios of the means over the rounds)");
        output.WriteLine();
        if (pytorchLeftOut is not null)
        {
            output.WriteLine($"PyTorch left out: {pytorchLeftOut}");
            return;
        }
        output.WriteLine($"Against PyTorch ({pytorchVersion ?? "version unknown"}), per condition and round: images/s of this project at its better fixed thread count and at auto, " +
            "÷ PyTorch's at its better thread count (goal ≥ 2):");
        output.WriteLine();
        output.WriteLine(ratios.Render(options.Markdown));
    }
}

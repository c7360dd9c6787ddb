using System.Globalization;
using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Training steps (as <see cref="TrainingThroughput"/>: M0, batch 128, AdamW, a fixed random batch) on an idle
/// machine and on one shared with a CPU-bound process (<see cref="CpuLoad"/>), at one thread, at all cores, and
/// at the count the trainer's <see cref="ThreadCountWatcher"/> picks step by step ("auto"). The conditions and
/// counts take turns round by round; the watcher is one for the whole run, as one training run sees its machine
/// change under it. Before each timed auto measurement it gets untimed steps to notice the change (in a training
/// run it notices within a dozen steps).
/// </summary>
internal static class TrainingUnderLoad
{
    private const int Batch = 128, WarmupSteps = 2, MinimumSteps = 3;

    /// <summary>Untimed steps before an auto measurement: four slow steps after half a window, and a comparison.</summary>
    private const int AutoWarmupSteps = ThreadCountWatcher.Window / 2 + ThreadCountWatcher.SlowSteps + 8;

    public static void Run(BenchmarkOptions options, TextWriter output)
    {
        var all = Environment.ProcessorCount;
        var duration = TimeSpan.FromSeconds(options.Seconds * 2);
        var modes = new[] { "1", all.ToString(CultureInfo.InvariantCulture), "auto" }.Distinct().ToArray();
        var table = new TextTable("machine", "round", "threads", "images/s", "ms/step", "auto chose", "slowdown comparisons");
        var rates = new Dictionary<(bool Loaded, string Mode), List<double>>();
        using var speed = new TrainingSpeed(EfficientVitVariant.M0, options.TrainingImageSize, Batch);
        var watcher = new ThreadCountWatcher([1, all]);
        for (var round = 1; round <= options.TrainingRounds; round++)
        {
            foreach (var loaded in new[] { false, true })
            {
                using var load = loaded ? CpuLoad.Start(options.LoadThreads) : null;
                var machine = loaded ? $"{options.LoadThreads} busy thread(s)" : "idle";
                foreach (var mode in modes)
                {
                    TrainingStepTimes t;
                    if (mode == "auto")
                    {
                        t = speed.Measure(duration, MinimumSteps, AutoWarmupSteps, watcher);
                    }
                    else
                    {
                        set_num_threads(int.Parse(mode, CultureInfo.InvariantCulture));
                        t = speed.Measure(duration, MinimumSteps, WarmupSteps);
                    }
                    var key = (loaded, mode);
                    if (!rates.TryGetValue(key, out var list))
                        rates[key] = list = [];
                    list.Add(t.ImagesPerSecond);
                    table.AddRow(machine, round.ToString(CultureInfo.InvariantCulture), mode, t.ImagesPerSecond.ToString("F1", CultureInfo.InvariantCulture),
                        t.MillisecondsPerStep.ToString("F1", CultureInfo.InvariantCulture),
                        mode == "auto" ? watcher.Chosen.ToString(CultureInfo.InvariantCulture) : "",
                        mode == "auto" ? watcher.SlowdownComparisons.ToString(CultureInfo.InvariantCulture) : "");
                    Console.Error.WriteLine($"  training, {machine}, threads {mode}, round {round}: {t.ImagesPerSecond:F1} images/s");
                }
            }
        }
        output.WriteLine($"### Training under load: EfficientViT-M0, {options.TrainingImageSize}x{options.TrainingImageSize}, batch {Batch}, AdamW steps (no data loading)");
        output.WriteLine();
        output.WriteLine($"Load: a child process spinning {options.LoadThreads} thread(s) (benchmarks/EfficientViT.Benchmarks --spin). Each row ≥ {duration.TotalSeconds:F0} s.");
        output.WriteLine();
        output.WriteLine(table.Render(options.Markdown));
        output.WriteLine();
        double Mean(bool loaded, string mode) => rates[(loaded, mode)].Average();
        var allMode = modes[1 % modes.Length];
        output.WriteLine($"loaded: auto / 1 thread = {Mean(true, "auto") / Mean(true, "1"):F2} (goal ≥ 0.90); auto / {allMode} threads = {Mean(true, "auto") / Mean(true, allMode):F2}");
        output.WriteLine($"idle:   auto / {allMode} threads = {Mean(false, "auto") / Mean(false, allMode):F2}; auto / 1 thread = {Mean(false, "auto") / Mean(false, "1"):F2}");
        output.WriteLine("(ratios of the means over the rounds)");
    }
}

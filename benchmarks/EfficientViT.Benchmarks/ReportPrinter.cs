using System.Globalization;
using EfficientViT.ML.Modeling;

namespace EfficientViT.Benchmarks;

/// <summary>Turns the measurements of one run into the results table and the ratio tables derived from them.</summary>
internal static class ReportPrinter
{
    private static readonly CultureInfo Invariant = CultureInfo.InvariantCulture;

    // Rows whose rounds differ by more than this are flagged. A rule of thumb: the rounds repeat identical
    // work, so differences this large come from the machine (other load, clock changes), not the model.
    private const double UnsteadySpread = 0.10;

    public static void PrintHeader(IReadOnlyList<(string Name, string Value)> facts, BenchmarkOptions options, TextWriter output)
    {
        Heading(options.TrainingMemory ? "EfficientViT training memory next to PyTorch (CPU)" : options.TrainingProfile ? "EfficientViT training step by part (CPU)" : options.TrainingLoad ? "EfficientViT training on an idle and a loaded machine (CPU)"
            : options.Training ? "EfficientViT training throughput (CPU)" : "EfficientViT inference throughput (CPU)", options.Markdown, output);
        var table = new TextTable("fact", "value");
        foreach (var (name, value) in facts)
            table.AddRow(name, value);
        if (options.TrainingLoad)
        {
            table.AddRow("Load", $"{options.LoadThreads} busy thread(s) in a child process, in every other condition");
        }
        else if (options.TrainingMemory || options.TrainingProfile || options.Training)
        {
            var (input, timing) = options.TrainingMemory ? TrainingMemory.Describe(options) : options.TrainingProfile ? TrainingProfile.Describe(options) : TrainingThroughput.Describe(options);
            table.AddRow("Input", input);
            table.AddRow("Timing", timing);
        }
        else
        {
            table.AddRow("Input", $"{BenchmarkOptions.ImageSize}x{BenchmarkOptions.ImageSize} RGB, random normal, seed {Program.InputSeed}");
            table.AddRow("Timing", $"≥ {options.Seconds.ToString(Invariant)} s and ≥ {ThroughputMeter.Rounds} passes per configuration after warm-up, " +
                $"{ThroughputMeter.Rounds} rounds alternating unfused/fused");
        }
        output.WriteLine(table.Render(options.Markdown));
    }

    public static void PrintResults(IReadOnlyList<Measurement> results, BenchmarkOptions options, TextWriter output)
    {
        Heading("Results", options.Markdown, output);
        var table = new TextTable("variant", "fused", "threads", "batch", "images/s", "ms/batch", "passes", "round spread");
        foreach (var m in results.OrderBy(m => m.Variant).ThenBy(m => m.Fused).ThenBy(m => m.Threads).ThenBy(m => m.Batch))
        {
            table.AddRow(m.Variant.ToString(), m.Fused ? "yes" : "no", m.Threads.ToString(Invariant), m.Batch.ToString(Invariant),
                m.ImagesPerSecond.ToString("F1", Invariant), m.MillisecondsPerBatch.ToString("F2", Invariant), m.Iterations.ToString(Invariant),
                Percent(m.RoundSpread));
        }
        output.WriteLine(table.Render(options.Markdown));
        var unsteady = results.Count(m => m.RoundSpread > UnsteadySpread);
        output.WriteLine($"passes: timed forward passes. round spread: (fastest − slowest of the {ThroughputMeter.Rounds} rounds) ÷ fastest; " +
            $"the work is identical every round, so above {Percent(UnsteadySpread)} the machine was not steady during that row " +
            $"({unsteady} of {results.Count} rows here). Rerun those rows before drawing conclusions from them.");
        output.WriteLine();

        PrintFusionSpeedup(results, options, output);
        PrintThreadScaling(results, options, output);
        PrintPublishedProtocol(results, options, output);
    }

    // Fused images/s ÷ unfused images/s for the same variant, threads and batch (same run, measured in alternating rounds).
    private static void PrintFusionSpeedup(IReadOnlyList<Measurement> results, BenchmarkOptions options, TextWriter output)
    {
        Heading("BN fusion speed-up (fused images/s ÷ unfused images/s)", options.Markdown, output);
        var table = new TextTable(["variant", "threads", .. options.Batches.Select(b => $"batch {b}")]);
        foreach (var variant in options.Variants)
        {
            foreach (var threads in options.Threads)
            {
                table.AddRow([variant.ToString(), threads.ToString(Invariant),
                    .. options.Batches.Select(batch => Ratio(Find(results, variant, true, threads, batch), Find(results, variant, false, threads, batch)))]);
            }
        }
        output.WriteLine(table.Render(options.Markdown));
    }

    // images/s at each thread count ÷ images/s at the smallest thread count measured (1 with the defaults).
    private static void PrintThreadScaling(IReadOnlyList<Measurement> results, BenchmarkOptions options, TextWriter output)
    {
        var baseline = options.Threads.Min();
        var others = options.Threads.Where(t => t != baseline).ToArray();
        Heading($"Thread scaling (images/s with N threads ÷ images/s with {baseline})", options.Markdown, output);
        if (others.Length == 0)
        {
            output.WriteLine($"Only {baseline} thread(s) measured; pass e.g. --threads 1,2 for this table.");
            output.WriteLine();
            return;
        }
        var table = new TextTable(["variant", "fused", "threads", .. options.Batches.Select(b => $"batch {b}")]);
        foreach (var variant in options.Variants)
        {
            foreach (var fused in new[] { false, true })
            {
                foreach (var threads in others)
                {
                    table.AddRow([variant.ToString(), fused ? "yes" : "no", $"{threads} vs {baseline}",
                        .. options.Batches.Select(batch => Ratio(Find(results, variant, fused, threads, batch), Find(results, variant, fused, baseline, batch)))]);
                }
            }
        }
        output.WriteLine(table.Render(options.Markdown));
    }

    // The paper's CPU protocol, picked out of the grid so it can be set beside the published figures.
    private static void PrintPublishedProtocol(IReadOnlyList<Measurement> results, BenchmarkOptions options, TextWriter output)
    {
        Heading("Published CPU protocol (1 thread, batch 16, 224x224, BN fused)", options.Markdown, output);
        var rows = options.Variants.Select(v => Find(results, v, true, 1, 16)).OfType<Measurement>().ToArray();
        if (rows.Length == 0)
        {
            output.WriteLine("Not in this run; it needs --threads to include 1 and --batches to include 16.");
            output.WriteLine();
            return;
        }
        var table = new TextTable("variant", "images/s", "ms/batch");
        foreach (var m in rows)
            table.AddRow(m.Variant.ToString(), m.ImagesPerSecond.ToString("F1", Invariant), m.MillisecondsPerBatch.ToString("F2", Invariant));
        output.WriteLine(table.Render(options.Markdown));
    }

    private static Measurement? Find(IReadOnlyList<Measurement> results, EfficientVitVariant variant, bool fused, int threads, int batch) =>
        results.FirstOrDefault(m => m.Variant == variant && m.Fused == fused && m.Threads == threads && m.Batch == batch);

    private static string Percent(double fraction) => (fraction * 100).ToString("F0", Invariant) + "%";

    private static string Ratio(Measurement? numerator, Measurement? denominator) =>
        numerator is null || denominator is null ? "—" : (numerator.ImagesPerSecond / denominator.ImagesPerSecond).ToString("F2", Invariant) + "x";

    private static void Heading(string title, bool markdown, TextWriter output)
    {
        if (markdown)
        {
            output.WriteLine($"### {title}");
            output.WriteLine();
        }
        else
        {
            output.WriteLine(title);
            output.WriteLine(new string('=', title.Length));
        }
    }
}

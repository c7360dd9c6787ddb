using System.Diagnostics;
using System.Globalization;
using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;

namespace EfficientViT.Benchmarks;

/// <summary>
/// The featurizer's speed, each figure a ratio from this one run: the exported graph in ONNX Runtime
/// (vs PyTorch's own export in the same run, when it is there), the whole ML.NET pipeline vs ML.NET's
/// DnnFeaturizeImage with ResNet18 on the same images, batch-1 latency through PredictionEngine, the
/// ONNX Runtime vs TorchSharp engines, and memory while streaming many images.
/// </summary>
internal static class Program
{
    internal const int Threads = 2;

    // PyTorch's own ONNX export of the fused model, which benchmarks/pytorch/export_features.py writes into the
    // repository's artifacts/pytorch-export, timed in the same run when its files are there: a figure from another
    // run or machine is no comparison.
    private static readonly string PyTorchExportFolder = Path.GetFullPath(Path.Combine(AppContext.BaseDirectory, "..", "..", "..", "..", "..", "artifacts", "pytorch-export"));

    public static int Main(string[] args)
    {
        var images = ArgValue(args, "--images", 1024);
        var stream = ArgValue(args, "--stream", 20_000);
        var markdown = args.Contains("--markdown");
        // --memory [--images N] [--rounds N]: peak memory of each whole pipeline, each in a process of its own
        // (PipelineMemory.cs); --memory-side is that process's part.
        var side = Array.IndexOf(args, "--memory-side");
        if (side >= 0 && side + 1 < args.Length)
        {
            torch.set_num_threads(Threads);
            PipelineMemory.RunSide(args[side + 1], images);
            return 0;
        }
        var total = Stopwatch.StartNew();

        var facts = new TextTable("fact", "value");
        foreach (var (name, value) in MachineInfo.Collect())
            facts.AddRow(name, value);
        facts.AddRow("ONNX Runtime threads", Threads.ToString());
        Console.WriteLine("### EfficientViT featurizer benchmark");
        Console.WriteLine();
        Console.WriteLine(facts.Render(markdown));

        torch.set_num_threads(Threads);
        torch.manual_seed(0);
        using var m0 = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 0);
        using var m4 = EfficientVit.Create(EfficientVitVariant.M4, numClasses: 0);
        m0.eval();
        m4.eval();
        var models = new[] { (EfficientVitVariant.M0, m0), (EfficientVitVariant.M4, m4) };
        if (args.Contains("--memory"))
        {
            PipelineMemory.Run(ArgValue(args, "--images", 256), ArgValue(args, "--rounds", 2), markdown);
            Console.WriteLine($"Total run time: {total.Elapsed.TotalSeconds:F0} s");
            return 0;
        }

        // --serving [--serving-rounds N]: only the saved-model comparison (ServingBenchmark.cs); --pipelines-only: the whole-pipeline
        // comparison alone (float32 and int8 against ResNet18).
        var serving = args.Contains("--serving");
        var pipelinesOnly = args.Contains("--pipelines-only");
        if (!serving && !pipelinesOnly)
            Graph(models, markdown);
        if (!serving)
            Pipelines(models, new SyntheticImages(32, 224, seed: 1), images, markdown);
        if (!serving && !pipelinesOnly)
        {
            Latency(models, new SyntheticImages(8, 224, seed: 2), markdown);
            Streaming(m0, new SyntheticImages(32, 224, seed: 3), stream, markdown);
        }
        if (!pipelinesOnly)
            ServingBenchmark.Run(models, new SyntheticImages(32, 224, seed: 4), ArgValue(args, "--serving-images", 256), Threads, markdown, ArgValue(args, "--serving-rounds", 3));

        Console.WriteLine($"Total run time: {total.Elapsed.TotalSeconds:F0} s");
        return 0;
    }

    /// <summary>The exported graph alone in ONNX Runtime, and the same fused model in TorchSharp.</summary>
    private static void Graph((EfficientVitVariant Variant, EfficientVit Model)[] models, bool markdown)
    {
        var table = new TextTable("variant", "batch", "ONNX Runtime img/s", "vs PyTorch's export (same run)", "TorchSharp fused img/s", "ONNX Runtime / TorchSharp");
        var sideBySide = new List<string>();
        foreach (var (variant, model) in models)
        {
            var graph = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { IncludeLogits = false });
            using var options = new SessionOptions { IntraOpNumThreads = Threads };
            using var session = new InferenceSession(graph, options);
            var anchorPath = Path.Combine(PyTorchExportFolder, $"efficientvit_{variant.ToString().ToLowerInvariant()}_features.onnx");
            using var anchor = File.Exists(anchorPath) ? new InferenceSession(anchorPath, options) : null;
            using var fused = EfficientVit.Create(variant, numClasses: 0);
            fused.load_state_dict(model.state_dict());
            fused.FuseBatchNorm();
            foreach (var batch in new[] { 1, 16 })
            {
                var input = new float[batch * 3 * 224 * 224];
                new Random(0).NextSingles(input);
                var ort = Rate(batch, () =>
                {
                    using var value = OrtValue.CreateTensorValueFromMemory(input, [batch, 3, 224, 224]);
                    using var outputs = session.Run(new RunOptions(), ["input"], [value], ["features"]);
                });
                // The anchor's input and output are named as the exporter names ours ("input", "features").
                var pyTorchExport = anchor is null ? (double?)null : Rate(batch, () =>
                {
                    using var value = OrtValue.CreateTensorValueFromMemory(input, [batch, 3, 224, 224]);
                    using var outputs = anchor.Run(new RunOptions(), ["input"], [value], ["features"]);
                });
                using var tensor = torch.tensor(input, batch, 3, 224, 224);
                var torchSharp = Rate(batch, () =>
                {
                    using var scope = torch.NewDisposeScope();
                    using var noGrad = torch.no_grad();
                    fused.PooledFeatures(tensor);
                });
                table.AddRow(variant.ToString(), batch.ToString(), F(ort), pyTorchExport is { } anchorRate ? $"{ort / anchorRate:F2}x ({F(anchorRate)})" : "- (no anchor file)",
                    F(torchSharp), $"{ort / torchSharp:F2}x");
                if (batch == 16)
                {
                    var pair = SideBySide(graph, input);
                    sideBySide.Add($"{variant} {F(pair)} img/s ({pair / ort:F2}x)");
                }
            }
        }
        Section($"Exported graph (2 threads; PyTorch's export looked for in {PyTorchExportFolder})", table, markdown);
        Console.WriteLine($"Batch 16 in two one-thread sessions side by side, as the featurizer's Transform scores: {string.Join(", ", sideBySide)} of one session over 2 threads.");
        Console.WriteLine();
    }

    /// <summary>Images per second of <see cref="Threads"/> one-thread sessions each scoring its own batch at the same time.</summary>
    private static double SideBySide(byte[] graph, float[] batch)
    {
        using var options = new SessionOptions { IntraOpNumThreads = 1, InterOpNumThreads = 1 };
        var sessions = Enumerable.Range(0, Threads).Select(_ => new InferenceSession(graph, options)).ToArray();
        try
        {
            var size = batch.Length / (3 * 224 * 224);
            return Rate(size * Threads, () => Parallel.ForEach(sessions, session =>
            {
                using var value = OrtValue.CreateTensorValueFromMemory(batch, [size, 3, 224, 224]);
                using var outputs = session.Run(new RunOptions(), ["input"], [value], ["features"]);
            }));
        }
        finally
        {
            foreach (var session in sessions)
                session.Dispose();
        }
    }

    /// <summary>Decoded 224x224 images in, features out, through whole ML.NET pipelines.</summary>
    private static void Pipelines((EfficientVitVariant Variant, EfficientVit Model)[] models, SyntheticImages images, int count, bool markdown)
    {
        var mlContext = new MLContext(seed: 0);
        var sample = mlContext.Data.LoadFromEnumerable(images.Rows(1));
        var pipelines = new List<(string Name, ITransformer Model, string Column)>
        {
            ("ResNet18 DnnFeaturizeImage", mlContext.Transforms.ResizeImages("Resized", 224, 224, "Image")
                .Append(mlContext.Transforms.ExtractPixels("Pixels", "Resized"))
                .Append(mlContext.Transforms.DnnFeaturizeImage("Features", m => m.ModelSelector.ResNet18(mlContext, m.OutputColumn, m.InputColumn), "Pixels"))
                .Fit(sample), "Features"),
        };
        // Int8 featurizers calibrated on 32 of the images (random weights: the timing does not depend on them).
        // Each gets images of its own: a second featurizer calibrated on the same in-memory images found
        // them disposed by the first one's read.
        foreach (var (variant, model) in models)
        {
            foreach (var quantization in new[] { EfficientVitQuantization.None, EfficientVitQuantization.Int8 })
            {
                pipelines.Add(($"EfficientViT-{variant}{(quantization == EfficientVitQuantization.Int8 ? " int8" : "")} EfficientVitFeaturize", mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
                {
                    InputColumnName = "Image", OutputColumnName = "Features", Model = model, BatchSize = 16, Threads = Threads,
                    Quantization = quantization, CalibrationData = quantization == EfficientVitQuantization.Int8 ? mlContext.Data.LoadFromEnumerable(images.Rows(32).ToArray()) : null,
                }).Fit(sample), "Features"));
            }
        }

        var rates = pipelines.ToDictionary(p => p.Name, _ => new List<double>());
        for (var round = 0; round < 3; round++)
        {
            foreach (var (name, transformer, column) in pipelines)
            {
                // ResNet18 is slow: a quarter of the images keeps its share of the run reasonable.
                var n = name.StartsWith("ResNet18", StringComparison.Ordinal) ? Math.Max(16, count / 4) : count;
                // The decoded images exist before the clock starts: the pipelines are timed, not the source.
                var data = mlContext.Data.LoadFromEnumerable(images.Rows(n).ToArray());
                rates[name].Add(Rate(n, () => Consume(transformer.Transform(data), column), once: true));
            }
        }

        var baseline = rates.First().Value.Max();
        var table = new TextTable("pipeline", "img/s", "vs ResNet18");
        foreach (var (name, values) in rates)
            table.AddRow(name, F(values.Max()), $"{values.Max() / baseline:F1}x");
        Section($"Whole ML.NET pipeline ({count} decoded 224x224 images, {Threads} threads, best of 3 rounds)", table, markdown);

        // The saved model is ML.NET's own chain, scored one row at a time: same features, lower speed.
        using var dir = new TempFolder();
        var (_, efficientVit, _) = pipelines[1];
        var path = Path.Combine(dir.Path, "m0.zip");
        // An in-memory image column cannot be saved as the input schema; the model alone is enough here.
        mlContext.Model.Save(efficientVit, null, path);
        var loaded = new MLContext().Model.Load(path, out _);
        var check = mlContext.Data.LoadFromEnumerable(images.Rows(32));
        var inMemory = efficientVit.Transform(check).GetColumn<float[]>("Features").ToList();
        var fromZip = loaded.Transform(mlContext.Data.LoadFromEnumerable(images.Rows(32))).GetColumn<float[]>("Features").ToList();
        var maxDiff = inMemory.Zip(fromZip, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max();
        var loadedRate = Enumerable.Range(0, 2).Max(_ =>
        {
            var loadedInput = mlContext.Data.LoadFromEnumerable(images.Rows(256).ToArray());
            return Rate(256, () => Consume(loaded.Transform(loadedInput), "Features"), once: true);
        });
        Console.WriteLine($"Saved M0 pipeline reloaded: max abs feature difference {maxDiff:G3} over 32 images; {F(loadedRate)} img/s one row at a time ({loadedRate / baseline:F1}x ResNet18).");
        Console.WriteLine();
    }

    /// <summary>One image at a time through PredictionEngine (ML.NET's ONNX scoring).</summary>
    private static void Latency((EfficientVitVariant Variant, EfficientVit Model)[] models, SyntheticImages images, bool markdown)
    {
        var mlContext = new MLContext();
        var table = new TextTable("variant", "PredictionEngine ms/image");
        foreach (var (variant, model) in models)
        {
            var transformer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { InputColumnName = "Image", Model = model })
                .Fit(mlContext.Data.LoadFromEnumerable(images.Rows(1)));
            var engine = mlContext.Model.CreatePredictionEngine<ImageRow, FeatureRow>(transformer);
            var rows = images.Rows(int.MaxValue).GetEnumerator();
            var rate = Rate(1, () => { rows.MoveNext(); engine.Predict(rows.Current); });
            table.AddRow(variant.ToString(), $"{1000 / rate:F2}");
        }
        Section("Batch-1 latency", table, markdown);
    }

    /// <summary>Many image files through LoadImages and the M0 featurizer, resident memory sampled as they stream.</summary>
    private static void Streaming(EfficientVit model, SyntheticImages images, int count, bool markdown)
    {
        using var dir = new TempFolder();
        var files = images.Rows(32).Select((row, i) =>
        {
            var path = Path.Combine(dir.Path, $"image{i}.png");
            row.Image!.Save(path);
            row.Image.Dispose();
            return path;
        }).ToArray();

        var mlContext = new MLContext();
        var rows = Enumerable.Range(0, count).Select(i => new PathRow { ImagePath = files[i % files.Length] });
        var data = mlContext.Data.LoadFromEnumerable(rows);
        var pipeline = mlContext.Transforms.LoadImages("Image", "", nameof(PathRow.ImagePath))
            .Append(mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { InputColumnName = "Image", Model = model, Threads = Threads }))
            .Fit(data);
        var scored = pipeline.Transform(data);
        // What the earlier parts left for the collector is collected first, so that the samples show this part's memory.
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        var samples = new List<(int Rows, double MiB)> { (0, ResidentMiB()) };
        var stopwatch = Stopwatch.StartNew();
        using (var cursor = scored.GetRowCursor(scored.Schema.Where(c => c.Name == "Features")))
        {
            var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema["Features"]);
            VBuffer<float> features = default;
            var read = 0;
            while (cursor.MoveNext())
            {
                getter(ref features);
                if (++read % 1000 == 0)
                    samples.Add((read, ResidentMiB()));
            }
        }
        var table = new TextTable("images", "resident MiB");
        foreach (var (read, mib) in samples.Where((_, i) => i % Math.Max(1, samples.Count / 10) == 0 || i == samples.Count - 1))
            table.AddRow(read.ToString(CultureInfo.InvariantCulture), F(mib));
        var afterFirst = samples.Count > 1 ? samples[1].MiB : samples[0].MiB;
        Section($"Streaming {count} PNG files through LoadImages and EfficientViT-M0 ({count / stopwatch.Elapsed.TotalSeconds:F0} img/s): resident {F(afterFirst)} MiB after 1000 images, peak {F(samples.Max(s => s.MiB))} MiB, last {F(samples[^1].MiB)} MiB", table, markdown);
    }

    private sealed class PathRow
    {
        public string ImagePath { get; set; } = "";
    }

    internal static void Consume(IDataView scored, string column)
    {
        using var cursor = scored.GetRowCursor(scored.Schema.Where(c => c.Name == column));
        var getter = cursor.GetGetter<VBuffer<float>>(scored.Schema[column]);
        VBuffer<float> value = default;
        while (cursor.MoveNext())
            getter(ref value);
    }

    // Images per second of `action`, which handles `imagesPerCall` images: one warm-up call, then calls for at least 2 s (or one timed call).
    internal static double Rate(int imagesPerCall, Action action, bool once = false)
    {
        if (!once)
            action();
        var calls = 0;
        var stopwatch = Stopwatch.StartNew();
        do
        {
            action();
            calls++;
        }
        while (!once && stopwatch.Elapsed < TimeSpan.FromSeconds(2));
        return calls * imagesPerCall / stopwatch.Elapsed.TotalSeconds;
    }

    private static double ResidentMiB()
    {
        var line = File.ReadLines("/proc/self/status").FirstOrDefault(l => l.StartsWith("VmRSS:", StringComparison.Ordinal));
        return line is null ? double.NaN : long.Parse(line.Split(' ', StringSplitOptions.RemoveEmptyEntries)[1], CultureInfo.InvariantCulture) / 1024.0;
    }

    internal static void Section(string title, TextTable table, bool markdown)
    {
        Console.WriteLine($"#### {title}");
        Console.WriteLine();
        Console.WriteLine(table.Render(markdown));
    }

    internal static string F(double value) => value.ToString("F1", CultureInfo.InvariantCulture);

    private static int ArgValue(string[] args, string name, int fallback)
    {
        var index = Array.IndexOf(args, name);
        return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1], CultureInfo.InvariantCulture) : fallback;
    }

    internal static void NextSingles(this Random random, float[] values)
    {
        for (var i = 0; i < values.Length; i++)
            values[i] = (float)(random.NextDouble() * 2 - 1);
    }

    internal sealed class FeatureRow
    {
        public float[] Features { get; set; } = [];
    }

    internal sealed class TempFolder : IDisposable
    {
        public string Path { get; } = Directory.CreateTempSubdirectory("evit-bench-").FullName;

        public void Dispose() => Directory.Delete(Path, recursive: true);
    }
}

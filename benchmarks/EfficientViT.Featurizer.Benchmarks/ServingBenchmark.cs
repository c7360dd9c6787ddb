using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using static EfficientViT.Benchmarks.Program;

namespace EfficientViT.Benchmarks;

/// <summary>
/// A saved featurizer zip served three ways, side by side in this run: the fitted featurizer it was saved from,
/// the zip loaded by ML.NET's <c>Model.Load</c> (one row per ONNX Runtime call), and the zip loaded by
/// <c>LoadWithBatchedScoring</c>; throughput of <c>Transform</c> and batch-1 latency through <c>PredictionEngine</c>,
/// measured in alternating rounds, with the network alone at batch 1 as the compute it cannot go below. Each variant
/// in float32 and in int8 (calibrated on 32 of the images; random weights, which the timing does not depend on).
/// </summary>
internal static class ServingBenchmark
{
    public static void Run((EfficientVitVariant Variant, EfficientVit Model)[] models, SyntheticImages images, int count, int threads, bool markdown, int rounds)
    {
        var throughput = new TextTable("variant", "fitted img/s", "Model.Load img/s", "LoadWithBatchedScoring img/s", "batched / Model.Load", "batched / fitted", "max abs diff vs fitted (Load, batched)");
        var latency = new TextTable("variant", "fitted ms", "Model.Load ms", "LoadWithBatchedScoring ms", "graph alone ms, 1 thread", "graph alone ms, every core", "Model.Load / batched");
        using var dir = new TempFolder();
        foreach (var (variant, model) in models)
        foreach (var quantization in new[] { EfficientVitQuantization.None, EfficientVitQuantization.Int8 })
        {
            var int8 = quantization == EfficientVitQuantization.Int8;
            var mlContext = new MLContext(seed: 0);
            using var fitted = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions
            {
                InputColumnName = "Image", OutputColumnName = "Features", Model = model, BatchSize = 16, Threads = threads,
                Quantization = quantization, CalibrationData = int8 ? mlContext.Data.LoadFromEnumerable(images.Rows(32).ToArray()) : null,
            }).Fit(mlContext.Data.LoadFromEnumerable(images.Rows(1)));
            var row = int8 ? $"{variant} int8" : variant.ToString();
            var zip = Path.Combine(dir.Path, $"{row}.zip");
            mlContext.Model.Save(fitted, null, zip);
            var plain = new MLContext().Model.Load(zip, out _);
            var batched = new MLContext().Model.LoadWithBatchedScoring(zip, new BatchedScoringOptions { BatchSize = 16, Threads = threads }, out _);
            var contenders = new (string Name, ITransformer Model)[] { ("fitted", fitted), ("Model.Load", plain), ("batched", batched) };

            var features = contenders.Select(c => c.Model.Transform(mlContext.Data.LoadFromEnumerable(images.Rows(32))).GetColumn<float[]>("Features").ToArray()).ToArray();
            string Difference(float[][] other) => features[0].Zip(other, (a, b) => a.Zip(b, (x, y) => Math.Abs(x - y)).Max()).Max().ToString("G3");

            var rates = contenders.ToDictionary(c => c.Name, _ => new List<double>());
            var milliseconds = contenders.ToDictionary(c => c.Name, _ => new List<double>());
            var engines = contenders.ToDictionary(c => c.Name, c => mlContext.Model.CreatePredictionEngine<ImageRow, FeatureRow>(c.Model));
            var graphAlone = new List<double>();
            var graphAloneEveryCore = new List<double>();
            var graphBytes = GraphAlone.Network(model, int8);
            using var graph = new GraphAlone(graphBytes, model.Config.FeatureDim, threads: 1);
            using var graphEveryCore = new GraphAlone(graphBytes, model.Config.FeatureDim, threads: null);
            for (var round = 0; round < rounds; round++)
            {
                foreach (var (name, transformer) in contenders)
                {
                    var data = mlContext.Data.LoadFromEnumerable(images.Rows(count).ToArray());
                    rates[name].Add(Rate(count, () => Consume(transformer.Transform(data), "Features"), once: true));
                }
                foreach (var (name, _) in contenders)
                {
                    var rows = images.Rows(int.MaxValue).GetEnumerator();
                    milliseconds[name].Add(1000 / Rate(1, () => { rows.MoveNext(); engines[name].Predict(rows.Current); }));
                }
                graphAlone.Add(1000 / Rate(1, graph.Run));
                graphAloneEveryCore.Add(1000 / Rate(1, graphEveryCore.Run));
            }
            foreach (var engine in engines.Values)
                engine.Dispose();
            ((IDisposable)batched).Dispose();
            (plain as IDisposable)?.Dispose();

            double Best(string name) => rates[name].Max();
            double Fastest(string name) => milliseconds[name].Min();
            throughput.AddRow(row, F(Best("fitted")), F(Best("Model.Load")), F(Best("batched")),
                $"{Best("batched") / Best("Model.Load"):F2}x", $"{Best("batched") / Best("fitted"):F2}x", $"{Difference(features[1])}, {Difference(features[2])}");
            latency.AddRow(row, $"{Fastest("fitted"):F2}", $"{Fastest("Model.Load"):F2}", $"{Fastest("batched"):F2}", $"{graphAlone.Min():F2}", $"{graphAloneEveryCore.Min():F2}",
                $"{Fastest("Model.Load") / Fastest("batched"):F2}x");
        }
        Section($"Serving a saved zip: Transform ({count} decoded 224x224 images, batch 16, {threads} threads, best of {rounds} alternating rounds)", throughput, markdown);
        Section($"Serving a saved zip: PredictionEngine batch-1 latency (best of {rounds} alternating rounds; graph alone: the network at batch 1 in ONNX Runtime on one thread and on every core, buffers bound once, no preprocessing)", latency, markdown);
    }

    /// <summary>
    /// The network alone (normalized pixels in, as the batched step feeds it once the image is resampled), at batch 1
    /// on <c>threads</c> ONNX Runtime threads (null: its default, every core), input and output bound once: the compute a
    /// PredictionEngine call cannot go below.
    /// </summary>
    private sealed class GraphAlone : IDisposable
    {
        private readonly InferenceSession session;
        private readonly OrtValue input;
        private readonly OrtValue output;
        private readonly RunOptions runOptions = new();

        public GraphAlone(byte[] network, long featureDim, int? threads)
        {
            using var options = new SessionOptions();
            if (threads is { } count)
                options.IntraOpNumThreads = count;
            session = new InferenceSession(network, options);
            input = OrtValue.CreateTensorValueFromMemory(RandomImage(0), [1, 3, 224, 224]);
            output = OrtValue.CreateTensorValueFromMemory(new float[featureDim], [1, featureDim]);
        }

        /// <summary>The network's float32 graph, or its int8 graph calibrated on 16 random normalized images.</summary>
        public static byte[] Network(EfficientVit model, bool int8)
        {
            var options = new OnnxExportOptions();
            if (int8)
                options.Int8 = new OnnxInt8Options { Calibration = Int8Calibrator.Calibrate(model, Enumerable.Range(1, 16).Select(RandomImage).ToArray()) };
            return EfficientVitOnnxExporter.ToBytes(model, options);
        }

        private static float[] RandomImage(int seed)
        {
            var pixels = new float[3 * 224 * 224];
            new Random(seed).NextSingles(pixels);
            return pixels;
        }

        public void Run() => session.Run(runOptions, [EfficientVitOnnxExporter.DefaultInputName], [input], [EfficientVitOnnxExporter.DefaultFeaturesOutputName], [output]);

        public void Dispose()
        {
            input.Dispose();
            output.Dispose();
            runOptions.Dispose();
            session.Dispose();
        }
    }
}

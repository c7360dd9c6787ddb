using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

// What int8 costs and gains, measured:
//   accuracy CHECKPOINT [--train N] [--test N] [--calibration N]: Fashion-MNIST through the checkpoint's
//     featurizer (its own preprocessing), float32 against int8 graphs calibrated and placed several ways:
//     mean cosine of the features and the top-1 of an ML.NET LbfgsMaximumEntropy head trained on each.
//   graphs VARIANT OUTDIR: a float32 and an int8 graph of a variant (random weights, calibrated on random
//     images) for ../shared/anchors/graph-duel, which times them interleaved.
if (args.Length >= 2 && args[0] == "accuracy")
    Accuracy(args[1], Option("--train", 2000), Option("--test", 1000), Option("--calibration", 256));
else if (args.Length >= 3 && args[0] == "graphs")
    Graphs(Enum.Parse<EfficientVitVariant>(args[1], ignoreCase: true), args[2]);
else
    Console.Error.WriteLine("usage: accuracy CHECKPOINT [--train N] [--test N] [--calibration N] | graphs VARIANT OUTDIR");

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1]) : fallback;
}

static void Graphs(EfficientVitVariant variant, string outputFolder)
{
    using var model = EfficientVit.Create(variant, imageSize: 224, numClasses: 0);
    model.eval();
    var random = new Random(0);
    var images = Enumerable.Range(0, 16).Select(_ => Enumerable.Range(0, 3 * 224 * 224).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()).ToArray();
    Directory.CreateDirectory(outputFolder);
    var name = variant.ToString().ToLowerInvariant();
    EfficientVitOnnxExporter.Export(model, Path.Combine(outputFolder, $"{name}_fp32.onnx"));
    var calibration = Int8Calibrator.Calibrate(model, images);
    foreach (var (suffix, depthwise, matMuls) in new[] { ("int8", true, false), ("int8_dwfloat", false, false), ("int8_mm", true, true) })
    {
        var path = Path.Combine(outputFolder, $"{name}_{suffix}.onnx");
        EfficientVitOnnxExporter.Export(model, path, new OnnxExportOptions
        {
            Int8 = new OnnxInt8Options { Calibration = calibration, QuantizeDepthwiseConvolutions = depthwise, QuantizeAttentionMatMuls = matMuls },
        });
        Console.WriteLine($"wrote {path}");
    }
}

static void Accuracy(string checkpoint, int trainCount, int testCount, int calibrationCount)
{
    using var loaded = EfficientVitCheckpoint.Load(checkpoint);
    var model = loaded.Model;
    var transform = new ImageTransform(loaded.Metadata.Preprocessing, train: false);
    var train = FashionMnistDataset.Load(FashionMnistSplit.Train);
    var test = FashionMnistDataset.Load(FashionMnistSplit.Test);
    // Calibration images come from the end of the training set, apart from the images the heads learn from.
    var calibrationImages = Enumerable.Range(train.Count - calibrationCount, calibrationCount).Select(i => transform.Apply(train.Get(i))).ToArray();
    var trainImages = Enumerable.Range(0, trainCount).Select(i => transform.Apply(train.Get(i))).ToArray();
    var testImages = Enumerable.Range(0, testCount).Select(i => transform.Apply(test.Get(i))).ToArray();
    var trainLabels = Enumerable.Range(0, trainCount).Select(train.LabelOf).ToArray();
    var testLabels = Enumerable.Range(0, testCount).Select(test.LabelOf).ToArray();
    var side = loaded.Metadata.Preprocessing.ImageSize;

    Console.WriteLine($"EfficientViT-{loaded.Metadata.Variant} {side}x{side}, Fashion-MNIST: heads trained on {trainCount} training images, " +
        $"tested on {testCount} test images; {calibrationCount} calibration images; {Environment.ProcessorCount} cores");
    var floatOptions = new OnnxExportOptions { IncludeLogits = false };
    var floatTest = Featurize(EfficientVitOnnxExporter.ToBytes(model, floatOptions), testImages, side);
    var floatTop1 = HeadTop1(Featurize(EfficientVitOnnxExporter.ToBytes(model, floatOptions), trainImages, side), trainLabels, floatTest, testLabels);
    Console.WriteLine($"| graph | mean cosine | min cosine | head top-1 |");
    Console.WriteLine($"|---|---|---|---|");
    Console.WriteLine($"| float32 | 1 | 1 | {floatTop1:P2} |");
    var calibrations = new Dictionary<Int8CalibrationMethod, Int8Calibration>();
    foreach (var method in Enum.GetValues<Int8CalibrationMethod>())
        calibrations[method] = Int8Calibrator.Calibrate(model, calibrationImages, floatOptions, method);
    var variants = new (string Name, Int8CalibrationMethod Method, bool Depthwise, bool MatMuls)[]
    {
        ("int8 min/max", Int8CalibrationMethod.MinMax, true, false),
        ("int8 percentile", Int8CalibrationMethod.Percentile, true, false),
        ("int8 entropy", Int8CalibrationMethod.Entropy, true, false),
        ("int8 percentile, depthwise float", Int8CalibrationMethod.Percentile, false, false),
        ("int8 percentile, attention products int8", Int8CalibrationMethod.Percentile, true, true),
    };
    foreach (var (name, method, depthwise, matMuls) in variants)
    {
        var options = new OnnxExportOptions
        {
            IncludeLogits = false,
            Int8 = new OnnxInt8Options { Calibration = calibrations[method], QuantizeDepthwiseConvolutions = depthwise, QuantizeAttentionMatMuls = matMuls },
        };
        var graph = EfficientVitOnnxExporter.ToBytes(model, options);
        var int8Test = Featurize(graph, testImages, side);
        var cosines = floatTest.Zip(int8Test, Cosine).ToArray();
        var top1 = HeadTop1(Featurize(graph, trainImages, side), trainLabels, int8Test, testLabels);
        Console.WriteLine($"| {name} | {cosines.Average():F4} | {cosines.Min():F4} | {top1:P2} |");
    }
}

static float[][] Featurize(byte[] graph, float[][] images, int side)
{
    using var session = new InferenceSession(graph);
    var result = new List<float[]>();
    const int batch = 16;
    using var runOptions = new RunOptions();
    for (var start = 0; start < images.Length; start += batch)
    {
        var count = Math.Min(batch, images.Length - start);
        var data = images.Skip(start).Take(count).SelectMany(image => image).ToArray();
        using var input = OrtValue.CreateTensorValueFromMemory(data, [count, 3, side, side]);
        using var outputs = session.Run(runOptions, ["input"], [input], ["features"]);
        var features = outputs[0].GetTensorDataAsSpan<float>().ToArray();
        var width = features.Length / count;
        for (var i = 0; i < count; i++)
            result.Add(features[(i * width)..((i + 1) * width)]);
    }
    return result.ToArray();
}

static float Cosine(float[] a, float[] b)
{
    double dot = 0, na = 0, nb = 0;
    for (var i = 0; i < a.Length; i++)
    {
        dot += a[i] * b[i];
        na += a[i] * a[i];
        nb += b[i] * b[i];
    }
    return (float)(dot / Math.Sqrt(na * nb));
}

static double HeadTop1(float[][] trainFeatures, int[] trainLabels, float[][] testFeatures, int[] testLabels)
{
    var ml = new MLContext(seed: 0);
    var width = trainFeatures[0].Length;
    IDataView Rows(float[][] features, int[] labels) => ml.Data.LoadFromEnumerable(
        features.Zip(labels, (f, l) => new Row { Features = f, Label = (uint)l + 1 }),
        SchemaDefinition.Create(typeof(Row)) is var schema && (schema[nameof(Row.Features)].ColumnType = new VectorDataViewType(NumberDataViewType.Single, width)) is not null ? schema : schema);
    var pipeline = ml.Transforms.Conversion.MapValueToKey("LabelKey", nameof(Row.Label))
        .Append(ml.MulticlassClassification.Trainers.LbfgsMaximumEntropy("LabelKey", nameof(Row.Features)));
    var trained = pipeline.Fit(Rows(trainFeatures, trainLabels));
    var metrics = ml.MulticlassClassification.Evaluate(trained.Transform(Rows(testFeatures, testLabels)), "LabelKey");
    return metrics.MicroAccuracy;
}

sealed class Row
{
    public float[] Features { get; set; } = [];
    public uint Label { get; set; }
}

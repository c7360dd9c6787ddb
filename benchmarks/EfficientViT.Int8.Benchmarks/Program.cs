using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Data;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;

// What int8 costs and gains, measured:
//   accuracy CHECKPOINT [--train N] [--test N] [--calibration N] [--graphs DIR]: Fashion-MNIST through the
//     checkpoint's featurizer (its own preprocessing), float32 against int8 graphs calibrated, repaired and
//     placed several ways: mean cosine of the features and the top-1 of an ML.NET LbfgsMaximumEntropy head
//     trained on each. --graphs writes the graphs, the test images and their features to DIR for cross-cpu.
//   cross-cpu DIR [--test N]: the graphs of `accuracy --graphs DIR` on this CPU, against float32 and against
//     the features the first CPU computed (scripts: benchmarks/int8-cross-cpu.sh runs it on an emulated
//     CPU without VNNI).
//   profile GRAPH [--batch N] [--runs N] [--extended] [--nodes TYPE]: ONNX Runtime's own profile of a graph (224x224 input), time per
//     operator type, and per node of TYPE.
//   optimized GRAPH OUT: ONNX Runtime's optimized graph (all optimizations), to see what it fused.
//   sensitivity CHECKPOINT [--test N] [--calibration N] [--per-convolution] [--no-points]: what each
//     activation, group of convolutions and convolution costs in feature cosine.
//   graphs VARIANT OUTDIR: a float32 and an int8 graph of a variant (random weights, calibrated on random
//     images), to time side by side with duel.
//   duel A.onnx B.onnx [--batches 16,1] [--threads 2] [--rounds 5] [--seconds 3]: two graphs of one model timed in
//     alternating rounds in one process (GraphDuel.cs).
if (args.Length >= 2 && args[0] == "sensitivity")
    Sensitivity(args[1], Option("--test", 64), Option("--calibration", 256), args.Contains("--per-convolution"), !args.Contains("--no-points"));
else if (args.Length >= 2 && args[0] == "profile")
    Profile(args[1], Option("--batch", 16), Option("--runs", 20), args.Contains("--extended"), OptionText("--nodes"));
else if (args.Length >= 3 && args[0] == "optimized")
    Optimized(args[1], args[2]);
else if (args.Length >= 2 && args[0] == "accuracy")
    Accuracy(args[1], Option("--train", 2000), Option("--test", 1000), Option("--calibration", 256), OptionText("--graphs"));
else if (args.Length >= 2 && args[0] == "cross-cpu")
    CrossCpu(args[1], Option("--test", 1000));
else if (args.Length >= 3 && args[0] == "graphs")
    Graphs(Enum.Parse<EfficientVitVariant>(args[1], ignoreCase: true), args[2]);
else if (args.Length >= 3 && args[0] == "duel")
    EfficientViT.Benchmarks.GraphDuel.Run(args[1], args[2], (OptionText("--batches") ?? "16,1").Split(',').Select(int.Parse).ToArray(),
        Option("--threads", 2), Option("--rounds", 5), TimeSpan.FromSeconds(Option("--seconds", 3)));
else
    Console.Error.WriteLine("usage: accuracy CHECKPOINT [--train N] [--test N] [--calibration N] [--graphs DIR] | cross-cpu DIR [--test N] | graphs VARIANT OUTDIR | duel A.onnx B.onnx [--batches 16,1] [--threads 2] [--rounds 5] [--seconds 3]");

string? OptionText(string name)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? args[index + 1] : null;
}

int Option(string name, int fallback)
{
    var index = Array.IndexOf(args, name);
    return index >= 0 && index + 1 < args.Length ? int.Parse(args[index + 1]) : fallback;
}

static void Profile(string graph, int batch, int runs, bool extended, string? nodesOfType)
{
    // The prefix before EnableProfiling: ONNX Runtime takes it when profiling is switched on.
    using var options = new SessionOptions { IntraOpNumThreads = 2, ProfileOutputPathPrefix = Path.Combine(Path.GetTempPath(), "int8-profile") };
    options.EnableProfiling = true;
    // --extended: ONNX Runtime's optimizations without the layout ones (NHWC for int8, NCHWc for float).
    if (extended)
        options.GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_EXTENDED;
    using var session = new InferenceSession(graph, options);
    var input = new float[batch * 3 * 224 * 224];
    for (var i = 0; i < input.Length; i++)
        input[i] = (float)Math.Sin(i * 0.001);
    using var runOptions = new RunOptions();
    for (var r = 0; r < runs; r++)
    {
        using var value = OrtValue.CreateTensorValueFromMemory(input, [batch, 3, 224, 224]);
        using var outputs = session.Run(runOptions, [session.InputMetadata.Keys.First()], [value], [session.OutputMetadata.Keys.First()]);
    }
    var file = session.EndProfiling();
    using var json = System.Text.Json.JsonDocument.Parse(File.ReadAllText(file));
    File.Delete(file);
    var perType = new Dictionary<string, double>();
    var perNode = new Dictionary<string, double>();
    foreach (var e in json.RootElement.EnumerateArray())
    {
        if (e.GetProperty("cat").GetString() != "Node" || !e.TryGetProperty("args", out var a) || !a.TryGetProperty("op_name", out var op))
            continue;
        if (!e.GetProperty("name").GetString()!.EndsWith("_kernel_time", StringComparison.Ordinal))
            continue;
        perType[op.GetString()!] = perType.GetValueOrDefault(op.GetString()!) + e.GetProperty("dur").GetDouble();
        if (op.GetString() == nodesOfType)
            perNode[e.GetProperty("name").GetString()!] = perNode.GetValueOrDefault(e.GetProperty("name").GetString()!) + e.GetProperty("dur").GetDouble();
    }
    var total = perType.Values.Sum();
    foreach (var (op, us) in perType.OrderByDescending(p => p.Value))
        Console.WriteLine($"{op,-28} {us / runs / 1000,8:F2} ms/run  {us / total,6:P1}");
    // --nodes TYPE: the nodes of one operator type, slowest first.
    foreach (var (node, us) in perNode.OrderByDescending(p => p.Value).Take(30))
        Console.WriteLine($"  {node,-60} {us / runs / 1000,8:F3} ms/run");
}

static void Optimized(string graph, string output)
{
    using var options = new SessionOptions { OptimizedModelFilePath = output, GraphOptimizationLevel = GraphOptimizationLevel.ORT_ENABLE_ALL };
    using var session = new InferenceSession(graph, options);
    Console.WriteLine($"wrote {output}");
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
    // int8_firstint8 quantizes the patch embedding's first convolution (three input channels) too, as the default graph did until it measured slower.
    foreach (var (suffix, depthwise, matMuls, residuals, firstInt8) in new[]
    {
        ("int8", true, false, true, false), ("int8_floatresiduals", true, false, false, false), ("int8_dwfloat", false, false, true, false),
        ("int8_mm", true, true, true, false), ("int8_firstint8", true, false, true, true),
    })
    {
        var path = Path.Combine(outputFolder, $"{name}_{suffix}.onnx");
        EfficientVitOnnxExporter.Export(model, path, new OnnxExportOptions
        {
            Int8 = new OnnxInt8Options
            {
                Calibration = calibration, QuantizeDepthwiseConvolutions = depthwise, QuantizeAttentionMatMuls = matMuls, QuantizeResiduals = residuals,
                QuantizeFirstConvolution = firstInt8,
            },
        });
        Console.WriteLine($"wrote {path}");
    }
}

static void Accuracy(string checkpoint, int trainCount, int testCount, int calibrationCount, string? graphsFolder)
{
    using var loaded = EfficientVitCheckpoint.Load(checkpoint);
    var model = loaded.Model;
    var (calibrationImages, trainImages, trainLabels, testImages, testLabels) = FashionMnistImages(loaded, calibrationCount, trainCount, testCount);
    var side = loaded.Metadata.Preprocessing.ImageSize;

    Console.WriteLine($"EfficientViT-{loaded.Metadata.Variant} {side}x{side} ({checkpoint}), Fashion-MNIST: heads trained on {trainCount} training images, " +
        $"tested on {testCount} test images; {calibrationCount} calibration images; {MachineName()}");
    var floatOptions = new OnnxExportOptions { IncludeLogits = false };
    var floatGraph = EfficientVitOnnxExporter.ToBytes(model, floatOptions);
    var floatTest = Featurize(floatGraph, testImages, side);
    var floatTop1 = HeadTop1(Featurize(floatGraph, trainImages, side), trainLabels, floatTest, testLabels);

    // The library's own path: calibrated on four fifths, measured on the fifth held out, repaired if needed.
    var quantization = Int8Quantizer.Quantize(model, calibrationImages, floatOptions, quality: new Int8QualityOptions { AcceptBelowTarget = true });
    Console.WriteLine($"Int8Quantizer: {quantization.Quality}");
    Console.WriteLine("| graph | mean cosine | min cosine | head top-1 | change |");
    Console.WriteLine("|---|---|---|---|---|");
    Console.WriteLine($"| float32 | 1 | 1 | {floatTop1:P2} | |");
    // The other graphs calibrate on all the images: they are compared with each other, not checked.
    var calibrations = Enum.GetValues<Int8CalibrationMethod>().ToDictionary(m => m, m => Int8Calibrator.Calibrate(model, calibrationImages, floatOptions, m));
    var percentile = calibrations[Int8CalibrationMethod.Percentile];
    using var equalized = CrossLayerEqualization.Equalize(model);
    var graphs = new (string Name, string File, Func<byte[]> Graph)[]
    {
        ("int8, Int8Quantizer (default)", "int8_default", () => quantization.Graph),
        ("int8 percentile, all calibration images", "int8_percentile", () => Int8Graph(model, new OnnxInt8Options { Calibration = percentile })),
        ("int8 percentile, eight-bit weights (exact only with VNNI)", "int8_eightbit", () => Int8Graph(model, new OnnxInt8Options { Calibration = percentile, FullRangeWeights = true })),
        ("int8 percentile, bias correction", "int8_biascorrected", () => Int8Graph(model, new OnnxInt8Options { Calibration = percentile, CorrectBias = true })),
        ("int8 percentile, cross-layer equalized", "int8_equalized", () => Int8Graph(equalized, new OnnxInt8Options { Calibration = Int8Calibrator.Calibrate(equalized, calibrationImages, floatOptions) })),
        ("int8 percentile, residual stream float", "int8_floatresiduals", () => Int8Graph(model, new OnnxInt8Options { Calibration = percentile, QuantizeResiduals = false })),
        ("int8 min/max", "int8_minmax", () => Int8Graph(model, new OnnxInt8Options { Calibration = calibrations[Int8CalibrationMethod.MinMax] })),
        ("int8 entropy", "int8_entropy", () => Int8Graph(model, new OnnxInt8Options { Calibration = calibrations[Int8CalibrationMethod.Entropy] })),
    };
    if (graphsFolder is not null)
    {
        Directory.CreateDirectory(graphsFolder);
        File.WriteAllText(Path.Combine(graphsFolder, "test.txt"), $"{testImages.Length} {side}\n");
        WriteFloats(Path.Combine(graphsFolder, "test.f32"), testImages.SelectMany(i => i).ToArray());
        WriteFloats(Path.Combine(graphsFolder, "float32.features.f32"), floatTest.SelectMany(f => f).ToArray());
        File.WriteAllBytes(Path.Combine(graphsFolder, "float32.onnx"), floatGraph);
    }
    foreach (var (name, file, make) in graphs)
    {
        var graph = make();
        var int8Test = Featurize(graph, testImages, side);
        var cosines = floatTest.Zip(int8Test, Cosine).ToArray();
        var top1 = HeadTop1(Featurize(graph, trainImages, side), trainLabels, int8Test, testLabels);
        Console.WriteLine($"| {name} | {cosines.Average():F4} | {cosines.Min():F4} | {top1:P2} | {(top1 - floatTop1) * 100:+0.00;-0.00} points |");
        if (graphsFolder is not null)
        {
            File.WriteAllBytes(Path.Combine(graphsFolder, file + ".onnx"), graph);
            WriteFloats(Path.Combine(graphsFolder, file + ".features.f32"), int8Test.SelectMany(f => f).ToArray());
        }
    }
}

static byte[] Int8Graph(EfficientVit model, OnnxInt8Options int8) =>
    EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { IncludeLogits = false, Int8 = int8 });

static void WriteFloats(string path, float[] values)
{
    var bytes = new byte[values.Length * sizeof(float)];
    Buffer.BlockCopy(values, 0, bytes, 0, bytes.Length);
    File.WriteAllBytes(path, bytes);
}

// The first `take` of the `rows` rows of a raw float32 file.
static float[][] ReadRows(string path, int rows, int take)
{
    var bytes = File.ReadAllBytes(path);
    var values = new float[bytes.Length / sizeof(float)];
    Buffer.BlockCopy(bytes, 0, values, 0, bytes.Length);
    var width = values.Length / rows;
    return Enumerable.Range(0, Math.Min(take, rows)).Select(r => values[(r * width)..((r + 1) * width)]).ToArray();
}

static string MachineName()
{
    var model = File.Exists("/proc/cpuinfo")
        ? File.ReadLines("/proc/cpuinfo").FirstOrDefault(l => l.StartsWith("model name", StringComparison.Ordinal))?.Split(':', 2)[1].Trim()
        : null;
    // CPUID leaf 7: ECX bit 11 is AVX-512 VNNI; sub-leaf 1, EAX bit 4 is AVX-VNNI. Read from the CPU (or
    // its emulation), not /proc/cpuinfo, which under an emulator describes the host.
    var vnni = System.Runtime.Intrinsics.X86.X86Base.IsSupported
        && ((System.Runtime.Intrinsics.X86.X86Base.CpuId(7, 0).Ecx & (1 << 11)) != 0 || (System.Runtime.Intrinsics.X86.X86Base.CpuId(7, 1).Eax & (1 << 4)) != 0);
    return $"{model ?? "unknown CPU"} as .NET sees it: {Environment.ProcessorCount} cores, AVX2 {System.Runtime.Intrinsics.X86.Avx2.IsSupported}, " +
        $"AVX-512 {System.Runtime.Intrinsics.X86.Avx512F.IsSupported}, VNNI {vnni}";
}

// The graphs and test images that `accuracy --graphs DIR` wrote, run again on this CPU (meant for another
// kind of CPU than the one that wrote them, e.g. one without VNNI): each graph's features against float32
// and against the same graph's features on the first CPU.
static void CrossCpu(string folder, int testCount)
{
    var written = File.ReadAllText(Path.Combine(folder, "test.txt")).Split(' ', StringSplitOptions.TrimEntries).Select(int.Parse).ToArray();
    var (rows, side) = (written[0], written[1]);
    var test = ReadRows(Path.Combine(folder, "test.f32"), rows, testCount);
    Console.WriteLine($"{folder}: {test.Length} of its {rows} test images; {MachineName()}");
    var floatHere = Featurize(File.ReadAllBytes(Path.Combine(folder, "float32.onnx")), test, side);
    var floatThere = ReadRows(Path.Combine(folder, "float32.features.f32"), rows, testCount);
    var floatAgreement = floatHere.Zip(floatThere, Cosine).ToArray();
    Console.WriteLine($"float32 here against there: mean cosine {floatAgreement.Average():F6}, lowest {floatAgreement.Min():F6}");
    Console.WriteLine("| graph | mean cosine to float32 | min cosine | mean cosine to the first CPU's | min |");
    Console.WriteLine("|---|---|---|---|---|");
    foreach (var graph in Directory.GetFiles(folder, "int8_*.onnx").Order())
    {
        var name = Path.GetFileNameWithoutExtension(graph);
        var here = Featurize(File.ReadAllBytes(graph), test, side);
        var there = ReadRows(Path.Combine(folder, name + ".features.f32"), rows, testCount);
        var toFloat = here.Zip(floatHere, Cosine).ToArray();
        var toThere = here.Zip(there, Cosine).ToArray();
        Console.WriteLine($"| {name} | {toFloat.Average():F4} | {toFloat.Min():F4} | {toThere.Average():F6} | {toThere.Min():F6} |");
    }
}

// Which convolutions cost the accuracy: quantization error of every activation on its own (the
// float graph's value against its fake-quantized copy), then feature cosine with one group or one
// convolution int8 and the rest float, and the reverse.
static void Sensitivity(string checkpoint, int testCount, int calibrationCount, bool perConvolution, bool pointErrors)
{
    using var loaded = EfficientVitCheckpoint.Load(checkpoint);
    var model = loaded.Model;
    var (calibrationImages, _, _, testImages, _) = FashionMnistImages(loaded, calibrationCount, 0, testCount);
    var side = loaded.Metadata.Preprocessing.ImageSize;
    var floatOptions = new OnnxExportOptions { IncludeLogits = false };
    Console.WriteLine($"EfficientViT-{loaded.Metadata.Variant} {side}x{side} ({checkpoint}): {testCount} Fashion-MNIST test images, {calibrationCount} calibration images");
    var floatFeatures = Featurize(EfficientVitOnnxExporter.ToBytes(model, floatOptions), testImages, side);
    var calibrations = Enum.GetValues<Int8CalibrationMethod>().ToDictionary(m => m, m => Int8Calibrator.Calibrate(model, calibrationImages, floatOptions, m));
    var convolutions = EfficientVitOnnxExporter.QuantizableConvolutions(model, floatOptions);

    // Residual streams follow the convolutions: int8 only when every convolution is (else "only X int8" would quantize them all).
    (double Mean, double Min) Cosines(Int8CalibrationMethod method, Func<int, bool> quantize, bool matMuls = false, bool weights = true, bool activations = true, bool optimize = true, bool? residuals = null)
    {
        var graph = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions
        {
            IncludeLogits = false,
            Int8 = new OnnxInt8Options
            {
                // The predicate alone says which convolutions are int8, the first one included.
                Calibration = calibrations[method], QuantizeConvolution = quantize, QuantizeFirstConvolution = true, QuantizeAttentionMatMuls = matMuls,
                QuantizeWeights = weights, QuantizeActivations = activations,
                QuantizeResiduals = residuals ?? (activations && Enumerable.Range(0, convolutions.Count).All(quantize)),
            },
        });
        var cosines = floatFeatures.Zip(Featurize(graph, testImages, side, optimize), Cosine).ToArray();
        return (cosines.Average(), cosines.Min());
    }

    Console.WriteLine("\nFeature cosine to float32 (mean / min over the test images):");
    Console.WriteLine("| configuration | min/max | percentile | entropy |");
    Console.WriteLine("|---|---|---|---|");
    void Row(string name, Func<int, bool> quantize, bool matMuls = false, bool weights = true, bool activations = true, bool? residuals = null)
    {
        var methods = name.StartsWith("all convolutions") ? Enum.GetValues<Int8CalibrationMethod>() : [Int8CalibrationMethod.MinMax, Int8CalibrationMethod.Percentile];
        var cells = methods.Select(m => Cosines(m, quantize, matMuls, weights, activations, residuals: residuals)).Select(c => $"{c.Mean:F4} / {c.Min:F4}");
        Console.WriteLine($"| {name} | {string.Join(" | ", cells)} |");
    }
    // How much the float network itself amplifies small errors: Gaussian noise on the input image.
    foreach (var sigma in new[] { 0.001f, 0.005f, 0.02f })
    {
        var noise = new Random(1);
        var noisy = testImages.Select(image => image.Select(v => v + sigma * (float)(Math.Sqrt(-2 * Math.Log(1 - noise.NextDouble())) * Math.Cos(2 * Math.PI * noise.NextDouble()))).ToArray()).ToArray();
        var cosines = floatFeatures.Zip(Featurize(EfficientVitOnnxExporter.ToBytes(model, floatOptions), noisy, side), Cosine).ToArray();
        Console.WriteLine($"| float32, input noise sigma {sigma} | {cosines.Average():F4} / {cosines.Min():F4} | | |");
    }
    Row("all convolutions int8", _ => true);
    Row("all convolutions int8, residual stream float", _ => true, residuals: false);
    var simulated = Cosines(Int8CalibrationMethod.Percentile, _ => true, optimize: false);
    Console.WriteLine($"| all int8, ONNX Runtime's fusions off (float QDQ simulation) | | {simulated.Mean:F4} / {simulated.Min:F4} | |");
    Row("weights only int8 (activations float)", _ => true, weights: true, activations: false);
    Row("activations only int8 (weights float)", _ => true, weights: false, activations: true);
    Row("all int8, attention products too", _ => true, matMuls: true);
    var groups = new (string Name, Func<int, bool> Member)[]
    {
        ("patch embedding (first 4)", i => i < 4),
        ("depthwise", i => convolutions[i].Contains(" dw")),
        ("1x1", i => convolutions[i].Contains(" 1x1/")),
        ("dense 3x3", i => convolutions[i].Contains(" 3x3/") && !convolutions[i].Contains(" dw")),
        ("last 10", i => i >= convolutions.Count - 10),
    };
    foreach (var (name, member) in groups)
    {
        Row($"only {name} int8", member);
        Row($"all but {name} int8", i => !member(i));
    }
    if (perConvolution)
        PerConvolution();
    void PerConvolution()
    {
    Console.WriteLine("\nOne convolution at a time (percentile): only it int8 / all but it int8");
    Console.WriteLine("| # | convolution | only it: mean / min | all but it: mean / min |");
    Console.WriteLine("|---|---|---|---|");
    for (var i = 0; i < convolutions.Count; i++)
    {
        var only = Cosines(Int8CalibrationMethod.Percentile, k => k == i);
        var allBut = Cosines(Int8CalibrationMethod.Percentile, k => k != i);
        Console.WriteLine($"| {i} | {convolutions[i]} | {only.Mean:F4} / {only.Min:F4} | {allBut.Mean:F4} / {allBut.Min:F4} |");
    }
    }
    if (pointErrors)
        PointErrors(model, floatOptions, calibrations, testImages, side);
    return;
}

static void PointErrors(EfficientVit model, OnnxExportOptions floatOptions, Dictionary<Int8CalibrationMethod, Int8Calibration> calibrations, float[][] testImages, int side)
{
    Console.WriteLine("\nEvery activation fake-quantized alone (float graph values on the test images):");
    Console.WriteLine("| point | value | shape | channel spread (max/median abs max) | cosine min/max | cosine percentile | cosine entropy |");
    Console.WriteLine("|---|---|---|---|---|---|---|");
    var (calibrationGraph, pointCount) = EfficientVitOnnxExporter.CalibrationGraph(model, floatOptions);
    var pointStatistics = Enumerable.Range(0, pointCount).Select(_ => new PointError(calibrations.Values.ToArray())).ToArray();
    using (var session = new InferenceSession(calibrationGraph))
    using (var runOptions = new RunOptions())
    {
        var names = Enumerable.Range(0, pointCount).Select(EfficientVitOnnxExporter.CalibrationOutputName).ToArray();
        for (var start = 0; start < testImages.Length; start += 8)
        {
            var count = Math.Min(8, testImages.Length - start);
            var data = testImages.Skip(start).Take(count).SelectMany(image => image).ToArray();
            using var input = OrtValue.CreateTensorValueFromMemory(data, [count, 3, side, side]);
            using var outputs = session.Run(runOptions, ["input"], [input], names);
            for (var k = 0; k < pointCount; k++)
                pointStatistics[k].Add(k, outputs[k].GetTensorDataAsSpan<float>(), outputs[k].GetTensorTypeAndShape().Shape);
        }
    }
    for (var k = 0; k < pointCount; k++)
        Console.WriteLine($"| {k} | {pointStatistics[k].Describe()} |");

}

// Fashion-MNIST through the checkpoint's evaluation transform: calibration images from the end of the
// training set, apart from the first trainCount that the heads learn from, and the first testCount test images.
static (float[][] Calibration, float[][] Train, int[] TrainLabels, float[][] Test, int[] TestLabels) FashionMnistImages(
    LoadedCheckpoint loaded, int calibrationCount, int trainCount, int testCount)
{
    var transform = new ImageTransform(loaded.Metadata.Preprocessing, train: false);
    var train = FashionMnistDataset.Load(FashionMnistSplit.Train);
    var test = FashionMnistDataset.Load(FashionMnistSplit.Test);
    return (Enumerable.Range(train.Count - calibrationCount, calibrationCount).Select(i => transform.Apply(train.Get(i))).ToArray(),
        Enumerable.Range(0, trainCount).Select(i => transform.Apply(train.Get(i))).ToArray(),
        Enumerable.Range(0, trainCount).Select(train.LabelOf).ToArray(),
        Enumerable.Range(0, testCount).Select(i => transform.Apply(test.Get(i))).ToArray(),
        Enumerable.Range(0, testCount).Select(test.LabelOf).ToArray());
}

static float[][] Featurize(byte[] graph, float[][] images, int side, bool optimize = true)
{
    using var sessionOptions = new SessionOptions { GraphOptimizationLevel = optimize ? GraphOptimizationLevel.ORT_ENABLE_ALL : GraphOptimizationLevel.ORT_DISABLE_ALL };
    using var session = new InferenceSession(graph, sessionOptions);
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

// One activation's quantization error over the test images, for each calibration's range.
sealed class PointError(Int8Calibration[] calibrations)
{
    private readonly double[] dot = new double[calibrations.Length];
    private readonly double[] quantizedSquares = new double[calibrations.Length];
    private double squares;
    private float[]? channelMax;
    private string shape = "";
    private float min = float.PositiveInfinity, max = float.NegativeInfinity;

    public void Add(int point, ReadOnlySpan<float> values, long[] dimensions)
    {
        shape = string.Join("x", dimensions.Skip(1));
        var channels = (int)dimensions[1];
        var perChannel = (int)(dimensions.Skip(2).Aggregate(1L, (a, b) => a * b));
        channelMax ??= new float[channels];
        for (var i = 0; i < values.Length; i++)
        {
            var v = values[i];
            min = Math.Min(min, v);
            max = Math.Max(max, v);
            var c = i / perChannel % channels;
            channelMax[c] = Math.Max(channelMax[c], Math.Abs(v));
            squares += (double)v * v;
        }
        for (var m = 0; m < calibrations.Length; m++)
        {
            var range = calibrations[m].Ranges[point];
            var low = Math.Min(range.Min, 0f);
            var high = Math.Max(range.Max, 0f);
            var scale = (high - low) / 255f;
            if (!(scale > 0f))
                scale = 1f;
            var zero = MathF.Round(-low / scale);
            foreach (var v in values)
            {
                var q = (Math.Clamp(MathF.Round(v / scale) + zero, 0f, 255f) - zero) * scale;
                dot[m] += (double)v * q;
                quantizedSquares[m] += (double)q * q;
            }
        }
    }

    public string Describe()
    {
        var sorted = channelMax!.Order().ToArray();
        var median = Math.Max(sorted[sorted.Length / 2], 1e-12f);
        var cosines = dot.Select((d, m) => d / Math.Sqrt(squares * quantizedSquares[m] + 1e-30)).Select(c => c.ToString("F4"));
        return $"[{min:G3}, {max:G3}] | {shape} | {sorted[^1] / median:F1} | {string.Join(" | ", cosines)}";
    }
}

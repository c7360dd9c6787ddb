using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Onnx;

public class Int8ExportTests
{
    // The official M0 and its two fixture images, with their mirror images: four calibration images.
    private static (LoadedCheckpoint Loaded, Tensor Images, float[][] Calibration) OfficialM0()
    {
        var loaded = EfficientVitCheckpoint.Load(TestFiles.OfficialM0("efficientvit_m0.pth"));
        var images = TestFiles.ReadFloat32(TestFiles.OfficialM0("input_2x3x224x224.f32"), 2, 3, 224, 224);
        using var mirrored = images.flip(3);
        using var all = cat([images, mirrored], 0);
        var calibration = Enumerable.Range(0, 4).Select(i => { using var image = all[i]; return image.contiguous().data<float>().ToArray(); }).ToArray();
        return (loaded, images, calibration);
    }

    private static OnnxExportOptions Int8Options(Int8Calibration calibration) =>
        new() { Int8 = new OnnxInt8Options { Calibration = calibration } };

    [Fact]
    public void Int8_features_stay_close_to_float_ones()
    {
        var (loaded, images, calibration) = OfficialM0();
        using var _ = loaded;
        using var __ = images;
        var floatOutputs = OnnxRuntimeRunner.Run(EfficientVitOnnxExporter.ToBytes(loaded.Model), ("input", images));
        // Entropy calibration needs more than four images to fill its histograms; the benchmark measures it.
        foreach (var method in new[] { Int8CalibrationMethod.MinMax, Int8CalibrationMethod.Percentile })
        {
            var int8 = Int8Calibrator.Calibrate(loaded.Model, calibration, method: method);
            var int8Outputs = OnnxRuntimeRunner.Run(EfficientVitOnnxExporter.ToBytes(loaded.Model, Int8Options(int8)), ("input", images));
            using var cosine = nn.functional.cosine_similarity(floatOutputs["features"], int8Outputs["features"], dim: 1);
            var values = cosine.data<float>().ToArray();
            Console.WriteLine($"{method}: cosine {string.Join(", ", values)}");
            Assert.All(values, v => Assert.True(v >= 0.95f, $"{method}: cosine {v}"));
        }
    }

    [Fact]
    public void Int8_graph_passes_the_checker_holds_int8_weights_and_is_a_quarter_of_the_float_file()
    {
        var (loaded, images, calibration) = OfficialM0();
        using var _ = loaded;
        images.Dispose();
        using var dir = new TempDirectory();
        var floatPath = dir.File("m0.onnx");
        var int8Path = dir.File("m0_int8.onnx");
        // Features only: the classification head stays float, and ImageNet's 1000 classes would weigh on the ratio.
        var featuresOnly = new OnnxExportOptions { IncludeLogits = false };
        EfficientVitOnnxExporter.Export(loaded.Model, floatPath, featuresOnly);
        featuresOnly.Int8 = new OnnxInt8Options { Calibration = Int8Calibrator.Calibrate(loaded.Model, calibration) };
        EfficientVitOnnxExporter.Export(loaded.Model, int8Path, featuresOnly);

        OnnxChecker.AssertValid(int8Path);
        // Every convolution weight but the squeeze-and-excitation ones and the first convolution's is an int8 initializer behind a DequantizeLinear.
        var counts = QuantizedAndFloatConvolutions(int8Path);
        Assert.True(counts.Quantized > 40, $"int8 convolutions: {counts.Quantized}");
        // The two squeeze-and-excitation convolutions of each of M0's two patch mergings, and the first (QuantizeFirstConvolution).
        Assert.Equal(2 * 2 + 1, counts.Float);
        var firstInt8Path = dir.File("m0_int8_first.onnx");
        featuresOnly.Int8 = featuresOnly.Int8 with { QuantizeFirstConvolution = true };
        EfficientVitOnnxExporter.Export(loaded.Model, firstInt8Path, featuresOnly);
        Assert.Equal((counts.Quantized + 1, 2 * 2), QuantizedAndFloatConvolutions(firstInt8Path));
        var ratio = (double)new FileInfo(int8Path).Length / new FileInfo(floatPath).Length;
        Console.WriteLine($"int8/float32 file size: {ratio:F3}");
        Assert.InRange(ratio, 0.2, 0.4);
    }

    private static (int Quantized, int Float) QuantizedAndFloatConvolutions(string path)
    {
        var (exitCode, stdout, stderr) = OnnxChecker.RunPython(
            "import onnx,sys\n" +
            "m=onnx.load(sys.argv[1]); inits={i.name:i for i in m.graph.initializer}; producer={o:n for n in m.graph.node for o in n.output}\n" +
            "q=f=0\n" +
            "for n in m.graph.node:\n" +
            "  if n.op_type!='Conv': continue\n" +
            "  w=n.input[1]\n" +
            "  if w in producer and producer[w].op_type=='DequantizeLinear' and inits[producer[w].input[0]].data_type==onnx.TensorProto.INT8: q+=1\n" +
            "  else: f+=1\n" +
            "print(q,f)", path);
        Assert.True(exitCode == 0, stderr);
        var counts = stdout.Trim().Split(' ').Select(int.Parse).ToArray();
        return (counts[0], counts[1]);
    }

    /// <summary>The official M0's int8 graph as ONNX Runtime optimizes it at <paramref name="level"/>, read by a Python script.</summary>
    private static (int ExitCode, string Stdout, string Stderr) RunOnOptimizedOfficialM0(GraphOptimizationLevel level, string script)
    {
        var (loaded, images, calibration) = OfficialM0();
        using var _ = loaded;
        images.Dispose();
        using var dir = new TempDirectory();
        var optimized = dir.File("optimized.onnx");
        var bytes = EfficientVitOnnxExporter.ToBytes(loaded.Model, Int8Options(Int8Calibrator.Calibrate(loaded.Model, calibration)));
        using (var options = new SessionOptions { OptimizedModelFilePath = optimized, GraphOptimizationLevel = level })
        using (new InferenceSession(bytes, options))
        {
        }
        return OnnxChecker.RunPython(script, optimized);
    }

    [Fact]
    public void Onnx_runtime_fuses_the_pairs_into_int8_convolutions()
    {
        var (exitCode, stdout, stderr) = RunOnOptimizedOfficialM0(GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "import onnx,sys,collections\nm=onnx.load(sys.argv[1]); c=collections.Counter(n.op_type for n in m.graph.node)\n" +
            "print(c['QLinearConv'], c['Conv']+c['FusedConv'])");
        Assert.True(exitCode == 0, stderr);
        var counts = stdout.Trim().Split(' ').Select(int.Parse).ToArray();
        Assert.True(counts[0] > 40, $"QLinearConv: {counts[0]}, float Conv: {counts[1]}");
        Assert.Equal(2 * 2 + 1, counts[1]); // the squeeze-and-excitation ones and the first, float by design
    }

    [Fact]
    public void Int8_graph_keeps_no_layout_changes_inside_the_attention_once_optimized()
    {
        // ONNX Runtime runs int8 convolutions channels-last and transposes back to channels-first after each;
        // the graph's own layout changes must cancel those, leaving only the few the network needs.
        var (exitCode, stdout, stderr) = RunOnOptimizedOfficialM0(GraphOptimizationLevel.ORT_ENABLE_ALL,
            "import onnx,sys\nm=onnx.load(sys.argv[1]); made={o:n.op_type for n in m.graph.node for o in n.output}\n" +
            "read={}\nfor n in m.graph.node:\n  for i in n.input: read.setdefault(i,[]).append(n.op_type)\n" +
            "for n in m.graph.node:\n  if n.op_type=='Transpose': print(made.get(n.input[0],'input'), '/'.join(read.get(n.output[0],[])))");
        Assert.True(exitCode == 0, stderr);
        var all = stdout.Split('\n', StringSplitOptions.RemoveEmptyEntries).Select(line => line.Trim()).ToArray();
        var described = string.Join("; ", all);
        // Each head's keys are transposed in uint8 (a few bytes per token) for ONNX Runtime's int8 product
        // queries·keysᵀ, which has no transposed-operand form.
        var keyTransposes = all.Count(t => t == "Reshape MatMulIntegerToFloat");
        Assert.Equal(6 * 4, keyTransposes); // M0: six blocks of four heads
        var transposes = all.Where(t => t != "Reshape MatMulIntegerToFloat").ToArray();
        // M0 at 224: the input, both inputs of the last (float) residual sum before the pooling, two per
        // squeeze-and-excitation (two patch mergings) and two per windowed attention (stage 1 at 14x14,
        // window 7). Laid out channels-first, the graph kept four per attention head alone.
        Assert.True(transposes.Length <= 1 + 2 + 2 * 2 + 2, $"{transposes.Length} transposes: {described}");
        Assert.DoesNotContain(transposes, t => t.Contains("Split") || t.Contains("MatMul") || t.Contains("Softmax"));
    }

    [Fact]
    public void The_channels_last_layout_with_nothing_quantized_gives_the_float_graphs_features()
    {
        // 288x288: stage 1's maps are 18x18, padded to three 7x7 windows a side, so every layout path runs:
        // padding, window partition, attention over tokens, squeeze-and-excitation, pooling.
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 288, numClasses: 0);
        model.eval();
        var random = new Random(0);
        var images = Enumerable.Range(0, 2).Select(_ => Enumerable.Range(0, 3 * 288 * 288).Select(_ => (float)(random.NextDouble() * 4 - 2)).ToArray()).ToArray();
        using var input = tensor(images.SelectMany(image => image).ToArray()).view(2, 3, 288, 288);
        var layoutOnly = new OnnxExportOptions
        {
            Int8 = new OnnxInt8Options { Calibration = Int8Calibrator.Calibrate(model, images), QuantizeWeights = false, QuantizeActivations = false, QuantizeResiduals = false },
        };

        using var expected = OnnxRuntimeRunner.Run(EfficientVitOnnxExporter.ToBytes(model), ("input", input))["features"];
        using var actual = OnnxRuntimeRunner.Run(EfficientVitOnnxExporter.ToBytes(model, layoutOnly), ("input", input))["features"];

        using var difference = (expected - actual).abs().max();
        using var scale = expected.abs().max();
        Assert.True(difference.item<float>() <= 1e-4f * scale.item<float>(), $"max abs difference {difference.item<float>()} at feature scale {scale.item<float>()}");
    }

    [Fact]
    public void Convolutions_left_float_among_int8_ones_keep_the_calibrations_numbering()
    {
        // An unquantized convolution's output is read channels-last through a transpose; the next convolution
        // reading that transpose must find the same activation, not number a new one.
        var (loaded, images, calibration) = OfficialM0();
        using var _ = loaded;
        using var __ = images;
        var int8 = Int8Calibrator.Calibrate(loaded.Model, calibration);
        var everyOther = new OnnxExportOptions { Int8 = new OnnxInt8Options { Calibration = int8, QuantizeConvolution = index => index % 2 == 0 } };

        using var expected = OnnxRuntimeRunner.Run(EfficientVitOnnxExporter.ToBytes(loaded.Model), ("input", images))["features"];
        using var actual = OnnxRuntimeRunner.Run(EfficientVitOnnxExporter.ToBytes(loaded.Model, everyOther), ("input", images))["features"];

        using var cosine = nn.functional.cosine_similarity(expected, actual, dim: 1);
        Assert.All(cosine.data<float>().ToArray(), v => Assert.True(v >= 0.95f, $"cosine {v}"));
    }

    [Fact]
    public void Calibration_is_deterministic_for_the_same_data()
    {
        var (loaded, images, calibration) = OfficialM0();
        using var _ = loaded;
        images.Dispose();
        var first = Int8Calibrator.Calibrate(loaded.Model, calibration, method: Int8CalibrationMethod.Percentile);
        var second = Int8Calibrator.Calibrate(loaded.Model, calibration, method: Int8CalibrationMethod.Percentile);

        Assert.Equal(first.Ranges, second.Ranges);
        Assert.Equal(EfficientVitOnnxExporter.ToBytes(loaded.Model, Int8Options(first)), EfficientVitOnnxExporter.ToBytes(loaded.Model, Int8Options(second)));
    }

    [Fact]
    public void Empty_or_misshapen_calibration_data_and_foreign_ranges_are_refused()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 3);
        model.eval();

        var empty = Assert.Throws<ArgumentException>(() => Int8Calibrator.Calibrate(model, []));
        Assert.Contains("at least one image", empty.Message);
        var misshapen = Assert.Throws<ArgumentException>(() => Int8Calibrator.Calibrate(model, [new float[3 * 32 * 32]]));
        Assert.Contains("(3, 64, 64)", misshapen.Message);

        var calibration = Int8Calibrator.Calibrate(model, [new float[3 * 64 * 64]]);
        var fewer = new Int8Calibration("M0", calibration.Method, calibration.Ranges.Skip(1).ToArray());
        Assert.Contains("activation ranges", Assert.Throws<ArgumentException>(() => EfficientVitOnnxExporter.ToBytes(model, Int8Options(fewer))).Message);
        var otherVariant = new Int8Calibration("M4", calibration.Method, calibration.Ranges);
        Assert.Contains("EfficientViT-M4", Assert.Throws<ArgumentException>(() => EfficientVitOnnxExporter.ToBytes(model, Int8Options(otherVariant))).Message);
    }
}

using EfficientViT.ML.Data;
using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Tests.Modeling;
using TorchSharp;
using static TorchSharp.torch;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Tests.Onnx;

public class EfficientVitOnnxExporterTests
{
    [Fact]
    public void Official_m0_in_onnx_runtime_matches_torchsharp_and_the_official_outputs()
    {
        using var loaded = EfficientVitCheckpoint.Load(TestFiles.OfficialM0("efficientvit_m0.pth"));
        var bytes = EfficientVitOnnxExporter.ToBytes(loaded.Model);
        using var scope = NewDisposeScope();
        var x = TestFiles.ReadFloat32(TestFiles.OfficialM0("input_2x3x224x224.f32"), 2, 3, 224, 224);

        var outputs = OnnxRuntimeRunner.Run(bytes, (EfficientVitOnnxExporter.DefaultInputName, x));

        using var noGrad = no_grad();
        Assert.True(TestFiles.MaxAbsDiff(loaded.Model.PooledFeatures(x), outputs["features"]) <= 1e-4f);
        Assert.True(TestFiles.MaxAbsDiff(loaded.Model.forward(x), outputs["logits"]) <= 1e-4f);
        Assert.True(TestFiles.MaxAbsDiff(TestFiles.ReadFloat32(TestFiles.OfficialM0("m0_fused_logits.f32"), 2, 1000), outputs["logits"]) <= 1e-4f);
        Assert.True(TestFiles.MaxAbsDiff(TestFiles.ReadFloat32(TestFiles.OfficialM0("m0_features.f32"), 2, 192), outputs["features"]) <= 1e-4f);
    }

    [Theory]
    [InlineData(EfficientVitVariant.M1, 160, 3)]   // 10x10 first stage: padded to two 7x7 windows per side
    [InlineData(EfficientVitVariant.M2, 224, 1)]
    public void Random_weights_match_torchsharp_including_window_padding_and_distillation(EfficientVitVariant variant, int imageSize, int batch)
    {
        using var model = EfficientVit.Create(variant, imageSize, numClasses: 5, distillation: true);
        RandomWeights.Apply(model);
        model.eval();
        var bytes = EfficientVitOnnxExporter.ToBytes(model);
        using var scope = NewDisposeScope();
        var x = randn(batch, 3, imageSize, imageSize, generator: new Generator(2));

        var outputs = OnnxRuntimeRunner.Run(bytes, ("input", x));

        using var noGrad = no_grad();
        Assert.True(TestFiles.MaxAbsDiff(model.PooledFeatures(x), outputs["features"]) <= 1e-4f);
        Assert.True(TestFiles.MaxAbsDiff(model.forward(x), outputs["logits"]) <= 1e-4f);
    }

    [Fact]
    public void Normalization_and_center_crop_in_the_graph_equal_doing_them_by_hand()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 224, numClasses: 0);
        RandomWeights.Apply(model);
        model.eval();
        float[] mean = [0.2f, 0.5f, 0.7f], std = [0.3f, 0.2f, 0.1f];
        var bytes = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { Preprocessing = new ImagePreprocessing(224, 0.875, mean, std), InputSize = 256 });
        using var scope = NewDisposeScope();
        var pixels = randint(0, 256, new long[] { 2, 3, 256, 256 }, generator: new Generator(4)).to_type(ScalarType.Float32);

        var outputs = OnnxRuntimeRunner.Run(bytes, ("input", pixels));

        // By hand: crop rows/columns 16..239, then per channel (p/255 - mean)/std.
        var cropped = pixels[.., .., 16..240, 16..240];
        var normalized = zeros_like(cropped);
        for (var c = 0; c < 3; c++)
            normalized[.., c] = (cropped[.., c] / 255f - mean[c]) / std[c];
        using var noGrad = no_grad();
        Assert.True(TestFiles.MaxAbsDiff(model.PooledFeatures(normalized), outputs["features"]) <= 1e-4f);
        Assert.DoesNotContain("logits", outputs.Keys);
    }

    [Theory]
    [InlineData(false, null, null)]
    [InlineData(true, 256, null)]
    [InlineData(true, null, 183)]
    public void Exported_graph_passes_the_onnx_checker(bool normalize, int? inputSize, int? resizeSize)
    {
        using var dir = new TempDirectory();
        using var model = EfficientVit.Create(EfficientVitVariant.M1, imageSize: 160, numClasses: 4, distillation: true);
        var path = dir.File("m1.onnx");
        var preprocessing = normalize ? ImagePreprocessing.ImageNet(160) with { CropPercent = resizeSize is { } resize ? 160.0 / resize : 0.875 } : null;
        EfficientVitOnnxExporter.Export(model, path, new OnnxExportOptions { Preprocessing = preprocessing, InputSize = inputSize, ResizeInGraph = resizeSize is not null });
        OnnxChecker.AssertValid(path);
    }

    [Fact]
    public void Exporting_leaves_the_model_unfused_and_trainable()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 2);
        EfficientVitOnnxExporter.ToBytes(model);
        Assert.False(model.IsFused);
        Assert.Contains(model.named_modules(), m => m.module is TorchSharp.Modules.BatchNorm2d);
        model.train();
    }

    [Fact]
    public void Old_opsets_and_small_inputs_are_refused()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, numClasses: 2);
        Assert.Contains("17", Assert.Throws<ArgumentException>(() => EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { Opset = 13 })).Message);
        Assert.Contains("smaller", Assert.Throws<ArgumentException>(() => EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { InputSize = 200 })).Message);
    }
}

public class OnnxResizeTests
{
    private static readonly float[] Mean = [0.485f, 0.456f, 0.406f];
    private static readonly float[] Std = [0.229f, 0.224f, 0.225f];

    // 64 -> 73 has no short period (dense resize matrices); 64 -> 128 and 224 -> 256 (the ImageNet
    // evaluation resize) repeat every 2 and 8 outputs (strided convolutions).
    [Theory]
    [InlineData(64, 73)]
    [InlineData(64, 128)]
    [InlineData(224, 256)]
    public void Bicubic_resize_and_crop_in_the_graph_equal_a_hand_written_pil_style_resize(int size, int resize)
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: size, numClasses: 0);
        RandomWeights.Apply(model);
        model.eval();
        var bytes = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { Preprocessing = new ImagePreprocessing(size, (double)size / resize, Mean, Std), ResizeInGraph = true });
        var strided = System.Text.Encoding.ASCII.GetString(bytes).Contains("resize_rows_kernel", StringComparison.Ordinal);
        Assert.Equal(resize % size == 0 || resize * 7 == size * 8, strided);
        var random = new Random(12);
        var pixels = Enumerable.Range(0, 2 * 3 * size * size).Select(_ => random.Next(256)).ToArray();
        using var scope = NewDisposeScope();

        var outputs = OnnxRuntimeRunner.Run(bytes, ("input", tensor(pixels.Select(p => (float)p).ToArray(), 2, 3, size, size)));

        var resized = PilStyleResize.ResizeAndCrop(pixels, size, resize, fractionBits: 14);
        var expectedInput = tensor(resized.Select(p => (float)p).ToArray(), 2, 3, size, size);
        for (var c = 0; c < 3; c++)
            expectedInput[.., c] = (expectedInput[.., c] / 255f - Mean[c]) / Std[c];
        using var noGrad = no_grad();
        Assert.True(TestFiles.MaxAbsDiff(model.PooledFeatures(expectedInput), outputs["features"]) <= 1e-4f);
    }

    // The graph resizes with the record's interpolation, and so gives the features of the evaluation transform's input
    // for an S×S image; a record of an earlier version (none recorded) keeps the bicubic resize graphs always had.
    [Theory]
    [InlineData(ImageInterpolation.Bicubic, ImageInterpolation.Bicubic)]
    [InlineData(ImageInterpolation.Bilinear, ImageInterpolation.Bilinear)]
    [InlineData(null, ImageInterpolation.Bicubic)]
    public void The_in_graph_resize_follows_the_record(ImageInterpolation? recorded, ImageInterpolation resized)
    {
        const int size = 64;
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: size, numClasses: 0);
        RandomWeights.Apply(model);
        model.eval();
        var preprocessing = ImagePreprocessing.ImageNet(size) with { Interpolation = recorded };
        var bytes = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { Preprocessing = preprocessing, ResizeInGraph = true });
        var random = new Random(7);
        var rgb = new byte[size * size * 3];
        random.NextBytes(rgb);
        var planes = Enumerable.Range(0, rgb.Length).Select(i => (float)rgb[i % (size * size) * 3 + i / (size * size)]).ToArray();
        using var scope = NewDisposeScope();

        var outputs = OnnxRuntimeRunner.Run(bytes, ("input", tensor(planes, 1, 3, size, size)));

        var evaluation = new ImageTransform(preprocessing with { Interpolation = resized }, train: false).Apply(new ImageSample(rgb, size, size, 3, 0, "random"));
        using var noGrad = no_grad();
        Assert.True(TestFiles.MaxAbsDiff(model.PooledFeatures(tensor(evaluation, 1, 3, size, size)), outputs["features"]) <= 1e-4f);
    }

    [Fact]
    public void A_resize_of_normalized_input_is_refused()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 0);
        var error = Assert.Throws<ArgumentException>(() => EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { ResizeInGraph = true }));
        Assert.Contains("needs Preprocessing", error.Message);
    }
}

public class OnnxClassifierOutputTests
{
    [Fact]
    public void Probabilities_and_predicted_class_names_agree_with_the_logits_and_pass_the_checker()
    {
        using var dir = new TempDirectory();
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 64, numClasses: 3);
        RandomWeights.Apply(model);
        model.eval();
        string[] names = ["cat", "dog", "bird"];
        var batched = new OnnxExportOptions { ProbabilitiesOutputName = "probabilities", PredictedClassOutputName = "predicted", ClassNames = names };
        var path = dir.File("classifier.onnx");
        EfficientVitOnnxExporter.Export(model, path, batched);
        OnnxChecker.AssertValid(path);
        var single = dir.File("single.onnx");
        EfficientVitOnnxExporter.Export(model, single, new OnnxExportOptions { ProbabilitiesOutputName = "probabilities", PredictedClassOutputName = "predicted", ClassNames = names, DropBatchAxis = true });
        OnnxChecker.AssertValid(single);

        using var scope = NewDisposeScope();
        var x = randn(4, 3, 64, 64, generator: new Generator(21));
        using var session = new Microsoft.ML.OnnxRuntime.InferenceSession(path);
        using var input = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x.data<float>().ToArray(), [4, 3, 64, 64]);
        using var outputs = session.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), ["input"], [input], ["logits", "probabilities", "predicted"]);
        var logits = tensor(outputs[0].GetTensorDataAsSpan<float>().ToArray(), 4, 3);
        var probabilities = tensor(outputs[1].GetTensorDataAsSpan<float>().ToArray(), 4, 3);
        var predicted = outputs[2].GetStringTensorAsArray();

        Assert.True(TestFiles.MaxAbsDiff(logits.softmax(1), probabilities) < 1e-5f);
        Assert.Equal(logits.argmax(1).data<long>().ToArray().Select(i => names[i]), predicted);

        using var singleSession = new Microsoft.ML.OnnxRuntime.InferenceSession(single);
        Assert.Equal([3], singleSession.OutputMetadata["probabilities"].Dimensions);
        Assert.Empty(singleSession.OutputMetadata["predicted"].Dimensions);
        using var one = Microsoft.ML.OnnxRuntime.OrtValue.CreateTensorValueFromMemory(x[0].flatten().data<float>().ToArray(), [1, 3, 64, 64]);
        using var singleOutputs = singleSession.Run(new Microsoft.ML.OnnxRuntime.RunOptions(), ["input"], [one], ["predicted"]);
        Assert.Equal(predicted[0], singleOutputs[0].GetStringTensorAsArray().Single());
    }
}

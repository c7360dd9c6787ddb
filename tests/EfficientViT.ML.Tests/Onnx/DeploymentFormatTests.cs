using EfficientViT.ML.MLNet;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using EfficientViT.ML.Tests.Modeling;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.OnnxRuntime;
using Microsoft.ML.OnnxRuntime.Tensors;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.Tests.Onnx;

/// <summary>
/// The contract of an exported graph as another ONNX Runtime host sees it (docs/guide/scale.md): input and
/// output names, element types, the single symbolic batch axis, the metadata entries, and the pixel
/// layout of the graphs with preprocessing inside. Everything is read back from the serialized model.
/// </summary>
public class DeploymentFormatTests
{

    [Fact]
    public void Default_export_has_input_features_and_logits_float32_with_one_symbolic_batch_axis()
    {
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 224, numClasses: 10);
        using var session = new InferenceSession(EfficientVitOnnxExporter.ToBytes(model));

        Assert.Equal(["input"], session.InputMetadata.Keys);
        AssertTensor(session.InputMetadata["input"], [-1, 3, 224, 224], ["batch", "", "", ""]);
        // Only the first axis is free: hosts such as SynapseML's ONNXModel accept at most one.
        Assert.Single(session.InputMetadata["input"].Dimensions, d => d == -1);

        Assert.Equal(["features", "logits"], session.OutputNames);
        AssertTensor(session.OutputMetadata["features"], [-1, 192], ["batch", ""]);
        AssertTensor(session.OutputMetadata["logits"], [-1, 10], ["batch", ""]);

        var metadata = session.ModelMetadata;
        Assert.Equal("efficientvit_m0", metadata.GraphName);
        Assert.Equal("M0", metadata.CustomMetadataMap["efficientvit.variant"]);
        Assert.Equal("224", metadata.CustomMetadataMap["efficientvit.image_size"]);
        Assert.Equal("224", metadata.CustomMetadataMap["efficientvit.input_size"]);
        Assert.Equal("false", metadata.CustomMetadataMap["efficientvit.normalization_in_graph"]);
    }

    [Theory]
    [InlineData(EfficientVitVariant.M1, 192)]
    [InlineData(EfficientVitVariant.M2, 224)]
    [InlineData(EfficientVitVariant.M3, 320)]
    [InlineData(EfficientVitVariant.M5, 384)]
    public void Features_only_graphs_output_the_last_stage_width(EfficientVitVariant variant, int width)
    {
        // The CLI's --features-only, and any backbone without a head, give one output.
        using var model = EfficientVit.Create(variant, imageSize: 224, numClasses: 1000);
        using var session = new InferenceSession(EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { IncludeLogits = false }));

        Assert.Equal(["features"], session.OutputNames);
        AssertTensor(session.OutputMetadata["features"], [-1, width], ["batch", ""]);
        Assert.Equal(variant.ToString(), session.ModelMetadata.CustomMetadataMap["efficientvit.variant"]);
    }

    [Fact]
    public void Normalize_and_input_size_256_take_raw_pixels_row_by_row_or_batched_alike()
    {
        // What `efficientvit export --normalize --input-size 256 --features-only` writes.
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: 224, numClasses: 1000);
        RandomWeights.Apply(model);
        model.eval();
        var bytes = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions
        {
            Preprocessing = ImagePreprocessing.ImageNet(), InputSize = 256, IncludeLogits = false,
        });
        using var session = new InferenceSession(bytes);

        AssertTensor(session.InputMetadata["input"], [-1, 3, 256, 256], ["batch", "", "", ""]);
        Assert.Equal(["features"], session.OutputNames);
        var metadata = session.ModelMetadata.CustomMetadataMap;
        Assert.Equal("224", metadata["efficientvit.image_size"]);
        Assert.Equal("256", metadata["efficientvit.input_size"]);
        Assert.Equal("true", metadata["efficientvit.normalization_in_graph"]);

        // Three rows, each a flat float array of 3·256·256 pixel values 0–255 in (channel, row, column)
        // order: scored as one batch of three, and one at a time, they give the same features.
        const int rows = 3, item = 3 * 256 * 256;
        var random = new Random(11);
        var pixels = Enumerable.Range(0, rows * item).Select(_ => (float)random.Next(256)).ToArray();
        var batched = Features(session, pixels, rows, 256);
        for (var r = 0; r < rows; r++)
        {
            var single = Features(session, pixels.AsSpan(r * item, item).ToArray(), 1, 256);
            Assert.Equal(192, single.Length);
            AssertClose(single, batched.AsSpan(r * 192, 192).ToArray(), 1e-4f);
        }
    }

    [Fact]
    public void Resize_size_graph_reproduces_the_featurizer_on_images_already_at_the_model_size()
    {
        // The featurizer's preprocessing in one exportable graph: for 224x224 images, RGB pixels 0–255
        // (channels first) into a graph exported with normalization and ResizeSize 256 give the features
        // EfficientVitFeaturize computes.
        const int size = 224, count = 3;
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: size, numClasses: 0);
        RandomWeights.Apply(model);
        model.eval();
        var random = new Random(5);
        var rgba = Enumerable.Range(0, count).Select(_ =>
        {
            var pixels = new byte[size * size * 4];
            random.NextBytes(pixels);
            for (var i = 3; i < pixels.Length; i += 4)
                pixels[i] = 255;
            return pixels;
        }).ToArray();

        var mlContext = new MLContext(seed: 0);
        var data = mlContext.Data.LoadFromEnumerable(rgba.Select(p => new ImageRow { Image = MLImage.CreateFromPixels(size, size, MLPixelFormat.Rgba32, p) }).ToArray());
        using var featurizer = mlContext.Transforms.EfficientVitFeaturize(new EfficientVitFeaturizerOptions { Model = model }).Fit(data);
        var expected = featurizer.Transform(data).GetColumn<float[]>("Features").ToArray();

        var bytes = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions
        {
            Preprocessing = ImagePreprocessing.ImageNet(), ResizeInGraph = true,
        });
        using var session = new InferenceSession(bytes);
        AssertTensor(session.InputMetadata["input"], [-1, 3, size, size], ["batch", "", "", ""]);
        Assert.Equal("224", session.ModelMetadata.CustomMetadataMap["efficientvit.input_size"]);

        var chw = new float[count * 3 * size * size];
        for (var n = 0; n < count; n++)
            for (var c = 0; c < 3; c++)
                for (var p = 0; p < size * size; p++)
                    chw[(n * 3 + c) * size * size + p] = rgba[n][p * 4 + c];
        var features = Features(session, chw, count, size);
        for (var n = 0; n < count; n++)
            AssertClose(expected[n], features.AsSpan(n * 192, 192).ToArray(), 1e-4f);
    }

    private static void AssertTensor(NodeMetadata node, int[] dimensions, string[] symbolic)
    {
        Assert.True(node.IsTensor);
        Assert.Equal(TensorElementType.Float, node.ElementDataType);
        Assert.Equal(typeof(float), node.ElementType);
        Assert.Equal(dimensions, node.Dimensions);
        Assert.Equal(symbolic, node.SymbolicDimensions);
    }

    private static float[] Features(InferenceSession session, float[] pixels, int batch, int side)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(pixels, [batch, 3, side, side]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input"], [input], ["features"]);
        Assert.Equal([batch, 192L], outputs[0].GetTensorTypeAndShape().Shape);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    private static void AssertClose(float[] expected, float[] actual, float tolerance)
    {
        Assert.Equal(expected.Length, actual.Length);
        var difference = expected.Zip(actual, (a, b) => Math.Abs(a - b)).Max();
        Assert.True(difference <= tolerance, $"max abs difference {difference}");
    }

    private sealed class ImageRow
    {
        [ImageType(224, 224)]
        public MLImage? Image { get; set; }
    }
}

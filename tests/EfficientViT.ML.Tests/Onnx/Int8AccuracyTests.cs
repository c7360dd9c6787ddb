using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Tests.Training;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Onnx;

[Collection(TorchGlobalStateCollection.Name)]
public class Int8AccuracyTests
{
    // Smooth images of random stripes: each pixel a sum of two plane waves per channel, in the range of
    // normalized pixels times the contrast.
    internal static float[][] StripeImages(int count, int side, int seed, float contrast = 1f)
    {
        var random = new Random(seed);
        var images = new float[count][];
        for (var n = 0; n < count; n++)
        {
            var image = new float[3 * side * side];
            for (var c = 0; c < 3; c++)
            {
                var (fx1, fy1, fx2, fy2) = (random.NextDouble() * 0.3, random.NextDouble() * 0.3, random.NextDouble() * 0.6, random.NextDouble() * 0.6);
                var (phase1, phase2, offset) = (random.NextDouble() * 6.3, random.NextDouble() * 6.3, random.NextDouble() - 0.5);
                for (var y = 0; y < side; y++)
                    for (var x = 0; x < side; x++)
                        image[(c * side + y) * side + x] = contrast * (float)(offset + Math.Sin(fx1 * x + fy1 * y + phase1) + 0.5 * Math.Sin(fx2 * x + fy2 * y + phase2));
            }
            images[n] = image;
        }
        return images;
    }

    internal static float[] Features(InferenceSession session, float[][] images, int side)
    {
        using var input = OrtValue.CreateTensorValueFromMemory(images.SelectMany(i => i).ToArray(), [images.Length, 3, side, side]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input"], [input], ["features"]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    internal static double[] RowCosines(float[] a, float[] b, int rows)
    {
        var width = a.Length / rows;
        return Enumerable.Range(0, rows).Select(r =>
        {
            double dot = 0, na = 0, nb = 0;
            for (var i = r * width; i < (r + 1) * width; i++)
            {
                dot += (double)a[i] * b[i];
                na += (double)a[i] * a[i];
                nb += (double)b[i] * b[i];
            }
            return dot / Math.Sqrt(na * nb);
        }).ToArray();
    }

    // A freshly initialized M0 is well conditioned (unlike the official-m0 fixture, whose perturbed
    // BatchNorm statistics make its features move by a cosine of 0.05 under input noise of 0.001): on it,
    // int8 must reach the 0.99 feature cosine the format is meant to give, and ONNX Runtime's fused int8
    // kernels must compute what the graph's QuantizeLinear/DequantizeLinear pairs define (the same graph
    // run with its optimizations off, in float with explicit rounding).
    [Fact]
    public void Int8_features_of_a_well_conditioned_network_keep_a_cosine_of_0_99_and_the_fused_kernels_match_the_qdq_definition()
    {
        const int side = 64;
        manual_seed(11);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: side, numClasses: 0);
        model.eval();
        var calibrationImages = StripeImages(32, side, seed: 1);
        var testImages = StripeImages(8, side, seed: 2);
        var calibration = Int8Calibrator.Calibrate(model, calibrationImages);
        var int8Graph = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { Int8 = new OnnxInt8Options { Calibration = calibration } });

        using var floatSession = new InferenceSession(EfficientVitOnnxExporter.ToBytes(model));
        using var fusedSession = new InferenceSession(int8Graph);
        using var unfusedOptions = new SessionOptions { GraphOptimizationLevel = GraphOptimizationLevel.ORT_DISABLE_ALL };
        using var unfusedSession = new InferenceSession(int8Graph, unfusedOptions);
        var floatFeatures = Features(floatSession, testImages, side);
        var fused = Features(fusedSession, testImages, side);
        var unfused = Features(unfusedSession, testImages, side);

        var toFloat = RowCosines(floatFeatures, fused, testImages.Length);
        var toDefinition = RowCosines(unfused, fused, testImages.Length);
        Console.WriteLine($"int8 against float32: {string.Join(", ", toFloat.Select(c => c.ToString("F4")))}");
        Console.WriteLine($"fused int8 against its QDQ definition: {string.Join(", ", toDefinition.Select(c => c.ToString("F5")))}");
        Assert.All(toFloat, c => Assert.InRange(c, 0.99, 1.0));
        Assert.All(toDefinition, c => Assert.InRange(c, 0.999, 1.0));
    }
}

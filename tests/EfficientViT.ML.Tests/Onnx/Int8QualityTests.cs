using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Tests.Training;
using Microsoft.ML.OnnxRuntime;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Onnx;

/// <summary>The int8 graph measures itself on held-out images, refuses what misses its target, and repairs.</summary>
[Collection(TorchGlobalStateCollection.Name)]
public class Int8QualityTests
{
    private const int Side = 64;

    private static float[][] StripeImages(int count, int seed, float contrast = 1f) => Int8AccuracyTests.StripeImages(count, Side, seed, contrast);

    private static EfficientVit FreshM0(int numClasses = 0)
    {
        manual_seed(11);
        var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: Side, numClasses: numClasses);
        model.eval();
        return model;
    }

    private static float[] Run(byte[] graph, float[][] images, string output = "features")
    {
        using var session = new InferenceSession(graph);
        using var input = OrtValue.CreateTensorValueFromMemory(images.SelectMany(i => i).ToArray(), [images.Length, 3, Side, Side]);
        using var runOptions = new RunOptions();
        using var outputs = session.Run(runOptions, ["input"], [input], [output]);
        return outputs[0].GetTensorDataAsSpan<float>().ToArray();
    }

    [Fact]
    public void The_report_gives_the_figures_of_the_held_out_images_as_measured_independently()
    {
        using var model = FreshM0(numClasses: 5);
        var images = StripeImages(40, seed: 1);
        var quantization = Int8Quantizer.Quantize(model, images);
        var report = quantization.Quality;
        Console.WriteLine(report);

        // Every fifth image held out: 8 of 40, the other 32 calibrate.
        Assert.Equal(8, report.HoldoutImages);
        Assert.Equal(32, report.CalibrationImages);
        Assert.True(report.MeetsTarget, report.ToString());
        Assert.Equal("plain", report.Repair);
        Assert.Single(report.Tried);

        var holdout = images.Where((_, i) => i % 5 == 4).ToArray();
        var floatGraph = EfficientVitOnnxExporter.ToBytes(model);
        var cosines = Int8AccuracyTests.RowCosines(Run(floatGraph, holdout), Run(quantization.Graph, holdout), holdout.Length);
        Assert.Equal(cosines.Average(), report.MeanCosine, 6);
        Assert.Equal(cosines.Min(), report.LowestCosine, 6);
        var floatLogits = Run(floatGraph, holdout, "logits");
        var int8Logits = Run(quantization.Graph, holdout, "logits");
        static int ArgMax(float[] values, int row) => Enumerable.Range(row * 5, 5).MaxBy(i => values[i]);
        var agreement = Enumerable.Range(0, holdout.Length).Count(r => ArgMax(floatLogits, r) == ArgMax(int8Logits, r)) / (double)holdout.Length;
        Assert.Equal(agreement, report.Top1Agreement);

        // The graph says what it is.
        Assert.Contains("efficientvit.int8_quality", System.Text.Encoding.UTF8.GetString(quantization.Graph));
    }

    [Fact]
    public void A_calibration_unlike_the_images_the_graph_sees_is_caught_on_the_holdout_and_refused_with_its_figures()
    {
        // Calibrated on faint images (a twentieth of the contrast), the ranges clip the ordinary images of the holdout.
        using var model = FreshM0();
        var faint = StripeImages(32, seed: 1, contrast: 0.05f);
        var ordinary = StripeImages(8, seed: 2);
        var noRepair = new Int8QualityOptions { Repair = false };

        var refused = Assert.Throws<Int8QualityException>(() => Int8Quantizer.Quantize(model, faint, quality: noRepair, holdout: ordinary));
        Console.WriteLine(refused.Message);
        Assert.Contains("plain: mean cosine", refused.Message);
        Assert.Contains("8 images held out", refused.Message);
        Assert.False(refused.Report.MeetsTarget);
        Assert.True(refused.Report.MeanCosine < 0.99, refused.Report.ToString());

        // Calibrated on images like the holdout, the same model passes: the figure measured the calibration, not the model.
        Assert.True(Int8Quantizer.Quantize(model, StripeImages(32, seed: 3), quality: noRepair, holdout: ordinary).Quality.MeetsTarget);

        // Opted in, the best graph is kept with its figures.
        var kept = Int8Quantizer.Quantize(model, faint, quality: new Int8QualityOptions { Repair = false, AcceptBelowTarget = true }, holdout: ordinary);
        Assert.False(kept.Quality.MeetsTarget);
        Assert.Equal(refused.Report.MeanCosine, kept.Quality.MeanCosine, 9);
    }

    [Fact]
    public void Degenerate_calibration_data_is_refused_by_name()
    {
        using var model = FreshM0();
        var one = Assert.Throws<ArgumentException>(() => Int8Quantizer.Quantize(model, StripeImages(1, seed: 1)));
        Assert.Contains("at least 16 distinct images", one.Message);
        Assert.Contains("of the 1 given, 1 qualify", one.Message);

        // Twenty images, each of one flat colour per channel.
        var flat = Enumerable.Range(0, 20).Select(i =>
        {
            var image = new float[3 * Side * Side];
            for (var c = 0; c < 3; c++)
                Array.Fill(image, (i * 3 + c) / 60f - 0.5f, c * Side * Side, Side * Side);
            return image;
        }).ToArray();
        var flatError = Assert.Throws<ArgumentException>(() => Int8Quantizer.Quantize(model, flat));
        Assert.Contains("20 are one flat colour (images 0, 1, 2, 3, 4, …)", flatError.Message);

        // One image twenty times is one image.
        var image = StripeImages(1, seed: 4)[0];
        var repeated = Assert.Throws<ArgumentException>(() => Int8Quantizer.Quantize(model, Enumerable.Repeat(image, 20).ToArray()));
        Assert.Contains("19 repeat an earlier image", repeated.Message);

        // Sixteen distinct images pass.
        Assert.Equal(3, Int8Quantizer.Quantize(model, StripeImages(16, seed: 5)).Quality.HoldoutImages);
    }

    [Fact]
    public void Bias_correction_moves_the_int8_features_mean_toward_the_float_ones()
    {
        using var model = FreshM0();
        var calibrationImages = StripeImages(32, seed: 1);
        var test = StripeImages(16, seed: 2);
        var calibration = Int8Calibrator.Calibrate(model, calibrationImages);
        var floatFeatures = Run(EfficientVitOnnxExporter.ToBytes(model), test);
        double MeanShift(bool correct)
        {
            var int8 = Run(EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { Int8 = new OnnxInt8Options { Calibration = calibration, CorrectBias = correct } }), test);
            // Per feature channel, the mean over the images of int8 − float; then the root mean square over channels.
            var width = floatFeatures.Length / test.Length;
            var shifts = Enumerable.Range(0, width).Select(c => Enumerable.Range(0, test.Length).Average(n => (double)int8[n * width + c] - floatFeatures[n * width + c]));
            return Math.Sqrt(shifts.Average(d => d * d));
        }
        var plain = MeanShift(false);
        var corrected = MeanShift(true);
        Console.WriteLine($"rms mean shift of the features: plain {plain:G4}, bias-corrected {corrected:G4}");
        Assert.True(corrected < plain, $"bias correction: {corrected} against {plain}");
    }

    [Fact]
    public void The_repairs_meet_a_target_the_plain_graph_misses_and_the_report_lists_each_graph_tried()
    {
        using var model = FreshM0();
        var images = StripeImages(40, seed: 1);
        var plain = Int8Quantizer.Quantize(model, images).Quality;
        var target = new Int8QualityOptions { MinimumMeanCosine = plain.MeanCosine + (1 - plain.MeanCosine) / 3, MinimumLowestCosine = plain.LowestCosine };
        var log = new List<string>();
        var repaired = Int8Quantizer.Quantize(model, images, quality: target, log: log.Add).Quality;
        Console.WriteLine(string.Join("\n", log));
        Assert.True(repaired.MeetsTarget, repaired.ToString());
        Assert.NotEqual("plain", repaired.Repair);
        Assert.True(repaired.MeanCosine > plain.MeanCosine);
        Assert.Equal(repaired.Tried.Select(m => m.ToString()), log);
        Assert.Equal("plain", repaired.Tried[0].Graph);
        Assert.Equal(plain.MeanCosine, repaired.Tried[0].MeanCosine, 9);
    }

    [Fact]
    public void The_float_convolution_repair_leaves_float_the_convolutions_its_measurements_rank_worst()
    {
        // A target no graph reaches: every repair is tried, the best graph kept and reported below the target.
        using var model = FreshM0();
        var images = StripeImages(20, seed: 1);
        var report = Int8Quantizer.Quantize(model, images, quality: new Int8QualityOptions { MinimumMeanCosine = 1, AcceptBelowTarget = true }).Quality;
        Assert.False(report.MeetsTarget);
        var alone = report.Tried.Where(m => m.Graph.EndsWith(")", StringComparison.Ordinal) && m.Graph.Contains(" float (", StringComparison.Ordinal) && m.Graph.Contains("convolution ", StringComparison.Ordinal) && !m.Graph.Contains(" of ", StringComparison.Ordinal)).ToList();
        var convolutions = EfficientVitOnnxExporter.QuantizableConvolutions(model, new OnnxExportOptions()).Count;
        Assert.Equal(convolutions - 1, alone.Count); // all but the first, float by default
        Assert.DoesNotContain(alone, m => m.Graph.Contains("convolution 0 float", StringComparison.Ordinal));
        // The first group left float is the convolution whose own measurement was best.
        var best = alone.MaxBy(m => m.MeanCosine)!;
        var index = int.Parse(best.Graph[(best.Graph.LastIndexOf("convolution ", StringComparison.Ordinal) + "convolution ".Length)..].Split(' ')[0]);
        var first = Assert.Single(report.Tried, m => m.Graph.Contains($"1 of {convolutions} convolutions float", StringComparison.Ordinal));
        Assert.EndsWith($"({index})", first.Graph);
        Assert.Equal(report.Tried.Max(m => m.MeanCosine), report.MeanCosine);
    }
}

using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using EfficientViT.ML.Tests.Modeling;
using EfficientViT.ML.Tests.Training;
using Microsoft.ML.OnnxRuntime;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Onnx;

[Collection(TorchGlobalStateCollection.Name)]
public class CrossLayerEqualizationTests
{
    private const int Side = 64;

    /// <summary>
    /// The convolution pairs with a ReLU between them, found here from the model's structure: the patch
    /// embedding's consecutive convolutions, each feed-forward's Pw1 → Pw2, each patch merging's Conv1 → Conv2
    /// and Conv2 → Conv3 (through the squeeze-excite gate, whose fc1 also reads Conv2's output).
    /// </summary>
    private static List<(string Name, Conv2dBN Producer, Conv2dBN Consumer, TorchSharp.Modules.Conv2d? AlsoReads)> Pairs(EfficientVit model)
    {
        var embedding = model.PatchEmbedding.OfType<Conv2dBN>().ToList();
        var pairs = embedding.Zip(embedding.Skip(1), (a, b) => ("patch_embed", a, b, (TorchSharp.Modules.Conv2d?)null)).ToList();
        foreach (var (name, module) in model.named_modules())
        {
            if (module is FeedForward ffn)
                pairs.Add((name, ffn.Pw1, ffn.Pw2, null));
            else if (module is PatchMerging merging)
                pairs.AddRange([(name + ".conv1", merging.Conv1, merging.Conv2, null), (name + ".conv2", merging.Conv2, merging.Conv3, merging.Se.Fc1)]);
        }
        return pairs;
    }

    /// <summary>
    /// A freshly created M0 with random BatchNorm parameters and statistics (every branch contributes), whose
    /// scale freedom is then used badly: each pair's producer channel i multiplied by f_i (BatchNorm γ and β) and
    /// its consumer's input channel i divided by f_i, f_i from 0.1 to 10 in random order. The float function
    /// stays that of the random network; the channels of every activation between a pair, and the consumers'
    /// columns, now differ in range up to 100× more. (Scaling γ alone, compensated nowhere, makes another
    /// network, on which equalization measured no gain: see the int8 test.)
    /// </summary>
    private static EfficientVit ImbalancedM0()
    {
        manual_seed(11);
        var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: Side, numClasses: 0);
        RandomWeights.Apply(model, seed: 5);
        var generator = new Generator(3);
        using (var scope = NewDisposeScope())
        using (no_grad())
        {
            // PatchMerging's Conv2 is both a consumer and a producer: it takes 1/f of Conv1's factors into its
            // kernels, then factors of its own on its BatchNorm, which Conv3 and the squeeze-excite's fc1 undo.
            foreach (var (_, producer, consumer, alsoReads) in Pairs(model))
            {
                var norm = producer.BatchNorm!;
                var factors = pow(10, rand(norm.weight.shape, generator: generator) * 2 - 1);
                norm.weight.mul_(factors);
                norm.bias!.mul_(factors);
                consumer.Conv.weight.div_(consumer.Groups > 1 ? factors.view(-1, 1, 1, 1) : factors.view(1, -1, 1, 1));
                alsoReads?.weight.div_(factors.view(1, -1, 1, 1));
            }
        }
        model.eval();
        return model;
    }

    // max |fused weight| per output channel of the producer and per input channel of the consumer (its kernel when depthwise).
    private static (float[] Producer, float[] Consumer) Ranges(Conv2dBN producer, Conv2dBN consumer)
    {
        using var scope = NewDisposeScope();
        var produced = producer.FusedWeightAndBias().Weight;
        var consumed = consumer.FusedWeightAndBias().Weight;
        var depthwise = consumer.Groups > 1;
        var producerRanges = produced.abs().amax([1, 2, 3]);
        var consumerRanges = consumed.abs().amax(depthwise ? [1, 2, 3] : [0, 2, 3]);
        return (producerRanges.data<float>().ToArray(), consumerRanges.data<float>().ToArray());
    }

    private static double LargestRelativeMismatch(Conv2dBN producer, Conv2dBN consumer)
    {
        var (r1, r2) = Ranges(producer, consumer);
        Assert.Equal(r1.Length, r2.Length);
        return r1.Zip(r2, (a, b) => Math.Abs(a - b) / Math.Max(a, b)).Max();
    }

    [Fact]
    public void Equalized_model_computes_the_same_features_and_leaves_the_original_unchanged()
    {
        using var model = ImbalancedM0();
        using var scope = NewDisposeScope();
        var images = tensor(Int8AccuracyTests.StripeImages(4, Side, seed: 2).SelectMany(i => i).ToArray(), [4, 3, Side, Side]);
        var before = model.PooledFeatures(images);
        var originalWeights = model.state_dict().ToDictionary(kv => kv.Key, kv => kv.Value.clone());

        using var equalized = CrossLayerEqualization.Equalize(model);

        Assert.False(equalized.training);
        var after = equalized.PooledFeatures(images);
        var scale = before.abs().max().item<float>();
        var difference = TestFiles.MaxAbsDiff(before, after);
        Console.WriteLine($"features: largest |value| {scale:G4}, largest difference after equalization {difference:G3}");
        Assert.True(difference <= 1e-4 * scale, $"the features moved by {difference} (scale {scale})");
        Assert.All(model.state_dict(), kv => Assert.True(kv.Value.equal(originalWeights[kv.Key]).all().item<bool>(), $"{kv.Key} of the original changed"));
    }

    [Fact]
    public void Each_pair_has_equal_ranges_on_both_sides_after_equalization_and_not_before()
    {
        using var model = ImbalancedM0();
        using var equalized = CrossLayerEqualization.Equalize(model);

        var before = Pairs(model).Select(pair => (pair.Name, Mismatch: LargestRelativeMismatch(pair.Producer, pair.Consumer))).ToList();
        var after = Pairs(equalized).Select(pair => (pair.Name, Mismatch: LargestRelativeMismatch(pair.Producer, pair.Consumer))).ToList();

        // 3 in the patch embedding, 2 per patch merging (2), one per feed-forward: 2 per down-sampling part (2)
        // and 2 per block (1 + 2 + 3 blocks).
        Assert.Equal(3 + 2 * 2 + 2 * 2 + 2 * 6, after.Count);
        Console.WriteLine($"largest relative mismatch of a pair's ranges: before {before.Max(p => p.Mismatch):F3} (smallest {before.Min(p => p.Mismatch):F3}), after {after.Max(p => p.Mismatch):G3}");
        Assert.All(before, pair => Assert.True(pair.Mismatch > 0.1, $"{pair.Name} was balanced before equalization ({pair.Mismatch})"));
        Assert.All(after, pair => Assert.True(pair.Mismatch <= 1e-4, $"{pair.Name}: the ranges differ by {pair.Mismatch} after equalization"));
    }

    // A fresh model's feed-forwards end in a BatchNorm of scale 0 (each starts as the identity inside its
    // residual): Pw2 has no weights at all, so there is nothing to balance and no scale may be 0 or infinite.
    [Fact]
    public void Channels_without_weights_on_one_side_are_left_as_they_are()
    {
        manual_seed(11);
        using var model = EfficientVit.Create(EfficientVitVariant.M0, imageSize: Side, numClasses: 0);
        model.eval();
        using var equalized = CrossLayerEqualization.Equalize(model);

        var feedForwards = (Original: model.named_modules().Select(m => m.module).OfType<FeedForward>().ToList(),
            Equalized: equalized.named_modules().Select(m => m.module).OfType<FeedForward>().ToList());
        Assert.NotEmpty(feedForwards.Original);
        foreach (var (original, copy) in feedForwards.Original.Zip(feedForwards.Equalized))
        {
            Assert.True(copy.Pw1.BatchNorm!.weight.equal(original.Pw1.BatchNorm!.weight).all().item<bool>());
            Assert.True(copy.Pw1.BatchNorm!.bias!.equal(original.Pw1.BatchNorm!.bias!).all().item<bool>());
            Assert.True(copy.Pw2.Conv.weight.equal(original.Pw2.Conv.weight).all().item<bool>());
        }
    }

    /// <summary>Mean feature cosine of the int8 graph of <paramref name="model"/>, calibrated on its own float graph, to <paramref name="reference"/>.</summary>
    private static double Int8Cosine(EfficientVit model, float[][] calibrationImages, float[][] testImages, float[] reference)
    {
        var calibration = Int8Calibrator.Calibrate(model, calibrationImages);
        var int8Graph = EfficientVitOnnxExporter.ToBytes(model, new OnnxExportOptions { Int8 = new OnnxInt8Options { Calibration = calibration } });
        using var session = new InferenceSession(int8Graph);
        var features = Int8AccuracyTests.Features(session, testImages, Side);
        return Int8AccuracyTests.RowCosines(reference, features, testImages.Length).Average();
    }

    // Where it does not pay (same images, measured once each, without → with): the fresh M0 of
    // Int8AccuracyTests 0.9980 → 0.9983; this model before its imbalance 0.9996 → 0.9996; Pw1's γ alone
    // scaled 0.1–10, compensated nowhere, 0.9991 → 0.9992; every producer's γ so scaled 0.9907 → 0.9827 (with
    // ±127 weights 0.9888 → 0.9896; there, equalizing any subset of the pairs moved the figure by up to ±0.005
    // either way, while int8 activations alone stayed at 0.9825 → 0.9821 and int8 weights alone 0.9919 → 0.9923).
    // Uncompensated, the weak channels carry little of the output, so their coarse steps cost little and there
    // is little to win. The trained demo M0 on 256 Fashion-MNIST test images: 0.9957 → 0.9956.
    [Fact]
    public void Equalization_raises_the_int8_feature_cosine_of_an_imbalanced_network()
    {
        using var model = ImbalancedM0();
        using var equalized = CrossLayerEqualization.Equalize(model);
        var calibrationImages = Int8AccuracyTests.StripeImages(32, Side, seed: 1);
        var testImages = Int8AccuracyTests.StripeImages(16, Side, seed: 2);
        using var floatSession = new InferenceSession(EfficientVitOnnxExporter.ToBytes(model));
        var reference = Int8AccuracyTests.Features(floatSession, testImages, Side);

        var plain = Int8Cosine(model, calibrationImages, testImages, reference);
        var withEqualization = Int8Cosine(equalized, calibrationImages, testImages, reference);

        Console.WriteLine($"int8 feature cosine to float32, mean over {testImages.Length} images: {plain:F4} without equalization, {withEqualization:F4} with");
        // Measured 0.9884 and 0.9996: the loss shrinks 30-fold. Asked: at least halved.
        Assert.True(1 - withEqualization < (1 - plain) / 2, $"equalization did not pay: {plain:F4} without, {withEqualization:F4} with");
    }
}

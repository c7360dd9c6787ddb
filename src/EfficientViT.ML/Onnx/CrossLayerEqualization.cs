using EfficientViT.ML.Modeling;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Onnx;

/// <summary>
/// Cross-layer equalization (Nagel et al. 2019, "Data-Free Quantization Through Weight Equalization and Bias
/// Correction"): a repair before an int8 export that changes the weights, not the function. For convolutions
/// A → ReLU → B, with B reading A's output, ReLU(x/s) = ReLU(x)/s for s &gt; 0, so dividing A's output channel i
/// by s_i and multiplying B's input channel i by s_i leaves the network's output as it was. With
/// s_i = √(r_A,i / r_B,i), r_A,i the largest |weight| of A's (BatchNorm-fused) output channel i and r_B,i that of
/// B's input channel i, both become √(r_A,i · r_B,i): the activation between them has channels of more equal
/// range, which its one uint8 scale serves better, and none of B's per-output-channel weight scales is set by one
/// wide input channel.
/// </summary>
/// <remarks>
/// <para>Equalized, each a chain of convolutions with a ReLU between each two (chains longer than a pair are
/// swept pair by pair until the scales settle, as the paper does):</para>
/// <list type="bullet">
/// <item>every <see cref="FeedForward"/>: Pw1 → ReLU → Pw2, inside its residual branch (only the branch's
/// inside changes; its output does not).</item>
/// <item>the patch embedding: its four 3×3 convolutions, with a ReLU after each of the first three.</item>
/// <item>every <see cref="PatchMerging"/>: Conv1 → ReLU → Conv2 (depthwise) → ReLU → squeeze-excite → Conv3.
/// Conv2's kernel i is both its input channel i and its output channel i, so it takes s_i from the first pair
/// and 1/t_i from the second. The squeeze-excite gate reads the mean of Conv2's output: its first convolution
/// (fc1) multiplies its input channel i by t_i, so the pooled values it sees, and so the gate, are unchanged;
/// the gated map is divided by t_i channel-wise and Conv3 multiplies it back. fc1 stays float in the int8
/// graph, so its new weights cost nothing.</item>
/// </list>
/// <para>Not equalized: the attention. Its projection reads ReLU of the heads' outputs, which are linear in
/// the values; but every head's output but the last is also added to the next head's input, so scaling those
/// value channels would change what the next head sees. The depthwise residuals have no ReLU after them.</para>
/// <para>The activations between the equalized convolutions change, so int8 calibration must be measured on
/// the equalized model.</para>
/// <para>What it buys, measured (CrossLayerEqualizationTests, M0 at 64×64, mean feature cosine of int8 to
/// float32): a network whose channels were scaled 0.1–10 between the convolutions of each pair (same function)
/// goes from 0.9884 to 0.9996. The weights are int8 per output channel, so the paper's main gain, for weights
/// with one scale per tensor, is not there to take: on the fresh network, the trained demo M0 and networks
/// imbalanced in other ways the figure moved by less than the spread of the measurement.</para>
/// </remarks>
internal static class CrossLayerEqualization
{
    /// <summary>
    /// Bounds of a channel's accumulated scale. The ranges leave the biases aside: a channel whose weights are
    /// nearly zero but whose bias is not is nearly a constant, and an unbounded 1/s would grow that constant
    /// into the widest channel of the activation, the opposite of the aim.
    /// </summary>
    private const double MinScale = 1e-3, MaxScale = 1e3;

    // A sweep that moves no scale by more than this (relative) ends the sweeps: float32 weights hold about 7 digits.
    private const double Tolerance = 1e-6;

    // The chains settle geometrically; this bounds the work should one settle slowly.
    private const int MaxSweeps = 500;

    /// <summary>
    /// Two convolutions with a ReLU between them: <paramref name="Producer"/>'s output channel i is
    /// <paramref name="Consumer"/>'s input channel i. <paramref name="AlsoReads"/>, when given, is a float
    /// convolution that also reads the producer's output (through a mean) and takes the same input scale.
    /// </summary>
    private sealed record Pair(Conv2dBN Producer, Conv2dBN Consumer, Conv2d? AlsoReads = null);

    /// <summary>
    /// A new model, in eval mode, computing what <paramref name="model"/> computes in eval mode (to float
    /// rounding) with the convolution pairs listed in the remarks equalized in its unfused weights
    /// (BatchNorm scale and shift for a producer, convolution weights for a consumer), so that the exporter's
    /// fused weights and the TorchSharp forward pass agree. <paramref name="model"/> is not changed.
    /// </summary>
    /// <exception cref="InvalidOperationException">The model has its BatchNorm fused.</exception>
    public static EfficientVit Equalize(EfficientVit model)
    {
        ArgumentNullException.ThrowIfNull(model);
        if (model.IsFused)
            throw new InvalidOperationException("Equalize the model before fusing BatchNorm: the producers' scales are applied to their BatchNorm.");
        var equalized = model.Copy();
        try
        {
            foreach (var chain in Chains(equalized))
                EqualizeChain(chain);
            return equalized;
        }
        catch
        {
            equalized.Dispose();
            throw;
        }
    }

    private static IEnumerable<IReadOnlyList<Pair>> Chains(EfficientVit model)
    {
        var embedding = model.PatchEmbedding.OfType<Conv2dBN>().ToList();
        yield return embedding.Zip(embedding.Skip(1), (producer, consumer) => new Pair(producer, consumer)).ToList();
        foreach (var (_, module) in model.named_modules())
        {
            if (module is FeedForward ffn)
                yield return [new Pair(ffn.Pw1, ffn.Pw2)];
            else if (module is PatchMerging merging)
                yield return [new Pair(merging.Conv1, merging.Conv2), new Pair(merging.Conv2, merging.Conv3, merging.Se.Fc1)];
        }
    }

    private static void EqualizeChain(IReadOnlyList<Pair> chain)
    {
        // Each pair's scale so far per channel, to bound the total and not each sweep's step.
        var totals = chain.Select(pair => Enumerable.Repeat(1.0, (int)pair.Producer.Conv.weight.shape[0]).ToArray()).ToArray();
        for (var sweep = 0; sweep < MaxSweeps; sweep++)
        {
            var largestStep = 0.0;
            for (var k = 0; k < chain.Count; k++)
                largestStep = Math.Max(largestStep, EqualizePair(chain[k], totals[k]));
            // A single pair is equal after one step; longer chains disturb their neighbours and sweep again.
            if (largestStep < Tolerance)
                return;
        }
    }

    /// <summary>Scales one pair so that its ranges meet; returns the largest relative step taken.</summary>
    private static double EqualizePair(Pair pair, double[] totals)
    {
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var producerRanges = OutputRanges(pair.Producer);
        var consumerRanges = InputRanges(pair.Consumer);
        var steps = new float[totals.Length];
        var largestStep = 0.0;
        for (var i = 0; i < totals.Length; i++)
        {
            var (r1, r2) = (producerRanges[i], consumerRanges[i]);
            // A channel with no weights on one side has nothing to balance.
            var wanted = r1 > 0 && r2 > 0 ? Math.Sqrt(r1 / r2) : 1.0;
            var total = Math.Clamp(totals[i] * wanted, MinScale, MaxScale);
            var step = total / totals[i];
            totals[i] = total;
            steps[i] = (float)step;
            largestStep = Math.Max(largestStep, Math.Abs(step - 1));
        }
        if (largestStep == 0)
            return 0;

        var scale = tensor(steps);
        var inverse = scale.reciprocal();
        // Producer: its fused weight is w·γ/√(σ²+ε) and its bias β − μ·γ/√(σ²+ε), so scaling γ and β scales the
        // channel's output exactly, whatever the running statistics (scaling w would need μ and σ² to follow, and ε would not).
        var norm = pair.Producer.BatchNorm!;
        norm.weight.mul_(inverse);
        norm.bias!.mul_(inverse);
        // Consumer: the convolution precedes its BatchNorm, so scaling its input channel's weights undoes the
        // producer's scale before the normalization sees it.
        var weight = pair.Consumer.Conv.weight;
        weight.mul_(IsDepthwise(pair.Consumer) ? scale.view(-1, 1, 1, 1) : scale.view(1, -1, 1, 1));
        pair.AlsoReads?.weight.mul_(scale.view(1, -1, 1, 1));
        return largestStep;
    }

    /// <summary>The largest |fused weight| of each output channel.</summary>
    private static double[] OutputRanges(Conv2dBN conv) => ToDoubles(conv.FusedWeightAndBias().Weight.abs().amax([1, 2, 3]));

    /// <summary>The largest |fused weight| reading each input channel: a column of a dense convolution, a kernel of a depthwise one.</summary>
    private static double[] InputRanges(Conv2dBN conv) =>
        ToDoubles(conv.FusedWeightAndBias().Weight.abs().amax(IsDepthwise(conv) ? [1, 2, 3] : [0, 2, 3]));

    private static bool IsDepthwise(Conv2dBN conv)
    {
        if (conv.Groups == 1)
            return false;
        if (conv.Conv.weight.shape[1] == 1 && conv.Groups == conv.Conv.weight.shape[0])
            return true;
        throw new NotSupportedException($"Cross-layer equalization handles dense and depthwise convolutions, not {conv.Groups} groups of {conv.Conv.weight.shape[1]} channels.");
    }

    // Called within EqualizePair's dispose scope, which frees the tensors made on the way.
    private static double[] ToDoubles(Tensor values) =>
        values.cpu().contiguous().data<float>().ToArray().Select(v => (double)v).ToArray();
}

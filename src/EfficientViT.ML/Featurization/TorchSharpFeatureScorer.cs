using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Featurization;

/// <summary>
/// Scores batches with a BN-fused copy of the model in TorchSharp. Image input arrives resampled and
/// centred by <see cref="BicubicUpsampler"/> (pixels 0–255 minus 255·mean), and is scaled here.
/// </summary>
internal sealed class TorchSharpFeatureScorer : IFeatureScorer
{
    private readonly EfficientVit model;
    private readonly int inputSide;
    private readonly Tensor? scale;
    // One batch at a time: the module is shared by every cursor of the transformer.
    private readonly Lock gate = new();

    /// <param name="source">The model; a fused copy is made, the source is not changed.</param>
    /// <param name="preprocessing">Null for preprocessed pixel input; else the preprocessing whose normalization to apply.</param>
    public TorchSharpFeatureScorer(EfficientVit source, ImagePreprocessing? preprocessing)
    {
        model = new EfficientVit(source.Config with { NumClasses = 0, Distillation = false });
        var weights = source.state_dict().Where(kv => !kv.Key.StartsWith("head", StringComparison.Ordinal)).ToDictionary();
        model.load_state_dict(weights);
        model.FuseBatchNorm();
        inputSide = model.Config.ImageSize;
        if (preprocessing is not null)
        {
            scale = tensor(preprocessing.Std.Select(s => 1f / (255f * s)).ToArray(), 1, 3, 1, 1).DetachFromDisposeScope();
        }
        InputSize = 3 * inputSide * inputSide;
        FeatureSize = model.Config.FeatureDim;
        // Builds the attention-bias caches now rather than racing to build them in the first batches.
        Run(new float[InputSize], 1, new float[FeatureSize]);
    }

    /// <summary>One: calls take turns (libtorch spreads each over its own threads).</summary>
    public int Concurrency => 1;

    public int InputSize { get; }

    public int FeatureSize { get; }

    public void Run(float[] inputs, int count, float[] features)
    {
        lock (gate)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = tensor(inputs.AsSpan(0, count * InputSize).ToArray(), count, 3, inputSide, inputSide);
            if (scale is not null)
                x = x * scale;
            var pooled = model.PooledFeatures(x).contiguous();
            pooled.data<float>().CopyTo(features.AsSpan(0, count * FeatureSize));
        }
    }

    public void Dispose()
    {
        model.Dispose();
        scale?.Dispose();
    }
}

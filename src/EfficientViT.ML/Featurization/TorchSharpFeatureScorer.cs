using EfficientViT.ML.Modeling;
using EfficientViT.ML.Onnx;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Featurization;

/// <summary>
/// Scores batches with a BN-fused copy of the model in TorchSharp, applying the same preprocessing as
/// the exported graph (for image input: bicubic resize and center crop as two matrix products, then
/// normalization).
/// </summary>
internal sealed class TorchSharpFeatureScorer : IFeatureScorer
{
    private readonly EfficientVit model;
    private readonly int inputSide;
    private readonly Tensor? resizeRows;
    private readonly Tensor? resizeColumns;
    private readonly Tensor? scale;
    private readonly Tensor? shift;
    // One batch at a time: the module is shared by every cursor of the transformer.
    private readonly Lock gate = new();

    /// <param name="source">The model; a fused copy is made, the source is not changed.</param>
    /// <param name="preprocessing">Null for preprocessed pixel input; else the image preprocessing to apply.</param>
    public TorchSharpFeatureScorer(EfficientVit source, ImagePreprocessing? preprocessing)
    {
        model = new EfficientVit(source.Config with { NumClasses = 0, Distillation = false });
        var weights = source.state_dict().Where(kv => !kv.Key.StartsWith("head", StringComparison.Ordinal)).ToDictionary();
        model.load_state_dict(weights);
        model.FuseBatchNorm();
        inputSide = model.Config.ImageSize;
        if (preprocessing is not null)
        {
            var side = preprocessing.ImageSize;
            if (preprocessing.ResizeSize != side)
            {
                var taps = BicubicWeights.Matrix(side, preprocessing.ResizeSize, side);
                resizeRows = tensor(taps, side, side).DetachFromDisposeScope();
                resizeColumns = resizeRows.t().contiguous().DetachFromDisposeScope();
            }
            scale = tensor(preprocessing.Std.Select(s => 1f / (255f * s)).ToArray(), 1, 3, 1, 1).DetachFromDisposeScope();
            shift = tensor(preprocessing.Mean.Zip(preprocessing.Std, (m, s) => -m / s).ToArray(), 1, 3, 1, 1).DetachFromDisposeScope();
        }
        InputSize = 3 * inputSide * inputSide;
        FeatureSize = model.Config.FeatureDim;
        // Builds the attention-bias caches now rather than racing to build them in the first batches.
        Run(new float[InputSize], 1, new float[FeatureSize]);
    }

    public int InputSize { get; }

    public int FeatureSize { get; }

    public void Run(float[] inputs, int count, float[] features)
    {
        lock (gate)
        {
            using var scope = NewDisposeScope();
            using var noGrad = no_grad();
            var x = tensor(inputs.AsSpan(0, count * InputSize).ToArray(), count, 3, inputSide, inputSide);
            if (resizeRows is not null)
                x = resizeRows.matmul(x.matmul(resizeColumns!));
            if (scale is not null)
                x = x * scale + shift!;
            var pooled = model.PooledFeatures(x).contiguous();
            pooled.data<float>().CopyTo(features.AsSpan(0, count * FeatureSize));
        }
    }

    public void Dispose()
    {
        model.Dispose();
        resizeRows?.Dispose();
        resizeColumns?.Dispose();
        scale?.Dispose();
        shift?.Dispose();
    }
}

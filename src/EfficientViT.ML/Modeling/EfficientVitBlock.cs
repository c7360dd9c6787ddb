using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// The EfficientViT "sandwich" block (official <c>EfficientViTBlock</c>): one memory-bound attention
/// layer between depthwise-conv and FFN layers, every layer residual —
/// dw0 → ffn0 → mixer → dw1 → ffn1.
/// </summary>
internal sealed class EfficientVitBlock : nn.Module<Tensor, Tensor>
{
    private readonly Residual dw0;
    private readonly Residual ffn0;
    private readonly Residual mixer;
    private readonly Residual dw1;
    private readonly Residual ffn1;

    /// <summary>Creates a block of width <paramref name="dim"/> on an r×r map.</summary>
    public EfficientVitBlock(int dim, int keyDim, int numHeads, int valueDim, int resolution, int windowResolution, IReadOnlyList<int> kernels, double dropPath = 0.0)
        : base(nameof(EfficientVitBlock))
    {
        dw0 = DepthwiseResidual(dim, bnWeightInit: 0, dropPath);
        ffn0 = new Residual(new FeedForward(dim, 2 * dim), dropPath);
        mixer = new Residual(new LocalWindowAttention(dim, keyDim, numHeads, valueDim, resolution, windowResolution, kernels), dropPath);
        dw1 = DepthwiseResidual(dim, bnWeightInit: 0, dropPath);
        ffn1 = new Residual(new FeedForward(dim, 2 * dim), dropPath);
        RegisterComponents();
    }

    /// <summary>The five residual layers in forward order.</summary>
    internal IReadOnlyList<Residual> Layers => [dw0, ffn0, mixer, dw1, ffn1];

    /// <summary>A residual 3×3 depthwise conv-BN, the token-interaction layer of the sandwich.</summary>
    internal static Residual DepthwiseResidual(int dim, double bnWeightInit, double dropPath = 0.0) =>
        new(new Conv2dBN(dim, dim, kernelSize: 3, stride: 1, padding: 1, groups: dim, bnWeightInit: bnWeightInit), dropPath);

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) =>
        ffn1.call(dw1.call(mixer.call(ffn0.call(dw0.call(x)))));
}

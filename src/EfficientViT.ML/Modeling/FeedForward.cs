using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>Pointwise feed-forward network (official <c>FFN</c>): 1×1 conv-BN, ReLU, 1×1 conv-BN back to the input width.</summary>
internal sealed class FeedForward : nn.Module<Tensor, Tensor>
{
    private readonly Conv2dBN pw1;
    private readonly ReLU act;
    private readonly Conv2dBN pw2;

    /// <summary>Creates the network with <paramref name="hiddenDim"/> hidden channels; the last BN starts at 0 so the block starts as identity inside a residual.</summary>
    public FeedForward(long embedDim, long hiddenDim) : base(nameof(FeedForward))
    {
        pw1 = new Conv2dBN(embedDim, hiddenDim);
        act = nn.ReLU();
        pw2 = new Conv2dBN(hiddenDim, embedDim, bnWeightInit: 0);
        RegisterComponents();
    }

    internal Conv2dBN Pw1 => pw1;

    internal Conv2dBN Pw2 => pw2;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x) => pw2.call(act.call(pw1.call(x)));
}

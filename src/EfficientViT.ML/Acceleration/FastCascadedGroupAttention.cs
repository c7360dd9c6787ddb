using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// <see cref="CascadedGroupAttention"/> on channels-last maps (training) computed without copies: each head's
/// queries, keys and values as (N, pixels, C) rows, which channels-last maps give as views (flattening them, as the
/// plain forward does, copies each), the same products transposed (attention = q·kᵀ, output = attention·v), and
/// the output back channels-last. Other maps take the layer's own forward.
/// </summary>
internal sealed class FastCascadedGroupAttention : CascadedGroupAttention, IFastLayer
{
    private readonly CascadedGroupAttention layer;
    private readonly Conv2dBN[] qkvs;
    private readonly Conv2dBN[] dws;

    /// <summary>Computes <paramref name="layer"/>, whose query-key-value, query and projection layers are already the fast ones.</summary>
    public FastCascadedGroupAttention(CascadedGroupAttention layer) : base(layer)
    {
        this.layer = layer;
        qkvs = [.. layer.Qkvs];
        dws = [.. layer.Dws];
    }

    /// <inheritdoc/>
    public nn.Module Layer => layer;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        if (!ChannelsLast.Is(x))
            return layer.forward(x);
        var (batch, height, width) = (x.shape[0], x.shape[2], x.shape[3]);
        // The layer's own biases: its eval-mode cache follows the model's mode and weight loads.
        var biases = layer.Biases(height, width);
        var chunks = x.chunk(NumHeads, dim: 1);
        var headOutputs = new Tensor[NumHeads];
        var feature = chunks[0];
        for (var i = 0; i < NumHeads; i++)
        {
            if (i > 0)
                feature = feature.Plus(chunks[i]);
            var qkv = qkvs[i].call(feature).split(new long[] { KeyDim, KeyDim, ValueDim }, dim: 1);
            var q = dws[i].call(qkv[0]);
            // The keys' gradient comes back from the transposed product laid out NCHW; it is turned channels-last so
            // that the gradient of the whole query-key-value map stays in its layout (see ChannelsLastGradient).
            var keys = PixelRows(ChannelsLastGradient.Mark(qkv[1])).transpose(-2, -1);
            var attention = PixelRows(q).matmul(keys).Times(Scale).Plus(biases[i]).softmax(-1);
            feature = attention.matmul(PixelRows(qkv[2])).view(batch, height, width, ValueDim).permute(0, 3, 1, 2);
            headOutputs[i] = feature;
        }
        return Projection.call(nn.functional.relu(cat(headOutputs, 1)));
    }

    // (N, C, H, W) -> (N, H·W, C); a view when the map is stored channels-last (or a channel slice of one).
    private static Tensor PixelRows(Tensor map) => map.permute(0, 2, 3, 1).reshape(map.shape[0], -1, map.shape[1]);
}

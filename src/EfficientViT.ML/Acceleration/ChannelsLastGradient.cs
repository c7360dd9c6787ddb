using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// A mark in the autograd graph (<see cref="BackwardHook"/>) that hands on its gradient stored channels-last.
/// Why: libtorch's BatchNorm backward runs its channels-last kernel only when the gradient is laid out as its
/// input is; otherwise it falls back to a serial loop (and oneDNN reorders a convolution's gradients). Two
/// places of a channels-last training step produced other layouts: a map read as pixel rows and transposed into
/// a matrix product (the cascaded attention's keys) gets its gradient back NCHW, since the product's backward
/// writes the transposed operand's gradient densely, and joined by the split's backward with the queries' and
/// values' it made the query-key-value map's whole gradient NCHW (the fallback was a tenth of the attention's
/// time at 7x7, batch 128); and the global average pooling's backward broadcasts one value per channel over the
/// map (strides of 0), which reached every BatchNorm on the last stage's residual stream.
/// </summary>
internal static class ChannelsLastGradient
{
    /// <summary><paramref name="map"/> (4-D) unchanged; its gradient, when it passes, is stored channels-last.</summary>
    public static Tensor Mark(Tensor map) => is_grad_enabled() && map.requires_grad ? BackwardHook.Mark(map, ChannelsLast.Of) : map;

    /// <summary><see cref="Mark"/> for a map stored channels-last; any other tensor unchanged.</summary>
    public static Tensor MarkChannelsLast(Tensor map) => ChannelsLast.Is(map) ? Mark(map) : map;
}

using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// An identity in the autograd graph whose backward pass hands on its gradient stored channels-last.
/// Why: libtorch's BatchNorm backward runs its channels-last kernel only when the gradient is laid out as its
/// input is; otherwise it falls back to a serial loop (and oneDNN reorders a convolution's gradients). Two
/// places of a channels-last training step produced other layouts: a map read as pixel rows and transposed into
/// a matrix product (the cascaded attention's keys) gets its gradient back NCHW, since the product's backward
/// writes the transposed operand's gradient densely, and joined by the split's backward with the queries' and
/// values' it made the query-key-value map's whole gradient NCHW (the fallback was a tenth of the attention's
/// time at 7x7, batch 128); and the global average pooling's backward broadcasts one value per channel over the
/// map (strides of 0), which reached every BatchNorm on the last stage's residual stream.
/// </summary>
internal sealed class ChannelsLastGradient : autograd.SingleTensorFunction<ChannelsLastGradient>
{
    public override string Name => nameof(ChannelsLastGradient);

    /// <summary><paramref name="map"/> (4-D) unchanged; its gradient, when it passes, is stored channels-last.</summary>
    public static Tensor Mark(Tensor map) => is_grad_enabled() && map.requires_grad ? apply(map) : map;

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars) => ((Tensor)vars[0]).alias();

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradient) => [ChannelsLast.Of(gradient)];
}

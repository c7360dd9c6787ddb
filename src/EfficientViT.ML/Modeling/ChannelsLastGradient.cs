using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// An identity in the autograd graph whose backward pass hands on its gradient stored channels-last.
/// Why: a map read as pixel rows and transposed into a matrix product (the cascaded attention's keys) gets its
/// gradient back in the contiguous (NCHW) layout, since the product's backward writes the transposed operand's
/// gradient densely. Joined with the queries' and values' channels-last gradients by the split's backward, it
/// made the whole gradient of the query-key-value convolution NCHW while its input was channels-last, and
/// libtorch's BatchNorm backward then fell back from its channels-last kernel to a serial loop (a tenth of the
/// attention's time at 7x7, batch 128), and oneDNN reordered the convolution's gradients.
/// </summary>
internal sealed class ChannelsLastGradient : autograd.SingleTensorFunction<ChannelsLastGradient>
{
    public override string Name => nameof(ChannelsLastGradient);

    /// <summary><paramref name="map"/> (4-D) unchanged; its gradient, when it passes, is stored channels-last.</summary>
    public static Tensor Mark(Tensor map) => is_grad_enabled() && map.requires_grad ? apply(map) : map;

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars) => ((Tensor)vars[0]).alias();

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradient) => [ChannelsLast.Of(gradient)];
}

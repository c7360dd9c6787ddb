using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// Convolutions whose output is one pixel, computed as the products they are: a 1x1 convolution of a 1x1 map
/// as a matrix product (<c>linear</c>), and a depthwise convolution whose window covers the whole map (a 3x3
/// or 5x5 kernel over a 1x1 map, the stride-2 3x3 kernel from a 2x2 map to 1x1) as the input times the taps
/// that overlap the map, summed over the map. The other taps only ever meet zero padding, so outputs and
/// gradients are the convolution's (those taps' gradients are zero either way).
/// Why: such maps are the last stage at 64x64 input and every squeeze-excite. There a channels-last layout
/// cannot be told from a contiguous one, and libtorch sent the depthwise convolutions to oneDNN's im2col and
/// GEMM path (about 3 ms a call for the weight gradient: a quarter of a 64x64 training step's convolution
/// time); the 1x1 convolutions' weight gradients ran at a third of the machine's GEMM speed and gained
/// nothing from a second thread. On larger maps oneDNN stays: 1x1 convolutions of channels-last 2x2 and 4x4 maps
/// as matrix products of their pixel rows made M0's training step at 112x112 slower (344–432 against 452–491
/// img/s on one thread, three alternating rounds on a 2-core AMD EPYC).
/// </summary>
internal static class OnePixelConvolution
{
    /// <summary><paramref name="conv"/> on <paramref name="input"/>: computed here when it gives one pixel as above, else by libtorch.</summary>
    public static Tensor Call(Conv2d conv, long kernelSize, long stride, long padding, long groups, Tensor input) =>
        Applies(conv, kernelSize, stride, padding, groups, input) ? Apply(conv, padding, groups, input) : conv.call(input);

    /// <summary>Whether <paramref name="conv"/> on <paramref name="input"/> is a 1x1 convolution of a 1x1 map or a depthwise one giving one pixel from a window covering the map.</summary>
    public static bool Applies(Conv2d conv, long kernelSize, long stride, long padding, long groups, Tensor input)
    {
        if (input.dim() != 4)
            return false;
        var (height, width) = (input.shape[2], input.shape[3]);
        if (groups == 1)
            return kernelSize == 1 && padding == 0 && height == 1 && width == 1;
        return groups == input.shape[1] && conv.weight!.shape[0] == groups
            && OutputSide(height, kernelSize, stride, padding) == 1 && OutputSide(width, kernelSize, stride, padding) == 1
            && height <= kernelSize - padding && width <= kernelSize - padding;
    }

    /// <summary>The convolution's output, shape (N, out channels, 1, 1); only where <see cref="Applies"/>.</summary>
    public static Tensor Apply(Conv2d conv, long padding, long groups, Tensor input)
    {
        var weight = conv.weight!;
        if (groups == 1)
        {
            var rows = nn.functional.linear(input.view(input.shape[0], input.shape[1]), weight.view(weight.shape[0], weight.shape[1]), conv.bias);
            return rows.view(rows.shape[0], rows.shape[1], 1, 1);
        }
        var (channels, height, width) = (input.shape[1], input.shape[2], input.shape[3]);
        var taps = weight.narrow(2, padding, height).narrow(3, padding, width).reshape(1, channels, height, width);
        var output = height * width == 1 ? input * taps : (input * taps).sum([2, 3], keepdim: true);
        return conv.bias is { } bias ? output + bias.view(1, channels, 1, 1) : output;
    }

    private static long OutputSide(long side, long kernelSize, long stride, long padding) => (side + 2 * padding - kernelSize) / stride + 1;
}

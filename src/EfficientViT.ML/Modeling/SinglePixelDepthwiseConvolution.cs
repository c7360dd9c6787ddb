using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// A depthwise convolution whose output is one pixel and whose window covers the whole input map (a 3x3 or
/// 5x5 kernel over a 1x1 map, or the stride-2 3x3 kernel from a 2x2 map to 1x1: the last stage at 64x64
/// input), computed as the weighted sum it is: the input times the kernel taps that overlap the map, summed
/// over the map. The other taps only ever meet zero padding, so the result and both gradients are the
/// convolution's (those taps' gradients are zero either way). On such maps a channels-last layout cannot be
/// told from a contiguous one, libtorch hands the convolution to oneDNN's im2col and GEMM path, and its
/// weight gradient alone took about 3 ms a call: a quarter of a 64x64 training step's convolution time.
/// </summary>
internal static class SinglePixelDepthwiseConvolution
{
    /// <summary>Whether <paramref name="conv"/> is depthwise and, on <paramref name="input"/>, gives one pixel from a window covering the map.</summary>
    public static bool Applies(Conv2d conv, long kernelSize, long stride, long padding, long groups, Tensor input)
    {
        if (input.dim() != 4 || groups == 1 || groups != input.shape[1] || conv.weight!.shape[0] != groups)
            return false;
        var (height, width) = (input.shape[2], input.shape[3]);
        return OutputSide(height, kernelSize, stride, padding) == 1 && OutputSide(width, kernelSize, stride, padding) == 1
            && height <= kernelSize - padding && width <= kernelSize - padding;
    }

    /// <summary>The convolution's output: Σ over the map of input · overlapping tap (+ bias), shape (N, C, 1, 1).</summary>
    public static Tensor Apply(Conv2d conv, long padding, Tensor input)
    {
        var (channels, height, width) = (input.shape[1], input.shape[2], input.shape[3]);
        var taps = conv.weight!.narrow(2, padding, height).narrow(3, padding, width).reshape(1, channels, height, width);
        var output = height * width == 1 ? input * taps : (input * taps).sum([2, 3], keepdim: true);
        return conv.bias is { } bias ? output + bias.view(1, channels, 1, 1) : output;
    }

    private static long OutputSide(long side, long kernelSize, long stride, long padding) => (side + 2 * padding - kernelSize) / stride + 1;
}

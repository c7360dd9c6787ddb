using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// Window attention (official <c>LocalWindowAttention</c>): a map no larger than the window attends
/// globally; a larger one is padded bottom/right to a multiple of the window, cut into windows that
/// attend independently, stitched back and cropped.
/// </summary>
internal sealed class LocalWindowAttention : nn.Module<Tensor, Tensor>
{
    private readonly CascadedGroupAttention attn;
    private readonly int windowResolution;

    /// <summary>Creates window attention for an r×r map with windows of side <paramref name="windowResolution"/>.</summary>
    public LocalWindowAttention(int dim, int keyDim, int numHeads, int valueDim, int resolution, int windowResolution, IReadOnlyList<int> kernels)
        : base(nameof(LocalWindowAttention))
    {
        this.windowResolution = Math.Min(windowResolution, resolution);
        attn = new CascadedGroupAttention(dim, keyDim, numHeads, valueDim, this.windowResolution, kernels);
        RegisterComponents();
    }

    /// <summary>The attention applied inside each window.</summary>
    public CascadedGroupAttention Attention => attn;

    /// <summary>Side of the windows (at most the map's side).</summary>
    public int WindowResolution => windowResolution;

    /// <inheritdoc/>
    public override Tensor forward(Tensor x)
    {
        var (height, width) = (x.shape[2], x.shape[3]);
        if (height <= windowResolution && width <= windowResolution)
            return attn.call(x);

        var window = windowResolution;
        var padBottom = (window - height % window) % window;
        var padRight = (window - width % window) % window;
        var channelsLast = x.permute(0, 2, 3, 1);
        if (padBottom > 0 || padRight > 0)
            channelsLast = nn.functional.pad(channelsLast, new long[] { 0, 0, 0, padRight, 0, padBottom });

        var windows = PartitionWindows(channelsLast, window);
        var attended = attn.call(windows);
        var merged = ReverseWindows(attended, x.shape[0], height + padBottom, width + padRight, window);
        if (padBottom > 0 || padRight > 0)
            merged = merged[.., ..(int)height, ..(int)width];
        return merged.permute(0, 3, 1, 2);
    }

    /// <summary>
    /// Cuts a channels-last map (B, H, W, C), H and W multiples of <paramref name="window"/>, into
    /// channels-first windows (B·nH·nW, C, window, window), row-major over the windows.
    /// </summary>
    public static Tensor PartitionWindows(Tensor channelsLast, int window)
    {
        var (batch, height, width, channels) = (channelsLast.shape[0], channelsLast.shape[1], channelsLast.shape[2], channelsLast.shape[3]);
        var (rows, cols) = (height / window, width / window);
        return channelsLast.view(batch, rows, window, cols, window, channels)
            .transpose(2, 3)
            .reshape(batch * rows * cols, window, window, channels)
            .permute(0, 3, 1, 2);
    }

    /// <summary>The inverse of <see cref="PartitionWindows"/>: windows (B·nH·nW, C, w, w) back to a channels-last map (B, H, W, C).</summary>
    public static Tensor ReverseWindows(Tensor windows, long batch, long height, long width, int window)
    {
        var channels = windows.shape[1];
        var (rows, cols) = (height / window, width / window);
        return windows.permute(0, 2, 3, 1)
            .reshape(batch, rows, cols, window, window, channels)
            .transpose(2, 3)
            .reshape(batch, height, width, channels);
    }
}

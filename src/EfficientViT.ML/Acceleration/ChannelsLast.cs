using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// The channels-last memory layout (N, C, H, W shape; pixels outermost, channels innermost in memory),
/// made by strides alone, since TorchSharp has no memory-format argument. libtorch reads the layout from
/// the strides: convolutions given channels-last inputs or weights take oneDNN's NHWC kernels, and
/// BatchNorm and elementwise kernels keep the layout. For EfficientViT's depthwise and grouped
/// convolutions the backward pass is much faster this way (1.75x a whole training step in PyTorch).
/// </summary>
internal static class ChannelsLast
{
    /// <summary>
    /// The same values as <paramref name="x"/> (4-D) laid out channels-last; <paramref name="x"/> itself (an
    /// alias) when it already is, and when it holds a single sample.
    /// </summary>
    /// <remarks>
    /// A single sample stays as it is: through the model, libtorch 2.10 gave wrong input gradients for a
    /// channels-last batch of one (the cascaded attention's, off by the size of the gradient itself, while
    /// the forward pass and batches of two or more matched float64), so training never feeds one.
    /// </remarks>
    public static Tensor Of(Tensor x)
    {
        if (x.dim() != 4)
            throw new ArgumentException($"Channels-last needs a 4-D tensor; this one has {x.dim()} dimensions.", nameof(x));
        if (Is(x) || x.shape[0] == 1)
            return x.alias();
        return x.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2);
    }

    /// <summary>Whether <paramref name="x"/> (4-D) is stored densely in channels-last order.</summary>
    public static bool Is(Tensor x)
    {
        if (x.dim() != 4)
            return false;
        var (c, h, w) = (x.shape[1], x.shape[2], x.shape[3]);
        var strides = x.stride();
        // As libtorch, the stride of a dimension of size 1 does not matter: no step is ever taken along it.
        bool Fits(int dim, long expected) => x.shape[dim] == 1 || strides[dim] == expected;
        return Fits(1, 1) && Fits(3, c) && Fits(2, c * w) && Fits(0, c * h * w);
    }

    /// <summary>
    /// Stores every 4-D parameter (convolution weights) of <paramref name="module"/> channels-last, in place:
    /// the parameters stay the same objects with the same values, so optimizers and saved states are unaffected.
    /// </summary>
    public static void Convert(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var parameter in module.parameters())
        {
            if (parameter.dim() != 4 || Is(parameter))
                continue;
            // The parameter takes the new storage; the scope frees the temporary views.
            using var scope = NewDisposeScope();
            parameter.set_(parameter.permute(0, 2, 3, 1).contiguous().permute(0, 3, 1, 2));
        }
    }

    /// <summary>
    /// Undoes <see cref="Convert"/>: every parameter stored contiguously again (row-major), as saving,
    /// export and reading values as arrays need (TorchSharp refuses the bytes of a strided tensor).
    /// </summary>
    public static void Restore(nn.Module module)
    {
        using var noGrad = no_grad();
        foreach (var parameter in module.parameters())
        {
            if (parameter.is_contiguous())
                continue;
            using var scope = NewDisposeScope();
            parameter.set_(parameter.contiguous());
        }
    }
}

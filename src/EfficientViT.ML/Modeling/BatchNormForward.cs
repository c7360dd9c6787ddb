using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// A BatchNorm module's forward pass, computed as TorchSharp's <c>BatchNorm.forward</c> does, without its
/// per-call Scalar temporaries. That method counts batches with <c>num_batches_tracked.add_(1)</c>, whose
/// implicit Scalars can be freed while libtorch reads them (see <see cref="ScalarSafe"/>; seen as
/// "Unknown scalar type" in a BatchNorm after about 70,000 training steps).
/// Small maps (at most <see cref="SmallMapPixels"/> pixels) are normalized channels-last, which is
/// the same computation and several times faster there.
/// </summary>
internal static class BatchNormForward
{
    /// <summary>Maps of at most this many pixels are normalized as (samples·pixels, channels) rows.</summary>
    internal const int SmallMapPixels = 4;

    public static Tensor Apply(BatchNorm bn, Tensor x)
    {
        var factor = bn.momentum ?? 0.0;
        if (bn.training && bn.track_running_stats && bn.num_batches_tracked is { } count)
        {
            count.add_(ScalarSafe.One, ScalarSafe.One);
            if (bn.momentum is null)
                factor = 1.0 / count.item<long>();
        }
        var useBatchStatistics = bn.training || (bn.running_mean is null && bn.running_var is null);
        var useRunningStatistics = !bn.training || bn.track_running_stats;
        var runningMean = useRunningStatistics ? bn.running_mean : null;
        var runningVar = useRunningStatistics ? bn.running_var : null;
        if (x.dim() == 4 && x.shape[2] * x.shape[3] is > 1 and <= SmallMapPixels)
        {
            // libtorch's NCHW kernels loop over every (sample, channel) pair with a vector loop over the
            // map; on 2x2 maps (the last stage at 112x112) that loop is nearly all overhead and the
            // backward pass cost several times what it does on the same values laid out channels-last.
            var (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            var rows = nn.functional.batch_norm(x.permute(0, 2, 3, 1).reshape(-1, c), runningMean, runningVar,
                bn.weight, bn.bias, useBatchStatistics, factor, bn.eps);
            var result = rows.view(n, h, w, c).permute(0, 3, 1, 2);
            // A channels-last input stays channels-last (the rows are already in its order); any other is returned contiguous.
            return ChannelsLast.Is(x) ? result : result.contiguous();
        }
        return nn.functional.batch_norm(x, runningMean, runningVar, bn.weight, bn.bias, useBatchStatistics, factor, bn.eps);
    }
}

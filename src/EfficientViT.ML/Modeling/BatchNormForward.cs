using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// A BatchNorm module's forward pass, computed as TorchSharp's <c>BatchNorm.forward</c> does, without its
/// per-call Scalar temporaries. That method counts batches with <c>num_batches_tracked.add_(1)</c>; the
/// implicit <see cref="Scalar"/>s it creates are unreachable while libtorch still reads them, so the
/// finalizer thread can free one mid-call (seen as "Unknown scalar type" in a BatchNorm, after about
/// 70,000 training steps). The count here uses a Scalar that lives as long as the process.
/// </summary>
internal static class BatchNormForward
{
    private static readonly Scalar One = 1;

    public static Tensor Apply(BatchNorm bn, Tensor x)
    {
        var factor = bn.momentum ?? 0.0;
        if (bn.training && bn.track_running_stats && bn.num_batches_tracked is { } count)
        {
            count.add_(One, One);
            if (bn.momentum is null)
                factor = 1.0 / count.item<long>();
        }
        var useBatchStatistics = bn.training || (bn.running_mean is null && bn.running_var is null);
        var useRunningStatistics = !bn.training || bn.track_running_stats;
        return nn.functional.batch_norm(x, useRunningStatistics ? bn.running_mean : null, useRunningStatistics ? bn.running_var : null,
            bn.weight, bn.bias, useBatchStatistics, factor, bn.eps);
    }
}

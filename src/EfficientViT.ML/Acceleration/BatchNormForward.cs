using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// A BatchNorm module's forward pass, computed as TorchSharp's <c>BatchNorm.forward</c> does, without its
/// per-call Scalar temporaries. That method counts batches with <c>num_batches_tracked.add_(1)</c>, whose
/// implicit Scalars can be freed while libtorch reads them (see <see cref="ScalarSafe"/>; seen as
/// "Unknown scalar type" in a BatchNorm after about 70,000 training steps).
/// Small contiguous maps (at most <see cref="SmallMapPixels"/> pixels) are normalized as channels-last rows,
/// which is the same computation and several times faster there. Batch statistics of channels-last maps of fewer than
/// <see cref="NarrowChannels"/> channels are taken on one thread, forward and backward (see <see cref="OnOneThread"/>).
/// </summary>
internal static class BatchNormForward
{
    /// <summary>Maps of at most this many pixels are normalized as (samples·pixels, channels) rows.</summary>
    internal const int SmallMapPixels = 4;

    /// <summary>Channels-last maps with fewer channels than this are normalized on one thread when batch statistics are taken.</summary>
    internal const int NarrowChannels = 16;

    // Set while activation checkpointing recomputes a stage in the backward pass (on the thread running it).
    [ThreadStatic]
    private static bool recomputing;

    /// <summary>
    /// Until disposed, BatchNorm in training mode on this thread normalizes with the batch's statistics without
    /// counting the batch or updating the running statistics: a recomputation of the forward pass for the
    /// backward pass (<see cref="ActivationCheckpointing"/>) computes the same outputs, and the step then updates
    /// them once, as a step without checkpointing does, not twice.
    /// </summary>
    public static IDisposable Recomputing()
    {
        var outer = recomputing;
        recomputing = true;
        return new Restore(() => recomputing = outer);
    }

    public static Tensor Apply(BatchNorm bn, Tensor x)
    {
        if (recomputing && bn.training)
            return Normalize(bn, x, null, null, useBatchStatistics: true, 0.0);
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
        return Normalize(bn, x, runningMean, runningVar, useBatchStatistics, factor);
    }

    private static Tensor Normalize(BatchNorm bn, Tensor x, Tensor? runningMean, Tensor? runningVar, bool useBatchStatistics, double factor)
    {
        if (x.dim() == 4 && x.shape[2] * x.shape[3] is > 1 and <= SmallMapPixels && !ChannelsLast.Is(x))
        {
            // libtorch's NCHW kernels loop over every (sample, channel) pair with a vector loop over the
            // map; on 2x2 maps (the last stage at 112x112) that loop is nearly all overhead and the
            // backward pass cost several times what it does on the same values laid out channels-last.
            // A map already stored channels-last goes to libtorch's channels-last kernels as it is: as fast
            // as these rows on one thread, and faster on two (16 channels of 2x2 maps, batch 128: 29-95
            // against 124-636 us forward and backward).
            var (n, c, h, w) = (x.shape[0], x.shape[1], x.shape[2], x.shape[3]);
            var rows = nn.functional.batch_norm(x.permute(0, 2, 3, 1).reshape(-1, c), runningMean, runningVar,
                bn.weight, bn.bias, useBatchStatistics, factor, bn.eps);
            return rows.view(n, h, w, c).permute(0, 3, 1, 2).contiguous();
        }
        if (useBatchStatistics && x.dim() == 4 && x.shape[1] < NarrowChannels && ChannelsLast.Is(x) && LibTorchOpenMp.MaxThreads is var threads and > 1)
            return OnOneThread(x, threads, input => nn.functional.batch_norm(input, runningMean, runningVar, bn.weight, bn.bias, useBatchStatistics, factor, bn.eps));
        return nn.functional.batch_norm(x, runningMean, runningVar, bn.weight, bn.bias, useBatchStatistics, factor, bn.eps);
    }

    // libtorch's channels-last kernels for batch statistics give each thread a row of per-channel partial sums. Rows
    // of fewer than 16 floats share a 64-byte cache line, which two threads then both write at every pixel: over
    // M0's 8-channel 56x56 map (the first layer at 112x112, batch 128) two threads took 14-17 ms forward and backward
    // where one took 10-11 ms. The norm runs on one thread and the operations around it keep theirs; its backward
    // pass too, through marks in the autograd graph. The values are libtorch's one-thread kernel's (their last bits
    // differ from the two-thread kernel's, as between any two thread counts).
    internal static Tensor OnOneThread(Tensor x, int threads, Func<Tensor, Tensor> norm)
    {
        // Without a gradient for x nothing upstream would restore the count after the norm's backward pass,
        // so that pass keeps the caller's count.
        var tracked = is_grad_enabled() && x.requires_grad;
        var input = tracked ? ThreadsOnBackward.Mark(x, threads) : x;
        Tensor output;
        LibTorchOpenMp.SetThreads(1);
        try
        {
            output = norm(input);
        }
        finally
        {
            LibTorchOpenMp.SetThreads(threads);
        }
        return tracked ? ThreadsOnBackward.Mark(output, 1) : output;
    }

    private sealed class Restore(Action undo) : IDisposable
    {
        public void Dispose() => undo();
    }
}

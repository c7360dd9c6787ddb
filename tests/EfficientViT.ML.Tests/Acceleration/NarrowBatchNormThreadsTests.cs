using EfficientViT.ML.Acceleration;
using EfficientViT.ML.Modeling;
using EfficientViT.ML.Tests.Training;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Tests.Acceleration;

/// <summary>
/// Batch statistics of channels-last maps of fewer than 16 channels are taken on one thread inside a
/// multi-thread step, forward and backward. libtorch's reductions sum in a different order on one thread
/// than on two, so the last bits tell which ran: the outputs and gradients must be those of the module
/// run with one thread, bit for bit, and the caller's thread count must be back afterwards.
/// </summary>
[Collection(TorchGlobalStateCollection.Name)]
public class NarrowBatchNormThreadsTests
{
    [Fact]
    public void The_thread_count_set_here_is_the_one_libtorch_reads()
    {
        Assert.True(LibTorchOpenMp.Available, "libtorch's OpenMP runtime was not found through libtorch_cpu.so");
        var before = get_num_threads();
        try
        {
            LibTorchOpenMp.SetThreads(1);
            Assert.Equal(1, LibTorchOpenMp.MaxThreads);
            Assert.Equal(1, get_num_threads());
            LibTorchOpenMp.SetThreads(3);
            Assert.Equal(3, get_num_threads());
        }
        finally
        {
            set_num_threads(before);
        }
        Assert.Throws<ArgumentOutOfRangeException>(() => LibTorchOpenMp.SetThreads(0));
    }

    [Fact]
    public void A_mark_sets_the_thread_count_when_the_gradient_passes_it()
    {
        var before = get_num_threads();
        try
        {
            using var scope = NewDisposeScope();
            set_num_threads(2);
            var x = randn(3, 4).requires_grad_();
            var y = ThreadsOnBackward.Mark(x, 1);
            Assert.Equal(2, get_num_threads());
            (y * y).sum().backward();
            Assert.Equal(1, get_num_threads());
            Assert.True(TestFiles.MaxAbsDiff(x.grad!, 2 * x.detach()) < 1e-6f, "the mark passes the gradient unchanged");
        }
        finally
        {
            set_num_threads(before);
        }
    }

    [Fact]
    public void An_eight_channel_channels_last_norm_computes_as_on_one_thread_and_gives_the_count_back()
    {
        using var scope = NewDisposeScope();
        var (oneThread, _, ours) = ThreeWays(channels: 8, seed: 21);
        Assert.True(Same(oneThread, ours), "the norm did not run on one thread forward and backward");
        Assert.True(ChannelsLast.Is(ours.Output), "the output stays channels-last");
    }

    // Sixteen channels give each thread a cache line of its own. (Contiguous maps take a kernel that sums each
    // channel on one thread whatever the count, so their results cannot tell the counts apart.)
    [Fact]
    public void A_sixteen_channel_norm_keeps_the_caller_s_threads()
    {
        using var scope = NewDisposeScope();
        var (_, twoThreads, ours) = ThreeWays(channels: 16, seed: 22);
        Assert.True(Same(twoThreads, ours), "the norm did not run on the caller's two threads");
    }

    // The norm of one channels-last map by TorchSharp's module on one thread and on two, and through this library
    // on two; checks that the first two differ (else the comparison says nothing) and that two threads are back after.
    private static (Outcome OneThread, Outcome TwoThreads, Outcome Ours) ThreeWays(int channels, ulong seed)
    {
        var before = get_num_threads();
        try
        {
            var x = ChannelsLast.Of(randn(16, channels, 28, 28, generator: new Generator(seed)) * 3 + 1);
            var outcomes = (Run(x, threads: 1, useThisLibrary: false), Run(x, threads: 2, useThisLibrary: false), Run(x, threads: 2, useThisLibrary: true));
            Assert.False(Same(outcomes.Item1, outcomes.Item2), "libtorch's one- and two-thread norms agree to the bit here, so this test cannot tell them apart");
            Assert.Equal(2, get_num_threads());
            return outcomes;
        }
        finally
        {
            set_num_threads(before);
        }
    }

    // A training-mode norm of x at the given thread count, through this library's forward or TorchSharp's module,
    // with an upstream gradient that differs per element; its output, gradients and running mean.
    private static Outcome Run(Tensor x, int threads, bool useThisLibrary)
    {
        set_num_threads(threads);
        var channels = x.shape[1];
        var generator = new Generator(23);
        var upstream = randn(x.shape, generator: generator);
        using var bn = nn.BatchNorm2d(channels);
        using (no_grad())
        {
            bn.weight.copy_(rand(channels, generator: generator) + 0.5);
            bn.bias!.copy_(randn(channels, generator: generator));
        }
        bn.train();
        var input = x.detach().clone().requires_grad_();
        var output = useThisLibrary ? BatchNormForward.Apply(bn, input) : bn.forward(input);
        Assert.Equal(threads, get_num_threads());
        (output * upstream).sum().backward();
        Assert.Equal(threads, get_num_threads());
        return new Outcome(output.detach(), input.grad!, bn.weight.grad!.clone(), bn.bias.grad!.clone(), bn.running_mean!.clone());
    }

    private sealed record Outcome(Tensor Output, Tensor InputGrad, Tensor ScaleGrad, Tensor ShiftGrad, Tensor RunningMean);

    private static bool Same(Outcome a, Outcome b) =>
        new[] { (a.Output, b.Output), (a.InputGrad, b.InputGrad), (a.ScaleGrad, b.ScaleGrad), (a.ShiftGrad, b.ShiftGrad), (a.RunningMean, b.RunningMean) }
            .All(pair => TestFiles.MaxAbsDiff(pair.Item1, pair.Item2) == 0);
}

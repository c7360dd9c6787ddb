using static TorchSharp.torch;

namespace EfficientViT.ML.Modeling;

/// <summary>
/// An identity in the autograd graph that sets libtorch's OpenMP thread count (<see cref="LibTorchOpenMp"/>) when
/// the backward pass reaches it. libtorch runs a CPU graph's backward pass on the thread that called it, node
/// after node, so a pair of these around an operation gives that operation's backward the thread count its
/// forward pass had: the mark on its output sets the count, the mark on its input restores the count of the
/// rest. The count decides how an operation splits its work (and so the order of its float sums), not what it computes.
/// </summary>
internal sealed class ThreadsOnBackward : autograd.SingleTensorFunction<ThreadsOnBackward>
{
    private const string Threads = "threads";

    public override string Name => nameof(ThreadsOnBackward);

    /// <summary><paramref name="x"/> unchanged; when its gradient passes, the calling thread's OpenMP thread count becomes <paramref name="threads"/>.</summary>
    public static Tensor Mark(Tensor x, int threads) => apply(x, threads);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data(Threads, vars[1]);
        return ((Tensor)vars[0]).alias();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradient)
    {
        LibTorchOpenMp.SetThreads((int)ctx.get_data(Threads));
        // One gradient per forward argument: the tensor's, and none for the thread count.
        return [gradient, null!];
    }
}

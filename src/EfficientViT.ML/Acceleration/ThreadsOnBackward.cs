using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// Marks in the autograd graph that set libtorch's OpenMP thread count (<see cref="LibTorchOpenMp"/>) when the
/// backward pass reaches them (<see cref="BackwardHook"/>). A pair around an operation gives that operation's
/// backward the thread count its forward pass had: the mark on its output sets the count, the mark on its input
/// restores the count of the rest. The count decides how an operation splits its work (and so the order of its
/// float sums), not what it computes.
/// </summary>
internal static class ThreadsOnBackward
{
    /// <summary><paramref name="x"/> unchanged; when its gradient passes, the calling thread's OpenMP thread count becomes <paramref name="threads"/>.</summary>
    public static Tensor Mark(Tensor x, int threads) => BackwardHook.Mark(x, gradient =>
    {
        LibTorchOpenMp.SetThreads(threads);
        return gradient;
    });
}

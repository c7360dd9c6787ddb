using EfficientViT.ML.Acceleration;
using System.Diagnostics;
using EfficientViT.ML.Modeling;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>
/// Marks in the autograd graph (the library's <see cref="BackwardHook"/>) that note when the backward pass reaches them. Placed on the input of
/// each part of a model, it tells when that part's backward pass finished: libtorch runs a CPU graph's
/// backward on the calling thread, one node after another, so the time between two marks is the part's.
/// </summary>
internal static class BackwardClock
{
    private static long[] stamps = [];

    /// <summary>Makes room for <paramref name="count"/> marks and forgets earlier ones.</summary>
    public static void Reset(int count) => stamps = new long[count];

    /// <summary><paramref name="x"/> unchanged; its gradient, when it passes, sets mark <paramref name="slot"/>.</summary>
    public static Tensor Mark(Tensor x, int slot) => BackwardHook.Mark(x, gradient =>
    {
        stamps[slot] = Stopwatch.GetTimestamp();
        return gradient;
    });

    /// <summary>The <see cref="Stopwatch"/> timestamp of mark <paramref name="slot"/>, 0 if no gradient passed.</summary>
    public static long Stamp(int slot) => stamps[slot];
}

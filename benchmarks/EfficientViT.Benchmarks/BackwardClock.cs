using System.Diagnostics;
using static TorchSharp.torch;

namespace EfficientViT.Benchmarks;

/// <summary>
/// An identity in the autograd graph that notes when the backward pass reaches it. Placed on the input of
/// each part of a model, it tells when that part's backward pass finished: libtorch runs a CPU graph's
/// backward on the calling thread, one node after another, so the time between two marks is the part's.
/// </summary>
internal sealed class BackwardClock : autograd.SingleTensorFunction<BackwardClock>
{
    private const string Slot = "slot";

    private static long[] stamps = [];

    public override string Name => nameof(BackwardClock);

    /// <summary>Makes room for <paramref name="count"/> marks and forgets earlier ones.</summary>
    public static void Reset(int count) => stamps = new long[count];

    /// <summary><paramref name="x"/> unchanged; its gradient, when it passes, sets mark <paramref name="slot"/>.</summary>
    public static Tensor Mark(Tensor x, int slot) => apply(x, slot);

    /// <summary>The <see cref="Stopwatch"/> timestamp of mark <paramref name="slot"/>, 0 if no gradient passed.</summary>
    public static long Stamp(int slot) => stamps[slot];

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data(Slot, vars[1]);
        return ((Tensor)vars[0]).alias();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradient)
    {
        stamps[(int)ctx.get_data(Slot)] = Stopwatch.GetTimestamp();
        // One gradient per forward argument: the tensor's, and none for the slot number.
        return [gradient, null!];
    }
}

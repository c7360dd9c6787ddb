using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// An identity in the autograd graph that hands its gradient, when the backward pass reaches it, to a function
/// whose result goes on in its place. libtorch runs a CPU graph's backward pass on the thread that called it,
/// node after node, so the function runs at a known point of that pass: between the backward of what the marked
/// tensor feeds and the backward of what made it.
/// </summary>
internal sealed class BackwardHook : autograd.SingleTensorFunction<BackwardHook>
{
    private const string OnGradient = "onGradient";

    public override string Name => nameof(BackwardHook);

    /// <summary><paramref name="x"/> unchanged; its gradient, when it passes, is replaced by <paramref name="onGradient"/>'s result.</summary>
    public static Tensor Mark(Tensor x, Func<Tensor, Tensor> onGradient) => apply(x, onGradient);

    public override Tensor forward(autograd.AutogradContext ctx, params object[] vars)
    {
        ctx.save_data(OnGradient, vars[1]);
        return ((Tensor)vars[0]).alias();
    }

    public override List<Tensor> backward(autograd.AutogradContext ctx, Tensor gradient)
    {
        BackwardTensors.ReleaseEarlier();
        Tensor result;
        // The function's temporaries (a channels-last copy's views) are freed now; only its result goes on.
        using (var scope = NewDisposeScope())
        {
            result = ((Func<Tensor, Tensor>)ctx.get_data(OnGradient))(gradient);
            if (!ReferenceEquals(result, gradient))
                result.MoveToOuterDisposeScope();
        }
        BackwardTensors.ReleaseLater(gradient, result);
        // One gradient per forward argument: the tensor's, and none for the function.
        return [result, null!];
    }
}

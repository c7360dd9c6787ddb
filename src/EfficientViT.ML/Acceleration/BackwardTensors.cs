using static TorchSharp.torch;

namespace EfficientViT.ML.Acceleration;

/// <summary>
/// Frees the managed handles of a custom autograd function's gradients soon after its backward pass, not when the
/// training step's dispose scope ends. TorchSharp wraps each incoming gradient in a new tensor of the current dispose
/// scope, and libtorch copies the returned gradients only after the function returns; both handles would otherwise keep
/// their memory alive until the step ends: a full-size gradient per mark of the backward pass (<see cref="BackwardHook"/>,
/// activation checkpointing's parts), piling up while the backward pass frees the activations.
/// </summary>
internal static class BackwardTensors
{
    // The handles of the last function's backward pass on this thread (libtorch runs a CPU graph's backward pass on the
    // calling thread, one node after another): by the time the next function's backward pass starts, libtorch has
    // taken its own references to the returned gradients.
    [ThreadStatic]
    private static List<Tensor>? pending;

    /// <summary>Disposes the handles an earlier backward pass left; call at the start of a custom function's backward pass.</summary>
    public static void ReleaseEarlier()
    {
        if (pending is not { Count: > 0 })
            return;
        foreach (var tensor in pending)
            tensor.Dispose();
        pending.Clear();
    }

    /// <summary>
    /// Disposes <paramref name="tensors"/> at the next <see cref="ReleaseEarlier"/> on this thread (or with their
    /// dispose scope, whichever comes first): a function's incoming gradients and the gradients it returns.
    /// </summary>
    public static void ReleaseLater(params Tensor?[] tensors)
    {
        pending ??= [];
        foreach (var tensor in tensors)
        {
            if (tensor is not null && !pending.Any(t => ReferenceEquals(t, tensor)))
                pending.Add(tensor);
        }
    }
}

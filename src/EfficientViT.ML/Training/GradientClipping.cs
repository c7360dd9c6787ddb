using EfficientViT.ML.Modeling;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>Gradient clipping between <c>backward()</c> and the optimizer step. Parameters without a gradient are skipped.</summary>
internal static class GradientClipping
{
    /// <summary>Clips as <paramref name="mode"/> says with <paramref name="value"/>; does nothing for <see cref="GradientClipMode.None"/>.</summary>
    public static void Apply(IEnumerable<Parameter> parameters, GradientClipMode mode, double value)
    {
        switch (mode)
        {
            case GradientClipMode.None:
                break;
            case GradientClipMode.Norm:
                ClipNorm(parameters, value);
                break;
            case GradientClipMode.Adaptive:
                ClipAdaptive(parameters, value);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown gradient clip mode.");
        }
    }

    /// <summary>
    /// Scales all gradients by one factor so that their global L2 norm (over every element of every
    /// gradient) is at most <paramref name="maxNorm"/>, as <c>torch.nn.utils.clip_grad_norm_</c>.
    /// </summary>
    /// <returns>The global norm before clipping (0 when no parameter has a gradient).</returns>
    public static double ClipNorm(IEnumerable<Parameter> parameters, double maxNorm)
    {
        if (maxNorm <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var gradients = Gradients(parameters);
        if (gradients.Count == 0)
            return 0;

        // Norm of the per-tensor norms = norm of everything, in double to avoid float32 overflow of the sum of squares.
        var totalNorm = stack(gradients.Select(gradient => gradient.norm().to(ScalarType.Float64)).ToArray()).norm().ToDouble();
        // The small epsilon, as PyTorch, keeps the factor finite for a zero gradient.
        var factor = maxNorm / (totalNorm + 1e-6);
        if (factor < 1)
        {
            foreach (var gradient in gradients)
                gradient.TimesInPlace(factor);
        }
        return totalNorm;
    }

    /// <summary>
    /// Adaptive gradient clipping (AGC) as timm's <c>adaptive_clip_grad</c>: for each unit (each output
    /// row or channel, i.e. index along dim 0, of a tensor with more than one dimension; the whole tensor
    /// otherwise), the gradient's L2 norm is limited to <paramref name="clipFactor"/> · max(‖weight‖, <paramref name="eps"/>).
    /// Units within the limit are left as they are; the others are scaled down onto it.
    /// </summary>
    /// <param name="parameters">The parameters whose gradients are clipped in place.</param>
    /// <param name="clipFactor">Largest allowed ratio of gradient norm to weight norm (0.02 in the official recipe).</param>
    /// <param name="eps">Floor of the weight norm, so that zero-initialised weights can still move.</param>
    public static void ClipAdaptive(IEnumerable<Parameter> parameters, double clipFactor = 0.02, double eps = 1e-3)
    {
        if (clipFactor <= 0)
            throw new ArgumentOutOfRangeException(nameof(clipFactor), clipFactor, "clipFactor must be positive.");
        if (eps < 0)
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must not be negative.");
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        foreach (var parameter in parameters)
        {
            using var inner = NewDisposeScope();
            var gradient = parameter.grad;
            if (gradient is null)
                continue;
            var maxNorm = UnitwiseNorm(parameter).AtLeast(eps).Times(clipFactor);
            var gradientNorm = UnitwiseNorm(gradient);
            // clamp_min keeps the division finite where the gradient is zero (then nothing is clipped anyway).
            var clipped = gradient * (maxNorm / gradientNorm.AtLeast(1e-6));
            gradient.copy_(where(gradientNorm < maxNorm, gradient, clipped));
        }
    }

    /// <summary>L2 norm per index of dim 0, shaped to broadcast against the tensor; the whole norm for 0-D and 1-D tensors.</summary>
    private static Tensor UnitwiseNorm(Tensor x)
    {
        if (x.dim() <= 1)
            return x.norm();
        var shape = new long[x.dim()];
        Array.Fill(shape, 1L);
        shape[0] = x.shape[0];
        return x.flatten(1).norm(1, keepdim: true).view(shape);
    }

    private static List<Tensor> Gradients(IEnumerable<Parameter> parameters)
    {
        var gradients = new List<Tensor>();
        foreach (var parameter in parameters)
        {
            var gradient = parameter.grad;
            if (gradient is not null)
                gradients.Add(gradient);
        }
        return gradients;
    }
}

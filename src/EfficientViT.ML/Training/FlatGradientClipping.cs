using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// <see cref="GradientClipping"/>'s rules on a flat gradient buffer (<see cref="FlatParameters"/>): the
/// same clipping in about ten native calls over all parameters instead of about ten per parameter tensor.
/// The norms of one-dimensional tensors are reduced in another order than per tensor, so results agree to
/// float32 rounding, not always bit for bit.
/// </summary>
internal static class FlatGradientClipping
{
    /// <summary>Clips as <paramref name="mode"/> says with <paramref name="value"/>; does nothing for <see cref="GradientClipMode.None"/>.</summary>
    public static void Apply(FlatParameters flat, GradientClipMode mode, double value)
    {
        switch (mode)
        {
            case GradientClipMode.None:
                break;
            case GradientClipMode.Norm:
                ClipNorm(flat, value);
                break;
            case GradientClipMode.Adaptive:
                ClipAdaptive(flat, value);
                break;
            default:
                throw new ArgumentOutOfRangeException(nameof(mode), mode, "Unknown gradient clip mode.");
        }
    }

    /// <summary>As <see cref="GradientClipping.ClipNorm"/>: one factor for all gradients, so that their global L2 norm is at most <paramref name="maxNorm"/>.</summary>
    public static double ClipNorm(FlatParameters flat, double maxNorm)
    {
        if (maxNorm <= 0)
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "maxNorm must be positive.");
        flat.EnsureBound();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var totalNorm = flat.Gradients.to(ScalarType.Float64).norm().ToDouble();
        var factor = maxNorm / (totalNorm + 1e-6);
        if (factor < 1)
            flat.Gradients.TimesInPlace(factor);
        return totalNorm;
    }

    /// <summary>
    /// As <see cref="GradientClipping.ClipAdaptive"/>: each unit's gradient norm (each output row or channel,
    /// or a whole tensor of fewer than two dimensions) limited to <paramref name="clipFactor"/> · max(‖weight‖, <paramref name="eps"/>).
    /// </summary>
    public static void ClipAdaptive(FlatParameters flat, double clipFactor = 0.02, double eps = 1e-3)
    {
        if (clipFactor <= 0)
            throw new ArgumentOutOfRangeException(nameof(clipFactor), clipFactor, "clipFactor must be positive.");
        if (eps < 0)
            throw new ArgumentOutOfRangeException(nameof(eps), eps, "eps must not be negative.");
        flat.EnsureBound();
        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        var runs = flat.Runs;
        var maxNorm = UnitNorms(flat.Values, runs).AtLeast(eps).Times(clipFactor);
        var gradientNorm = UnitNorms(flat.Gradients, runs);
        // Units within the limit keep their gradient (factor 1); the others are scaled onto it.
        var factor = where(gradientNorm < maxNorm, ones_like(gradientNorm), maxNorm / gradientNorm.AtLeast(1e-6));
        long first = 0;
        foreach (var run in runs)
        {
            Matrix(flat.Gradients, run).mul_(factor.narrow(0, first, run.Units).unsqueeze(1));
            first += run.Units;
        }
    }

    // The L2 norm of each unit, run after run: one reduction per run of equal-length units.
    private static Tensor UnitNorms(Tensor buffer, IReadOnlyList<UnitRun> runs) =>
        cat(runs.Select(run => Matrix(buffer, run).norm(1, keepdim: false)).ToArray(), 0);

    private static Tensor Matrix(Tensor buffer, UnitRun run) => buffer.narrow(0, run.Start, run.Units * run.Length).view(run.Units, run.Length);
}

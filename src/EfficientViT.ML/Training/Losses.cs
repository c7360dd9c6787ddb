using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// The recipe's losses. With mixup/cutmix the targets are already smoothed and mixed, so the official
/// recipe uses <see cref="SoftTargetCrossEntropy"/>; without mixing it uses
/// <see cref="LabelSmoothingCrossEntropy"/>. <see cref="Distillation"/> wraps either.
/// All return a scalar that keeps the autograd graph; their temporaries are freed.
/// </summary>
internal static class Losses
{
    /// <summary>Mean over the batch of −Σ_c targets[c] · log_softmax(logits)[c].</summary>
    /// <param name="logits">(B, C) logits.</param>
    /// <param name="targets">(B, C) target distributions (rows summing to 1).</param>
    public static Tensor SoftTargetCrossEntropy(Tensor logits, Tensor targets)
    {
        CheckLogits(logits);
        if (!targets.shape.SequenceEqual(logits.shape))
            throw new ArgumentException($"Targets shaped ({string.Join(", ", targets.shape)}) do not match logits ({string.Join(", ", logits.shape)}).", nameof(targets));
        using var scope = NewDisposeScope();
        var perSample = -(targets * nn.functional.log_softmax(logits, 1)).sum(1);
        return perSample.mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// Cross-entropy against label-smoothed one-hot targets: (1 − s) · NLL(true class) + s · mean over
    /// classes of −log p, averaged over the batch. With s = 0 it is the ordinary cross-entropy.
    /// </summary>
    /// <param name="logits">(B, C) logits.</param>
    /// <param name="labels">(B) int64 class indices.</param>
    /// <param name="smoothing">Smoothing s in [0, 1).</param>
    public static Tensor LabelSmoothingCrossEntropy(Tensor logits, Tensor labels, double smoothing = 0.1)
    {
        CheckLogits(logits);
        CheckLabels(logits, labels);
        if (smoothing is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(smoothing), smoothing, "smoothing must be in [0, 1).");
        using var scope = NewDisposeScope();
        var logProbabilities = nn.functional.log_softmax(logits, 1);
        var nll = -logProbabilities.gather(1, labels.unsqueeze(1)).squeeze(1);
        var uniform = -logProbabilities.mean([1L]);
        var perSample = nll.Times(1 - smoothing).Plus(uniform.Times(smoothing));
        return perSample.mean().MoveToOuterDisposeScope();
    }

    /// <summary>
    /// DeiT's distillation loss: base · (1 − α) + distillation · α, where base =
    /// <paramref name="targetsLoss"/>(<paramref name="logits"/>) and the distillation term compares the
    /// distillation head with the teacher:
    /// soft = KL(softmax(teacher / τ) ‖ softmax(dist / τ)) summed · τ² / numel(dist);
    /// hard = cross-entropy(dist, argmax teacher). With <see cref="DistillationMode.None"/> only the base loss.
    /// </summary>
    /// <param name="logits">(B, C) class-head logits.</param>
    /// <param name="distillationLogits">(B, C) distillation-head logits; required unless the mode is None.</param>
    /// <param name="teacherLogits">(B, C) teacher logits (no gradient flows into them); required unless the mode is None.</param>
    /// <param name="targetsLoss">The base criterion applied to <paramref name="logits"/>, e.g. <c>l =&gt; SoftTargetCrossEntropy(l, targets)</c>.</param>
    /// <param name="mode">None, soft or hard.</param>
    /// <param name="alpha">Weight α of the distillation term.</param>
    /// <param name="tau">Temperature τ of soft distillation.</param>
    public static Tensor Distillation(Tensor logits, Tensor? distillationLogits, Tensor? teacherLogits, Func<Tensor, Tensor> targetsLoss, DistillationMode mode, double alpha = 0.5, double tau = 1.0)
    {
        using var scope = NewDisposeScope();
        var baseLoss = targetsLoss(logits);
        if (mode == DistillationMode.None)
            return baseLoss.MoveToOuterDisposeScope();

        if (distillationLogits is null || teacherLogits is null)
            throw new ArgumentException($"{mode} distillation needs the distillation-head logits and the teacher logits.");
        if (!distillationLogits.shape.SequenceEqual(teacherLogits.shape))
            throw new ArgumentException($"Distillation logits ({string.Join(", ", distillationLogits.shape)}) and teacher logits ({string.Join(", ", teacherLogits.shape)}) differ in shape.");
        if (alpha is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "alpha must be in [0, 1].");
        if (tau <= 0)
            throw new ArgumentOutOfRangeException(nameof(tau), tau, "tau must be positive.");

        var teacher = teacherLogits.detach();
        Tensor distillationLoss;
        if (mode == DistillationMode.Soft)
        {
            var student = nn.functional.log_softmax(distillationLogits.DividedBy(tau), 1);
            var target = nn.functional.log_softmax(teacher.DividedBy(tau), 1);
            // Summed and divided by every element (not by the batch), times τ² to keep gradient sizes independent of τ, as DeiT does.
            distillationLoss = nn.functional.kl_div(student, target, log_target: true, reduction: nn.Reduction.Sum)
                .Times(tau * tau / distillationLogits.numel());
        }
        else
        {
            distillationLoss = nn.functional.cross_entropy(distillationLogits, teacher.argmax(1));
        }
        return baseLoss.Times(1 - alpha).Plus(distillationLoss.Times(alpha)).MoveToOuterDisposeScope();
    }

    private static void CheckLogits(Tensor logits)
    {
        if (logits.dim() != 2)
            throw new ArgumentException($"Expected logits shaped (batch, classes); found ({string.Join(", ", logits.shape)}).", nameof(logits));
    }

    private static void CheckLabels(Tensor logits, Tensor labels)
    {
        if (labels.dim() != 1 || labels.shape[0] != logits.shape[0] || labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"Expected int64 labels shaped ({logits.shape[0]}); found {labels.dtype} ({string.Join(", ", labels.shape)}).", nameof(labels));
    }
}

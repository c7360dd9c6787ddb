using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Training;

/// <summary>
/// Batch-level mixup and cutmix with label smoothing, as timm's <c>Mixup</c> in batch mode (used by
/// the official recipe). Each batch is paired with itself reversed: image i is mixed with image
/// B − 1 − i, and the soft targets are mixed with the same weight.
/// </summary>
/// <remarks>
/// Per batch: with probability <see cref="Probability"/> the batch is mixed; cutmix is then chosen
/// with probability <see cref="SwitchProbability"/> when both alphas are positive (otherwise whichever
/// is enabled). The weight λ of the original images is drawn from Beta(α, α). Mixup blends whole
/// images; cutmix pastes a box of area about (1 − λ) from the partner image and then sets λ to the
/// share of pixels actually kept, since the box is clipped at the borders.
/// All randomness comes from the <see cref="Random"/> passed in, so a seed reproduces the batch.
/// </remarks>
internal sealed class MixupCutmix
{
    /// <summary>Creates the mixer.</summary>
    /// <param name="numClasses">Number of classes of the one-hot targets.</param>
    /// <param name="mixupAlpha">Mixup's Beta parameter; 0 disables mixup.</param>
    /// <param name="cutmixAlpha">Cutmix's Beta parameter; 0 disables cutmix.</param>
    /// <param name="probability">Probability that a batch is mixed.</param>
    /// <param name="switchProbability">Probability of cutmix for a mixed batch when both are enabled.</param>
    /// <param name="labelSmoothing">Label smoothing of the targets.</param>
    public MixupCutmix(int numClasses, double mixupAlpha = 0.8, double cutmixAlpha = 1.0, double probability = 1.0, double switchProbability = 0.5, double labelSmoothing = 0.1)
    {
        if (numClasses < 1)
            throw new ArgumentOutOfRangeException(nameof(numClasses), numClasses, "numClasses must be at least 1.");
        if (mixupAlpha < 0)
            throw new ArgumentOutOfRangeException(nameof(mixupAlpha), mixupAlpha, "mixupAlpha must not be negative.");
        if (cutmixAlpha < 0)
            throw new ArgumentOutOfRangeException(nameof(cutmixAlpha), cutmixAlpha, "cutmixAlpha must not be negative.");
        if (probability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "probability must be in [0, 1].");
        if (switchProbability is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(switchProbability), switchProbability, "switchProbability must be in [0, 1].");
        if (labelSmoothing is < 0 or >= 1)
            throw new ArgumentOutOfRangeException(nameof(labelSmoothing), labelSmoothing, "labelSmoothing must be in [0, 1).");
        NumClasses = numClasses;
        MixupAlpha = mixupAlpha;
        CutmixAlpha = cutmixAlpha;
        Probability = probability;
        SwitchProbability = switchProbability;
        LabelSmoothing = labelSmoothing;
    }

    /// <summary>The mixer a recipe describes.</summary>
    public static MixupCutmix FromRecipe(TrainingRecipe recipe, int numClasses) =>
        new(numClasses, recipe.MixupAlpha, recipe.CutmixAlpha, recipe.MixupProbability, recipe.MixupSwitchProbability, recipe.LabelSmoothing);

    /// <summary>Number of classes.</summary>
    public int NumClasses { get; }

    /// <summary>Mixup's Beta parameter (0 = off).</summary>
    public double MixupAlpha { get; }

    /// <summary>Cutmix's Beta parameter (0 = off).</summary>
    public double CutmixAlpha { get; }

    /// <summary>Probability that a batch is mixed.</summary>
    public double Probability { get; }

    /// <summary>Probability of cutmix rather than mixup when both are enabled.</summary>
    public double SwitchProbability { get; }

    /// <summary>Label smoothing of the targets.</summary>
    public double LabelSmoothing { get; }

    /// <summary>
    /// Mixes a batch. Returns new tensors (the inputs are not changed): the images, and soft targets
    /// (B, NumClasses) in the images' dtype whose rows sum to 1, for <see cref="Losses.SoftTargetCrossEntropy"/>.
    /// </summary>
    /// <param name="images">(B, C, H, W) floating-point images.</param>
    /// <param name="labels">(B) int64 class indices.</param>
    /// <param name="random">Source of all random choices.</param>
    public (Tensor Images, Tensor Targets) Apply(Tensor images, Tensor labels, Random random)
    {
        var (lambda, useCutmix) = Decide(random);
        var (mixedImages, targets, _, _) = Mix(images, labels, lambda, useCutmix, random);
        return (mixedImages, targets);
    }

    /// <summary>
    /// Label-smoothed one-hot targets (B, NumClasses) in <paramref name="dtype"/>: s / C off the
    /// true class, 1 − s + s / C on it.
    /// </summary>
    public Tensor SmoothedOneHot(Tensor labels, ScalarType dtype = ScalarType.Float32)
    {
        using var scope = NewDisposeScope();
        var off = LabelSmoothing / NumClasses;
        var on = 1 - LabelSmoothing + off;
        var oneHot = nn.functional.one_hot(labels, NumClasses).to(dtype);
        return oneHot.Times(on - off).Plus(off).MoveToOuterDisposeScope();
    }

    /// <summary>Draws whether the batch is mixed and how: λ = 1 means unmixed.</summary>
    internal (double Lambda, bool UseCutmix) Decide(Random random)
    {
        var mixupOn = MixupAlpha > 0;
        var cutmixOn = CutmixAlpha > 0;
        if ((!mixupOn && !cutmixOn) || random.NextDouble() >= Probability)
            return (1.0, false);

        // The same order of draws as timm: the coin for the mode first, then λ.
        var useCutmix = mixupOn && cutmixOn ? random.NextDouble() < SwitchProbability : cutmixOn;
        var alpha = useCutmix ? CutmixAlpha : MixupAlpha;
        return (BetaDistribution.Sample(random, alpha, alpha), useCutmix);
    }

    /// <summary>
    /// Mixes with a given λ (tests force it here). For cutmix, the box is drawn from
    /// <paramref name="random"/> and the returned λ is the corrected one.
    /// </summary>
    internal (Tensor Images, Tensor Targets, double Lambda, CutmixBox? Box) Mix(Tensor images, Tensor labels, double lambda, bool useCutmix, Random random)
    {
        CheckBatch(images, labels);
        if (lambda is < 0 or > 1)
            throw new ArgumentOutOfRangeException(nameof(lambda), lambda, "lambda must be in [0, 1].");

        using var scope = NewDisposeScope();
        using var noGrad = no_grad();
        Tensor mixed;
        CutmixBox? box = null;
        if (lambda == 1)
        {
            mixed = images.clone();
        }
        else if (useCutmix)
        {
            var height = (int)images.shape[2];
            var width = (int)images.shape[3];
            var drawn = CutmixBox.Draw(height, width, lambda, random);
            box = drawn;
            // λ becomes the share of pixels that still come from the original image.
            lambda = 1 - (double)drawn.Area / (height * width);
            mixed = images.clone();
            if (drawn.Area > 0)
            {
                var partnerBox = images.flip(0)
                    .narrow(2, drawn.Top, drawn.Bottom - drawn.Top)
                    .narrow(3, drawn.Left, drawn.Right - drawn.Left);
                mixed.narrow(2, drawn.Top, drawn.Bottom - drawn.Top)
                    .narrow(3, drawn.Left, drawn.Right - drawn.Left)
                    .copy_(partnerBox);
            }
        }
        else
        {
            mixed = images.Times(lambda).Plus(images.flip(0).Times(1 - lambda));
        }

        var oneHot = SmoothedOneHot(labels, images.dtype);
        var targets = oneHot.Times(lambda).Plus(oneHot.flip(0).Times(1 - lambda));
        return (mixed.MoveToOuterDisposeScope(), targets.MoveToOuterDisposeScope(), lambda, box);
    }

    private static void CheckBatch(Tensor images, Tensor labels)
    {
        if (images.dim() != 4 || !images.is_floating_point())
            throw new ArgumentException($"Expected floating-point images shaped (batch, channels, height, width); found {images.dtype} ({string.Join(", ", images.shape)}).", nameof(images));
        if (labels.dim() != 1 || labels.shape[0] != images.shape[0] || labels.dtype != ScalarType.Int64)
            throw new ArgumentException($"Expected int64 labels shaped ({images.shape[0]}); found {labels.dtype} ({string.Join(", ", labels.shape)}).", nameof(labels));
    }
}

namespace EfficientViT.ML.Training;

/// <summary>
/// The hyper-parameters of the EfficientViT training recipe. The defaults are the official ImageNet
/// recipe (microsoft/Cream EfficientViT <c>main.py</c>, itself DeiT's): AdamW, cosine learning rate with
/// warm-up, adaptive gradient clipping, label smoothing, mixup/cutmix and a model EMA.
/// </summary>
/// <remarks>
/// The data-side parts of the official recipe (RandAugment, random erasing, repeated augmentation)
/// belong to the input pipeline and are not described here.
/// </remarks>
public sealed record TrainingRecipe
{
    /// <summary>The official ImageNet-1k recipe: 300 epochs, a total batch of 2048 (8 GPUs × 256).</summary>
    public static TrainingRecipe Official { get; } = new();

    /// <summary>Number of passes over the training set.</summary>
    public int Epochs { get; init; } = 300;

    /// <summary>Total batch size over all devices; it scales the learning rate (see <see cref="ScaledLearningRate"/>).</summary>
    public int BatchSize { get; init; } = 2048;

    /// <summary>Peak learning rate for a batch of 512; the optimizer uses <see cref="ScaledLearningRate"/>.</summary>
    public double BaseLearningRate { get; init; } = 1e-3;

    /// <summary>Learning rate the cosine decay ends at.</summary>
    public double MinLearningRate { get; init; } = 1e-5;

    /// <summary>Learning rate of the first warm-up step.</summary>
    public double WarmupLearningRate { get; init; } = 1e-6;

    /// <summary>Epochs of linear warm-up from <see cref="WarmupLearningRate"/> to the peak.</summary>
    public int WarmupEpochs { get; init; } = 5;

    /// <summary>AdamW decoupled weight decay, applied to every parameter except the no-decay ones (biases, 1-D parameters, attention biases).</summary>
    public double WeightDecay { get; init; } = 0.025;

    /// <summary>AdamW epsilon.</summary>
    public double AdamEpsilon { get; init; } = 1e-8;

    /// <summary>AdamW first-moment coefficient (the PyTorch default the official recipe keeps).</summary>
    public double AdamBeta1 { get; init; } = 0.9;

    /// <summary>AdamW second-moment coefficient (the PyTorch default the official recipe keeps).</summary>
    public double AdamBeta2 { get; init; } = 0.999;

    /// <summary>
    /// Stochastic-depth rate for the model (the official EfficientViT trains without it). The model takes it
    /// at construction: <c>new EfficientVit(EfficientVitConfig.For(variant) with { DropPathRate = recipe.DropPath })</c>.
    /// </summary>
    public double DropPath { get; init; }

    /// <summary>
    /// A low-to-high resolution schedule (progressive resizing): the side of the first epochs' images, a multiple of
    /// 16 below the model's, or null (default) to train every epoch at the model's own size. The sides grow
    /// linearly, in steps of 16, over the epochs before the last <see cref="FullSizeEpochs"/>, which train at the
    /// model's size (see <see cref="ImageSizeAt"/>). Small images cost less per step, so early epochs, which learn
    /// coarse features, go faster; the last epochs adapt the network to its own size. The network keeps its
    /// parameters throughout (<see cref="Modeling.EfficientVit.SetInputSize"/>), and each epoch validates at its side.
    /// </summary>
    public int? StartImageSize { get; init; }

    /// <summary>With <see cref="StartImageSize"/>: the last epochs, trained at the model's own size. Default 3.</summary>
    public int FullSizeEpochs { get; init; } = 3;

    /// <summary>
    /// The image side of epoch <paramref name="epoch"/> (0-based) for a model of side <paramref name="modelSize"/>:
    /// <paramref name="modelSize"/> without <see cref="StartImageSize"/>; with it, from the start side up to the
    /// model's, <c>start + (model − start) · epoch / rampEpochs</c> rounded down to a multiple of 16 over the first
    /// <c>rampEpochs = Epochs − FullSizeEpochs</c> epochs, then the model's size.
    /// </summary>
    public int ImageSizeAt(int epoch, int modelSize)
    {
        if (StartImageSize is not { } start || start >= modelSize)
            return modelSize;
        var rampEpochs = Epochs - FullSizeEpochs;
        if (epoch >= rampEpochs)
            return modelSize;
        var side = start + (modelSize - start) * (long)epoch / rampEpochs;
        return (int)Math.Max(start, side / 16 * 16);
    }

    /// <summary>Whether <paramref name="fullSizeEpochs"/> leaves a schedule of <paramref name="epochs"/> epochs some at smaller sides: 1 to epochs − 1.</summary>
    public static bool IsFullSizeEpochCountValid(int fullSizeEpochs, int epochs) => fullSizeEpochs >= 1 && fullSizeEpochs < epochs;

    /// <summary>Throws an <see cref="ArgumentException"/> when <see cref="StartImageSize"/> is not below <paramref name="modelSize"/>.</summary>
    public void CheckImageSizesFor(int modelSize)
    {
        if (StartImageSize is { } start && start >= modelSize)
            throw new ArgumentException($"TrainingRecipe.StartImageSize = {start}: a low-to-high resolution schedule starts below the model's {modelSize}x{modelSize}.");
    }

    /// <summary>The sides of the epochs, each with its epochs (1-based), e.g. "64 (epochs 1-3), 80 (4-6), 112 (7-9)".</summary>
    public string DescribeImageSizes(int modelSize)
    {
        var runs = new List<(int Side, int First, int Last)>();
        for (var epoch = 0; epoch < Epochs; epoch++)
        {
            var side = ImageSizeAt(epoch, modelSize);
            if (runs.Count > 0 && runs[^1].Side == side)
                runs[^1] = runs[^1] with { Last = epoch + 1 };
            else
                runs.Add((side, epoch + 1, epoch + 1));
        }
        return string.Join(", ", runs.Select((run, i) =>
            $"{run.Side} ({(i == 0 ? "epochs " : "")}{run.First}{(run.Last > run.First ? $"-{run.Last}" : "")})"));
    }

    /// <summary>How gradients are clipped.</summary>
    public GradientClipMode GradientClipMode { get; init; } = GradientClipMode.Adaptive;

    /// <summary>The clip value: the AGC factor for <see cref="GradientClipMode.Adaptive"/>, the maximum global norm for <see cref="GradientClipMode.Norm"/>.</summary>
    public double GradientClip { get; init; } = 0.02;

    /// <summary>Beta-distribution parameter of mixup; 0 disables mixup.</summary>
    public double MixupAlpha { get; init; } = 0.8;

    /// <summary>Beta-distribution parameter of cutmix; 0 disables cutmix.</summary>
    public double CutmixAlpha { get; init; } = 1.0;

    /// <summary>Probability that a batch is mixed at all.</summary>
    public double MixupProbability { get; init; } = 1.0;

    /// <summary>When both mixup and cutmix are enabled, the probability of cutmix for a mixed batch.</summary>
    public double MixupSwitchProbability { get; init; } = 0.5;

    /// <summary>Label smoothing: the true class gets 1 − s + s/C, every other class s/C.</summary>
    public double LabelSmoothing { get; init; } = 0.1;

    /// <summary>Decay of the model's exponential moving average per step; null turns the EMA off.</summary>
    public double? EmaDecay { get; init; } = 0.99996;

    /// <summary>Distillation from a teacher into the distillation head.</summary>
    public DistillationMode Distillation { get; init; } = DistillationMode.None;

    /// <summary>Weight of the distillation loss; the target loss gets 1 − alpha.</summary>
    public double DistillationAlpha { get; init; } = 0.5;

    /// <summary>Temperature of soft distillation.</summary>
    public double DistillationTau { get; init; } = 1.0;

    /// <summary>Seed for weight initialisation, shuffling and mixing.</summary>
    public int Seed { get; init; }

    /// <summary>Whether mixup or cutmix is active (either alpha positive and a positive probability).</summary>
    public bool IsMixingEnabled => (MixupAlpha > 0 || CutmixAlpha > 0) && MixupProbability > 0;

    /// <summary>
    /// The peak learning rate after the linear scaling rule: <see cref="BaseLearningRate"/> × <see cref="BatchSize"/> / 512
    /// (4e-3 for the official total batch of 2048).
    /// </summary>
    public double ScaledLearningRate() => BaseLearningRate * BatchSize / 512.0;

    /// <summary>
    /// A recipe for a small data set trained on one machine: the official recipe with the schedule
    /// and the EMA scaled to a short run.
    /// </summary>
    /// <param name="epochs">Epochs of the short run.</param>
    /// <param name="batchSize">The batch size; the peak learning rate follows it by the linear scaling rule.</param>
    /// <param name="stepsPerEpoch">Optimizer steps per epoch (training images / batch size). Without it the EMA is off, because its decay cannot be matched to the run.</param>
    /// <remarks>
    /// What changes, and why:
    /// <list type="bullet">
    /// <item><b>Warm-up</b> keeps the official proportion (5 of 300 epochs, 1/60 of the run), rounded,
    /// but at least one epoch when there are at least two, so that AdamW's moment estimates settle
    /// before the peak rate; a one-epoch run has no warm-up.</item>
    /// <item><b>Minimum and warm-up learning rates</b> keep their official ratios to the peak
    /// (peak / 400 and peak / 4000 at the official peak of 4e-3). A small batch lowers the peak by the
    /// linear scaling rule, and the fixed official values (1e-5, 1e-6) could otherwise lie above it.</item>
    /// <item><b>EMA decay</b>: an EMA with decay d averages over about 1 / (1 − d) steps. The official
    /// 0.99996 is 25,000 steps, 2/15 of its 187,500-step run (300 epochs × 625 steps of 2048 images).
    /// The short run keeps that fraction: horizon H = max(1, 2/15 × epochs × stepsPerEpoch) steps and
    /// d = 1 − 1/H. The official decay on a run of a few thousand steps would leave the EMA close to
    /// the random initialisation.</item>
    /// </list>
    /// Regularisation (weight decay, label smoothing, mixup/cutmix, AGC) stays as is: small data sets
    /// over-fit sooner, not later.
    /// </remarks>
    public static TrainingRecipe ForSmallData(int epochs, int batchSize, long? stepsPerEpoch = null)
    {
        if (epochs < 1)
            throw new ArgumentOutOfRangeException(nameof(epochs), epochs, "epochs must be at least 1.");
        if (batchSize < 1)
            throw new ArgumentOutOfRangeException(nameof(batchSize), batchSize, "batchSize must be at least 1.");
        if (stepsPerEpoch is < 1)
            throw new ArgumentOutOfRangeException(nameof(stepsPerEpoch), stepsPerEpoch, "stepsPerEpoch must be at least 1.");

        var official = Official;
        var warmupEpochs = epochs < 2
            ? 0
            : Math.Clamp((int)Math.Round(epochs * (double)official.WarmupEpochs / official.Epochs), 1, epochs - 1);

        var recipe = official with { Epochs = epochs, BatchSize = batchSize, WarmupEpochs = warmupEpochs };

        // Official ratios of the floor and the start to the official peak (1e-5 / 4e-3 and 1e-6 / 4e-3).
        var officialPeak = official.ScaledLearningRate();
        var peak = recipe.ScaledLearningRate();
        recipe = recipe with
        {
            MinLearningRate = peak * official.MinLearningRate / officialPeak,
            WarmupLearningRate = peak * official.WarmupLearningRate / officialPeak,
        };

        return recipe with { EmaDecay = stepsPerEpoch is { } steps ? EmaDecayForRun(epochs * steps) : null };
    }

    /// <summary>
    /// The EMA decay whose horizon (1 / (1 − decay) steps) is the same fraction of a run of
    /// <paramref name="totalSteps"/> steps as the official decay's is of the official run (2/15).
    /// </summary>
    public static double EmaDecayForRun(long totalSteps)
    {
        if (totalSteps < 1)
            throw new ArgumentOutOfRangeException(nameof(totalSteps), totalSteps, "totalSteps must be at least 1.");
        const double OfficialHorizonFraction = 25_000.0 / 187_500.0;
        var horizon = Math.Max(1.0, OfficialHorizonFraction * totalSteps);
        return 1.0 - 1.0 / horizon;
    }

    /// <summary>
    /// This recipe with its peak learning rate set to <paramref name="peakLearningRate"/>; the minimum and
    /// warm-up rates keep their ratios to the peak. Short runs on small data want a higher peak than the
    /// lr × batch / 512 rule gives.
    /// </summary>
    public TrainingRecipe WithPeakLearningRate(double peakLearningRate)
    {
        if (!(peakLearningRate > 0))
            throw new ArgumentOutOfRangeException(nameof(peakLearningRate), peakLearningRate, "The peak learning rate must be positive.");
        var scale = peakLearningRate / ScaledLearningRate();
        return this with
        {
            BaseLearningRate = BaseLearningRate * scale,
            MinLearningRate = MinLearningRate * scale,
            WarmupLearningRate = WarmupLearningRate * scale,
        };
    }

    /// <summary>Throws <see cref="ArgumentException"/> naming the first value out of range.</summary>
    public void Validate()
    {
        static void Check(bool ok, string name, object value, string rule)
        {
            if (!ok)
                throw new ArgumentException($"TrainingRecipe.{name} = {value}: {rule}.");
        }

        Check(Epochs >= 1, nameof(Epochs), Epochs, "must be at least 1");
        Check(BatchSize >= 1, nameof(BatchSize), BatchSize, "must be at least 1");
        Check(BaseLearningRate > 0, nameof(BaseLearningRate), BaseLearningRate, "must be positive");
        Check(MinLearningRate >= 0, nameof(MinLearningRate), MinLearningRate, "must not be negative");
        Check(WarmupLearningRate >= 0, nameof(WarmupLearningRate), WarmupLearningRate, "must not be negative");
        Check(WarmupEpochs >= 0 && WarmupEpochs < Epochs, nameof(WarmupEpochs), WarmupEpochs, "must be at least 0 and less than Epochs");
        Check(WeightDecay >= 0, nameof(WeightDecay), WeightDecay, "must not be negative");
        Check(AdamEpsilon >= 0, nameof(AdamEpsilon), AdamEpsilon, "must not be negative");
        Check(AdamBeta1 is >= 0 and < 1, nameof(AdamBeta1), AdamBeta1, "must be in [0, 1)");
        Check(AdamBeta2 is >= 0 and < 1, nameof(AdamBeta2), AdamBeta2, "must be in [0, 1)");
        Check(DropPath is >= 0 and < 1, nameof(DropPath), DropPath, "must be in [0, 1)");
        Check(GradientClipMode == GradientClipMode.None || GradientClip > 0, nameof(GradientClip), GradientClip, "must be positive when clipping");
        Check(MixupAlpha >= 0, nameof(MixupAlpha), MixupAlpha, "must not be negative");
        Check(CutmixAlpha >= 0, nameof(CutmixAlpha), CutmixAlpha, "must not be negative");
        Check(MixupProbability is >= 0 and <= 1, nameof(MixupProbability), MixupProbability, "must be in [0, 1]");
        Check(MixupSwitchProbability is >= 0 and <= 1, nameof(MixupSwitchProbability), MixupSwitchProbability, "must be in [0, 1]");
        Check(LabelSmoothing is >= 0 and < 1, nameof(LabelSmoothing), LabelSmoothing, "must be in [0, 1)");
        Check(EmaDecay is null or (>= 0 and < 1), nameof(EmaDecay), EmaDecay ?? 0, "must be in [0, 1) or null");
        Check(DistillationAlpha is >= 0 and <= 1, nameof(DistillationAlpha), DistillationAlpha, "must be in [0, 1]");
        Check(DistillationTau > 0, nameof(DistillationTau), DistillationTau, "must be positive");
        Check(StartImageSize is not { } start || Modeling.EfficientVitConfig.IsResizableImageSize(start), nameof(StartImageSize), StartImageSize ?? 0, "must be a multiple of 16 from 32, or null");
        Check(StartImageSize is null || IsFullSizeEpochCountValid(FullSizeEpochs, Epochs), nameof(FullSizeEpochs), FullSizeEpochs, "must be at least 1 and less than Epochs with a StartImageSize");
    }
}

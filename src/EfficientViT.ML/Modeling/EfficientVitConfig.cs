namespace EfficientViT.ML.Modeling;

/// <summary>
/// The hyper-parameters that define an EfficientViT network. <see cref="For"/> gives the paper's
/// variants; the record can also describe custom widths and depths.
/// </summary>
/// <param name="EmbedDims">Channels of the three stages.</param>
/// <param name="Depths">Attention blocks per stage.</param>
/// <param name="NumHeads">Attention heads per stage.</param>
/// <param name="Kernels">Depthwise kernel applied to the queries of head i (at least as many as the most heads of a stage).</param>
/// <param name="ImageSize">Input height and width in pixels.</param>
/// <param name="NumClasses">Classifier outputs; 0 builds the backbone without a head.</param>
/// <param name="Distillation">Adds the <c>head_dist</c> classifier used for knowledge distillation.</param>
/// <param name="KeyDim">Query/key channels per head.</param>
/// <param name="WindowSize">Side of the local attention window.</param>
/// <param name="PatchSize">Down-sampling of the patch embedding.</param>
/// <param name="DropPathRate">Stochastic-depth rate, increasing linearly from 0 to this value over the blocks.</param>
public sealed record EfficientVitConfig(
    int[] EmbedDims,
    int[] Depths,
    int[] NumHeads,
    int[] Kernels,
    int ImageSize = 224,
    int NumClasses = 1000,
    bool Distillation = false,
    int KeyDim = 16,
    int WindowSize = 7,
    int PatchSize = 16,
    double DropPathRate = 0.0)
{
    /// <summary>Number of stages of every EfficientViT.</summary>
    public const int StageCount = 3;

    /// <summary>The configuration of a paper variant.</summary>
    /// <param name="variant">Which variant.</param>
    /// <param name="imageSize">Input height and width; a multiple of <see cref="PatchSize"/> is usual but not required.</param>
    /// <param name="numClasses">Classifier outputs (1000 for ImageNet; 0 for a backbone without head).</param>
    /// <param name="distillation">Whether to add the distillation head.</param>
    public static EfficientVitConfig For(EfficientVitVariant variant, int imageSize = 224, int numClasses = 1000, bool distillation = false) =>
        (variant switch
        {
            EfficientVitVariant.M0 => new EfficientVitConfig([64, 128, 192], [1, 2, 3], [4, 4, 4], [5, 5, 5, 5]),
            EfficientVitVariant.M1 => new EfficientVitConfig([128, 144, 192], [1, 2, 3], [2, 3, 3], [7, 5, 3, 3]),
            EfficientVitVariant.M2 => new EfficientVitConfig([128, 192, 224], [1, 2, 3], [4, 3, 2], [7, 5, 3, 3]),
            EfficientVitVariant.M3 => new EfficientVitConfig([128, 240, 320], [1, 2, 3], [4, 3, 4], [5, 5, 5, 5]),
            EfficientVitVariant.M4 => new EfficientVitConfig([128, 256, 384], [1, 2, 3], [4, 4, 4], [7, 5, 3, 3]),
            EfficientVitVariant.M5 => new EfficientVitConfig([192, 288, 384], [1, 3, 4], [3, 3, 4], [7, 5, 3, 3]),
            _ => throw new ArgumentOutOfRangeException(nameof(variant), variant, "Unknown EfficientViT variant; expected M0 to M5."),
        }) with { ImageSize = imageSize, NumClasses = numClasses, Distillation = distillation };

    /// <summary>"M0".."M5" when this is a paper variant's architecture (at any size and head), else "custom".</summary>
    public string VariantName
    {
        get
        {
            foreach (var variant in Enum.GetValues<EfficientVitVariant>())
            {
                var reference = For(variant);
                if (reference.EmbedDims.SequenceEqual(EmbedDims) && reference.Depths.SequenceEqual(Depths)
                    && reference.NumHeads.SequenceEqual(NumHeads) && reference.Kernels.SequenceEqual(Kernels)
                    && reference.KeyDim == KeyDim && reference.WindowSize == WindowSize)
                    return variant.ToString();
            }
            return "custom";
        }
    }

    /// <summary>Parses "M0".."M5" or "efficientvit_m0".."efficientvit_m5" (case-insensitive).</summary>
    public static EfficientVitVariant ParseVariant(string name)
    {
        var trimmed = name.Trim();
        if (trimmed.StartsWith("efficientvit_", StringComparison.OrdinalIgnoreCase))
            trimmed = trimmed["efficientvit_".Length..];
        if (Enum.TryParse<EfficientVitVariant>(trimmed, ignoreCase: true, out var variant) && Enum.IsDefined(variant))
            return variant;
        throw new ArgumentException($"Unknown EfficientViT variant '{name}'; expected one of M0, M1, M2, M3, M4, M5.", nameof(name));
    }

    /// <summary>Width of the pooled feature vector (the last stage's channels).</summary>
    public int FeatureDim => EmbedDims[^1];

    /// <summary>Ratio of value to key channels per head of stage <paramref name="stage"/>: embed_dim / (key_dim * heads).</summary>
    public double AttentionRatio(int stage) => EmbedDims[stage] / (double)(KeyDim * NumHeads[stage]);

    /// <summary>Value channels per head of stage <paramref name="stage"/>, truncated as the official code does.</summary>
    public int ValueDim(int stage) => (int)(AttentionRatio(stage) * KeyDim);

    /// <summary>Side of the feature map of each stage: image/patch, then halved (rounding up) per stage.</summary>
    public int Resolution(int stage)
    {
        var resolution = ImageSize / PatchSize;
        for (var i = 0; i < stage; i++)
            resolution = (resolution - 1) / 2 + 1;
        return resolution;
    }

    /// <summary>
    /// Side of stage <paramref name="stage"/>'s attention window, min(<see cref="WindowSize"/>, its resolution):
    /// the side of its attention bias tables, which a checkpoint made at another input size may need resampled.
    /// </summary>
    public int AttentionWindow(int stage) => Math.Min(WindowSize, Resolution(stage));

    /// <summary>
    /// Whether a network can be resized to, or run at, input side <paramref name="imageSize"/>: a multiple of 16 (the
    /// patch embedding's stride) from 32.
    /// </summary>
    public static bool IsResizableImageSize(int imageSize) => imageSize >= 32 && imageSize % 16 == 0;

    /// <summary>
    /// The largest input side accepted where a size is given (options, a checkpoint's record): the model, its exported
    /// graph and the featurizer allocate by it, and ML.NET's image steps fail past it with messages that name neither.
    /// </summary>
    internal const int MaxImageSize = 4096;

    /// <summary>Down-sampling of each stage's output relative to the input image: 16, 32, 64.</summary>
    public int Stride(int stage) => PatchSize << stage;

    /// <summary>Checks that the numbers describe a buildable network, naming the first that does not.</summary>
    public void Validate()
    {
        if (EmbedDims.Length != StageCount || Depths.Length != StageCount || NumHeads.Length != StageCount)
            throw new ArgumentException($"EmbedDims, Depths and NumHeads need {StageCount} entries each; found {EmbedDims.Length}, {Depths.Length}, {NumHeads.Length}.");
        if (Kernels.Any(k => k <= 0 || k % 2 == 0))
            throw new ArgumentException($"Kernels must be positive odd sizes; found [{string.Join(", ", Kernels)}].");
        if (Kernels.Length < NumHeads.Max())
            throw new ArgumentException($"Kernels needs one size per head ({NumHeads.Max()}); found {Kernels.Length}.");
        if (ImageSize < PatchSize)
            throw new ArgumentException($"ImageSize {ImageSize} is smaller than the patch size {PatchSize}.");
        if (NumClasses < 0)
            throw new ArgumentException($"NumClasses must be 0 (no head) or positive; found {NumClasses}.");
        if (DropPathRate is < 0 or >= 1)
            throw new ArgumentException($"DropPathRate must be in [0, 1); found {DropPathRate}.");
        for (var stage = 0; stage < StageCount; stage++)
        {
            if (EmbedDims[stage] % NumHeads[stage] != 0)
                throw new ArgumentException($"Stage {stage}: EmbedDim {EmbedDims[stage]} is not divisible by {NumHeads[stage]} heads.");
            if (ValueDim(stage) < 1)
                throw new ArgumentException($"Stage {stage}: EmbedDim {EmbedDims[stage]} gives no value channels for {NumHeads[stage]} heads of key dim {KeyDim}.");
        }
    }
}

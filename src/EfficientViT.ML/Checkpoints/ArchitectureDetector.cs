using System.Text.RegularExpressions;
using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Recognises the EfficientViT architecture of a state dict (official names) from its tensor shapes:
/// widths from the depthwise convs, depths from the attention blocks, heads from the per-head qkv
/// convs, kernels from the query convs, classes from the head, and the input size from the attention
/// bias tables.
/// </summary>
internal static partial class ArchitectureDetector
{
    private static readonly int[] CandidateImageSizes = Enumerable.Range(2, 63).Select(i => i * 16).ToArray();

    /// <summary>The input sizes people train at, in the order the detection prefers them after 224.</summary>
    private static readonly int[] CommonImageSizes = [160, 192, 256, 288, 320, 384, 448, 512];

    /// <summary>
    /// The architecture of <paramref name="shapes"/> at the input size its attention bias tables were made
    /// for: <paramref name="imageSize"/> when given (it must fit the tables), else by this rule, since
    /// several sizes share tables (each stage's window side is min(7, its resolution)): 224 if the tables fit
    /// it; else the smallest of 160, 192, 256, 288, 320, 384, 448 and 512 they fit; else the smallest
    /// multiple of 16 from 32 to 1024 they fit. Sizes the tables cannot tell apart, and the one taken:
    /// 112–128 (112), 144–160 (160), 176–192 (192), 208–256 (224), 272–320 (288), 336–384 (384), 400 and up
    /// (448); a file made at 320 or 512 that does not record its size needs the size from its user.
    /// </summary>
    public static EfficientVitConfig Detect(IReadOnlyDictionary<string, long[]> shapes, string source, int? imageSize = null)
    {
        long[] Shape(string key) => shapes.TryGetValue(key, out var shape)
            ? shape
            : throw new CheckpointException($"{source}: not an EfficientViT checkpoint: key '{key}' is missing (found {shapes.Count} keys, e.g. {string.Join(", ", shapes.Keys.Take(3))}).");

        var dims = new int[EfficientVitConfig.StageCount];
        var depths = new int[EfficientVitConfig.StageCount];
        var heads = new int[EfficientVitConfig.StageCount];
        for (var stage = 0; stage < EfficientVitConfig.StageCount; stage++)
        {
            var blocks = shapes.Keys
                .Select(k => AttentionBlockKey().Match(k))
                .Where(m => m.Success && m.Groups[1].Value == (stage + 1).ToString())
                .Select(m => int.Parse(m.Groups[2].Value))
                .Distinct().Order().ToArray();
            if (blocks.Length == 0)
                throw new CheckpointException($"{source}: not an EfficientViT checkpoint: no attention blocks found under 'blocks{stage + 1}.'.");
            var first = $"blocks{stage + 1}.{blocks[0]}";
            depths[stage] = blocks.Length;
            dims[stage] = (int)Shape($"{first}.dw0.m.c.weight")[0];
            heads[stage] = shapes.Keys.Count(k => k.StartsWith($"{first}.mixer.m.attn.qkvs.", StringComparison.Ordinal) && k.EndsWith(".c.weight", StringComparison.Ordinal));
        }

        var maxHeads = heads.Max();
        var headsStage = Array.IndexOf(heads, maxHeads);
        var firstBlock = headsStage == 0 ? "blocks1.0" : $"blocks{headsStage + 1}.3";
        var kernels = Enumerable.Range(0, maxHeads).Select(i => (int)Shape($"{firstBlock}.mixer.m.attn.dws.{i}.c.weight")[2]).ToArray();
        var keyDim = (int)Shape($"{firstBlock}.mixer.m.attn.dws.0.c.weight")[0];

        var numClasses = shapes.TryGetValue("head.l.weight", out var head) ? (int)head[0] : 0;
        var distillation = shapes.ContainsKey("head_dist.l.weight");

        var config = MatchVariant(dims, depths, heads, kernels) with { NumClasses = numClasses, Distillation = distillation, KeyDim = keyDim };
        var biasShapes = Enumerable.Range(0, EfficientVitConfig.StageCount)
            .Select(stage => Shape($"blocks{stage + 1}.{(stage == 0 ? 0 : 3)}.mixer.m.attn.attention_biases")[1])
            .ToArray();

        if (imageSize is { } requested)
        {
            var expected = BiasOffsets(config with { ImageSize = requested });
            if (!expected.SequenceEqual(biasShapes))
                throw new CheckpointException($"{source}: the attention bias tables hold [{string.Join(", ", biasShapes)}] offsets per stage, which fits no {requested}x{requested} input (that needs [{string.Join(", ", expected)}]); the checkpoint was made for another input size.");
            return config with { ImageSize = requested };
        }
        var fitting = CandidateImageSizes.Where(size => BiasOffsets(config with { ImageSize = size }).SequenceEqual(biasShapes)).ToArray();
        if (fitting.Length == 0)
            throw new CheckpointException($"{source}: the attention bias tables hold [{string.Join(", ", biasShapes)}] offsets per stage, which fits no input size from 32 to 1024.");
        var preferred = fitting.Contains(224) ? 224 : CommonImageSizes.Where(fitting.Contains).DefaultIfEmpty(fitting[0]).First();
        return config with { ImageSize = preferred };
    }

    /// <summary>Offsets per head of each stage's attention bias table at the config's input size.</summary>
    internal static long[] BiasOffsets(EfficientVitConfig config) =>
        Enumerable.Range(0, EfficientVitConfig.StageCount)
            .Select(stage => (long)AttentionBiasIndex.OffsetCount(config.AttentionWindow(stage)))
            .ToArray();

    private static EfficientVitConfig MatchVariant(int[] dims, int[] depths, int[] heads, int[] kernels)
    {
        foreach (var variant in Enum.GetValues<EfficientVitVariant>())
        {
            var reference = EfficientVitConfig.For(variant);
            if (reference.EmbedDims.SequenceEqual(dims) && reference.Depths.SequenceEqual(depths)
                && reference.NumHeads.SequenceEqual(heads) && reference.Kernels.Take(kernels.Length).SequenceEqual(kernels))
                return reference;
        }
        return new EfficientVitConfig(dims, depths, heads, kernels);
    }

    [GeneratedRegex(@"^blocks([123])\.(\d+)\.mixer\.")]
    private static partial Regex AttentionBlockKey();
}

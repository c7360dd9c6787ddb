using System.Text.RegularExpressions;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Renames state_dict keys between the official EfficientViT names (which this project's model uses)
/// and timm's <c>efficientvit_msra</c> names. The mapping is deterministic; timm keeps neither the
/// <c>attention_bias_idxs</c> tables (they are derived) nor a distillation head.
/// </summary>
internal static partial class TimmKeyMapping
{
    /// <summary>Whether an official key has no timm counterpart.</summary>
    public static bool IsDroppedInTimm(string officialKey) =>
        officialKey.EndsWith(".attention_bias_idxs", StringComparison.Ordinal) || officialKey.StartsWith("head_dist.", StringComparison.Ordinal);

    /// <summary>Whether a key list uses timm's names (its blocks live under <c>stages.</c>).</summary>
    public static bool LooksLikeTimm(IEnumerable<string> keys) => keys.Any(k => k.StartsWith("stages.", StringComparison.Ordinal));

    /// <summary>The timm name of an official key (see <see cref="IsDroppedInTimm"/> for keys timm lacks).</summary>
    public static string ToTimm(string officialKey)
    {
        var key = OfficialPatchEmbed().Replace(officialKey, m => $"patch_embed.conv{int.Parse(m.Groups[1].Value) / 2 + 1}.");
        key = OfficialBlocks().Replace(key, m =>
        {
            var stage = int.Parse(m.Groups[1].Value) - 1;
            var index = int.Parse(m.Groups[2].Value);
            if (stage == 0)
                return $"stages.0.blocks.{index}.";
            return index switch
            {
                0 => $"stages.{stage}.downsample.res1.",
                1 => $"stages.{stage}.downsample.patchmerge.",
                2 => $"stages.{stage}.downsample.res2.",
                _ => $"stages.{stage}.blocks.{index - 3}.",
            };
        });
        key = key.Replace(".c.", ".conv.", StringComparison.Ordinal);
        return key.StartsWith("head.l.", StringComparison.Ordinal) ? "head.linear." + key["head.l.".Length..] : key;
    }

    /// <summary>The official name of a timm key.</summary>
    public static string ToOfficial(string timmKey)
    {
        var key = TimmPatchEmbed().Replace(timmKey, m => $"patch_embed.{(int.Parse(m.Groups[1].Value) - 1) * 2}.");
        key = TimmStages().Replace(key, m =>
        {
            var stage = int.Parse(m.Groups[1].Value);
            var part = m.Groups[2].Value;
            var index = m.Groups[3].Success ? int.Parse(m.Groups[3].Value) : 0;
            var officialIndex = part switch
            {
                "downsample.res1" => 0,
                "downsample.patchmerge" => 1,
                "downsample.res2" => 2,
                _ => stage == 0 ? index : index + 3,
            };
            return $"blocks{stage + 1}.{officialIndex}.";
        });
        key = key.Replace(".conv.", ".c.", StringComparison.Ordinal);
        return key.StartsWith("head.linear.", StringComparison.Ordinal) ? "head.l." + key["head.linear.".Length..] : key;
    }

    /// <summary>Renames a whole official state dict to timm's names, leaving out what timm does not store.</summary>
    public static Dictionary<string, TValue> ToTimm<TValue>(IReadOnlyDictionary<string, TValue> official) =>
        official.Where(kv => !IsDroppedInTimm(kv.Key)).ToDictionary(kv => ToTimm(kv.Key), kv => kv.Value);

    /// <summary>Renames a whole timm state dict to the official names.</summary>
    public static Dictionary<string, TValue> ToOfficial<TValue>(IReadOnlyDictionary<string, TValue> timm) =>
        timm.ToDictionary(kv => ToOfficial(kv.Key), kv => kv.Value);

    [GeneratedRegex(@"^patch_embed\.([0246])\.")]
    private static partial Regex OfficialPatchEmbed();

    [GeneratedRegex(@"^blocks([123])\.(\d+)\.")]
    private static partial Regex OfficialBlocks();

    [GeneratedRegex(@"^patch_embed\.conv([1234])\.")]
    private static partial Regex TimmPatchEmbed();

    [GeneratedRegex(@"^stages\.(\d)\.(downsample\.res1|downsample\.patchmerge|downsample\.res2|blocks\.(\d+))\.")]
    private static partial Regex TimmStages();
}

using EfficientViT.ML.Modeling;
using TorchSharp;
using static TorchSharp.torch;

namespace EfficientViT.ML.Checkpoints;

/// <summary>
/// Strict copy of an official-named state dict into a model: every key must be present with the
/// model's shape, and no other key may appear; otherwise the error lists every difference.
/// </summary>
internal static class StateDictLoader
{
    private const int MaxListed = 20;

    public static void Load(EfficientVit model, IReadOnlyDictionary<string, Tensor> source, string file, bool excludeHead)
    {
        if (model.IsFused)
            throw new InvalidOperationException("Load weights before fusing BatchNorm: a fused model has other keys.");

        // Views and comparisons made here are temporary; the model's own tensors are not in this scope.
        using var scope = NewDisposeScope();
        var target = model.state_dict();
        bool Skipped(string key) => excludeHead && IsHeadKey(key);

        var missing = target.Keys.Where(k => !Skipped(k) && !source.ContainsKey(k) && !IsDerived(k)).ToList();
        var unexpected = source.Keys.Where(k => !Skipped(k) && !target.ContainsKey(k)).ToList();
        var mismatched = new List<string>();
        var nonFinite = new List<string>();
        var prepared = new List<(Tensor Target, Tensor Value)>();
        foreach (var (key, value) in source)
        {
            if (Skipped(key) || !target.TryGetValue(key, out var destination))
                continue;
            var reshaped = AsTargetShape(value, destination.shape);
            if (reshaped is null)
                mismatched.Add($"{key}: model expects ({Join(destination.shape)}), file has ({Join(value.shape)})");
            else if (value.is_floating_point() && NonFiniteCount(value) is > 0 and var count)
                // One NaN weight makes every output NaN.
                nonFinite.Add($"{key} ({count:N0} of {value.numel():N0} values)");
            else if (key.EndsWith(".attention_bias_idxs", StringComparison.Ordinal) && !reshaped.to_type(ScalarType.Int64).eq(destination).all().item<bool>())
                mismatched.Add($"{key}: the relative-position table differs from the one of a {(int)Math.Sqrt(destination.shape[0])}x{(int)Math.Sqrt(destination.shape[0])} window");
            else
                prepared.Add((destination, reshaped));
        }

        if (missing.Count + unexpected.Count + mismatched.Count > 0)
        {
            // One line, so that it reads as one error in a log or after the CLI's "error:".
            var sections = new[] { Section("missing keys", missing), Section("unexpected keys", unexpected), Section("shape mismatches", mismatched) };
            var message = $"{file}: the checkpoint does not fit EfficientViT-{model.Config.VariantName} " +
                $"({model.Config.NumClasses} classes, {model.Config.ImageSize}x{model.Config.ImageSize}): " +
                string.Join("; ", sections.Where(s => s.Length > 0)) + ".";
            if (!excludeHead && (missing.Concat(unexpected).Concat(mismatched).Any(IsHeadKey)))
                message += " To reuse the backbone with another classifier, load with ExcludeHead = true.";
            throw new CheckpointException(message);
        }
        ThrowIfNonFinite(nonFinite, file);

        using (no_grad())
        {
            foreach (var (destination, value) in prepared)
                destination.copy_(value);
        }
        model.InvalidateCaches();
    }

    /// <summary>Refuses <paramref name="tensors"/> (read from <paramref name="file"/>) when a floating-point one holds NaN or infinite values, naming each.</summary>
    public static void CheckFinite(IReadOnlyDictionary<string, Tensor> tensors, string file)
    {
        using var scope = NewDisposeScope();
        ThrowIfNonFinite(tensors.Where(t => t.Value.is_floating_point() && NonFiniteCount(t.Value) > 0)
            .Select(t => $"{t.Key} ({NonFiniteCount(t.Value):N0} of {t.Value.numel():N0} values)").ToList(), file);
    }

    private static void ThrowIfNonFinite(List<string> nonFinite, string file)
    {
        if (nonFinite.Count > 0)
            throw new CheckpointException($"{file}: refusing weights that are NaN or infinite, which make every output NaN: {Section("tensor(s) holding them", nonFinite)}.");
    }

    /// <summary>Keys of the classifier heads.</summary>
    public static bool IsHeadKey(string key) =>
        key.StartsWith("head.", StringComparison.Ordinal) || key.StartsWith("head_dist.", StringComparison.Ordinal);

    // Derived from the architecture, so files may leave them out (timm does).
    private static bool IsDerived(string key) =>
        key.EndsWith(".attention_bias_idxs", StringComparison.Ordinal) || key.EndsWith(".num_batches_tracked", StringComparison.Ordinal);

    // The official loader turns 2-D 1x1 conv weights into 4-D by appending two singleton dims.
    private static Tensor? AsTargetShape(Tensor value, long[] shape)
    {
        if (value.shape.SequenceEqual(shape))
            return value;
        if (value.dim() + 2 == shape.Length && shape[^1] == 1 && shape[^2] == 1 && value.shape.SequenceEqual(shape[..^2]))
            return value.view(shape);
        return null;
    }

    private static long NonFiniteCount(Tensor value) => value.isfinite().logical_not().sum().item<long>();

    private static string Section(string title, List<string> items) =>
        items.Count == 0 ? "" :
        $"{items.Count} {title}: {string.Join(", ", items.Take(MaxListed))}{(items.Count > MaxListed ? $", … ({items.Count - MaxListed} more)" : "")}";

    private static string Join(long[] shape) => string.Join(", ", shape);
}

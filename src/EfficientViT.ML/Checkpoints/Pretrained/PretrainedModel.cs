using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Checkpoints.Pretrained;

/// <summary>
/// One downloadable set of weights: where it comes from, the file it is cached as, and what it must hold.
/// The library's own are in <see cref="EfficientVitPretrained.Models"/>; an application may describe its own
/// (an internal server, its fine-tuned weights) and pass it to <see cref="EfficientVitPretrained.Resolve(PretrainedModel, PretrainedWeightsOptions?)"/>.
/// </summary>
public sealed record PretrainedModel
{
    /// <summary>The name users pass (<c>m0</c>, <c>efficientvit_m0.r224_in1k</c>); matched without regard to case.</summary>
    public required string Name { get; init; }

    /// <summary>Other names accepted for the same weights (for timm's: the Hugging Face repository, <c>timm/efficientvit_m0.r224_in1k</c>).</summary>
    public IReadOnlyList<string> Aliases { get; init; } = [];

    /// <summary>The file name in the cache, in a mirror (<c>EFFICIENTVIT_WEIGHTS_URL</c>) and in a weights package.</summary>
    public required string FileName { get; init; }

    /// <summary>Where the file is downloaded from when no mirror is set.</summary>
    public required Uri Url { get; init; }

    /// <summary>The architecture the file must hold (checked by a strict load after every download).</summary>
    public required EfficientVitVariant Variant { get; init; }

    /// <summary>The checkpoint format the file must be in.</summary>
    public required CheckpointFormat Format { get; init; }

    /// <summary>The classes of its classifier (1000 for ImageNet-1k).</summary>
    public int NumClasses { get; init; } = 1000;

    /// <summary>The file's size in bytes when known in advance; null: checked against the server's Content-Length, then covered by the recorded SHA-256.</summary>
    public long? Size { get; init; }

    /// <summary>
    /// The file's SHA-256 (lower-case hex) when known in advance. Null: the hash of the first verified download is
    /// recorded beside the cached file and every later use is checked against that record.
    /// </summary>
    public string? Sha256 { get; init; }

    /// <summary>Who publishes the weights and what they were trained on, for listings and documentation.</summary>
    public string Source { get; init; } = "";

    /// <summary>The licence of the weights as their publisher states it.</summary>
    public string Licence { get; init; } = "";

    /// <summary>Whether <paramref name="value"/> is this model's name or one of its aliases (case-insensitive).</summary>
    public bool IsCalled(string value) =>
        string.Equals(Name, value, StringComparison.OrdinalIgnoreCase) || Aliases.Any(a => string.Equals(a, value, StringComparison.OrdinalIgnoreCase));
}

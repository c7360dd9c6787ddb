using EfficientViT.ML.Modeling;

namespace EfficientViT.ML.Checkpoints;

/// <summary>How <see cref="EfficientVitCheckpoint.Load(string, CheckpointLoadOptions?)"/> builds and fills the model.</summary>
public sealed class CheckpointLoadOptions
{
    /// <summary>The variant the caller expects; loading fails if the file holds another. Null: whatever the file holds.</summary>
    public EfficientVitVariant? ExpectedVariant { get; set; }

    /// <summary>
    /// Input size, a multiple of 16. Null: the size the file records, else the one its attention bias tables
    /// were made for (see <see cref="ArchitectureDetector.Detect"/>). Another size works too: each stage's table
    /// whose window changes is resampled (<see cref="BiasResampling"/>); tables that fit stay untouched.
    /// </summary>
    public int? ImageSize { get; set; }

    /// <summary>How attention bias tables are fitted to another <see cref="ImageSize"/>. Default: interpolated, as timm does.</summary>
    public AttentionBiasResampling BiasResampling { get; set; } = AttentionBiasResampling.Interpolate;

    /// <summary>
    /// Classes of the model to build. Null: as in the file. A different number requires
    /// <see cref="ExcludeHead"/>, which then leaves a freshly initialised head of this size.
    /// </summary>
    public int? NumClasses { get; set; }

    /// <summary>Loads the backbone only and leaves the classifier(s) freshly initialised, e.g. to fine-tune an ImageNet checkpoint on other classes.</summary>
    public bool ExcludeHead { get; set; }
}

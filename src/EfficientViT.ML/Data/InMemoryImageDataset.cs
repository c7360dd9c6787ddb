namespace EfficientViT.ML.Data;

/// <summary>Images already in memory (for example read from an ML.NET data view), with their class names.</summary>
public sealed class InMemoryImageDataset : IImageDataset
{
    private readonly IReadOnlyList<ImageSample> samples;

    /// <summary>Wraps <paramref name="samples"/>; every label must index <paramref name="classNames"/>.</summary>
    public InMemoryImageDataset(IReadOnlyList<ImageSample> samples, IReadOnlyList<string> classNames)
    {
        var bad = samples.FirstOrDefault(s => s.Label < 0 || s.Label >= classNames.Count);
        if (bad is not null)
            throw new ArgumentException($"{bad.Source} has label {bad.Label}; there are {classNames.Count} classes.", nameof(samples));
        this.samples = samples;
        ClassNames = classNames;
    }

    /// <inheritdoc/>
    public int Count => samples.Count;

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc/>
    public ImageSample Get(int index) => samples[index];

    /// <inheritdoc/>
    public int LabelOf(int index) => samples[index].Label;
}

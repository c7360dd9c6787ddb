namespace EfficientViT.ML.Data;

/// <summary>
/// The samples of some classes of a data set, relabelled 0..k−1 in the order the classes are given: to
/// train on part of a data set's classes (e.g. pre-train on some, transfer to the others).
/// </summary>
public sealed class ClassSubsetDataset : IImageDataset
{
    private readonly SubsetDataset kept;
    private readonly int[] newLabelOf;

    /// <summary>Keeps the samples of <paramref name="classNames"/>.</summary>
    /// <param name="dataset">The full data set.</param>
    /// <param name="classNames">Names from <paramref name="dataset"/>'s class names; their order gives the new labels.</param>
    /// <exception cref="ArgumentException">A name is not a class of the data set, or appears twice.</exception>
    public ClassSubsetDataset(IImageDataset dataset, IEnumerable<string> classNames)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(classNames);
        ClassNames = classNames.ToArray();
        if (ClassNames.Count == 0)
            throw new ArgumentException("Keep at least one class.", nameof(classNames));
        var oldNames = dataset.ClassNames.ToList();
        newLabelOf = Enumerable.Repeat(-1, oldNames.Count).ToArray();
        for (var i = 0; i < ClassNames.Count; i++)
        {
            var old = oldNames.IndexOf(ClassNames[i]);
            if (old < 0)
                throw new ArgumentException($"'{ClassNames[i]}' is not a class of the data set; its classes are {string.Join(", ", dataset.ClassNames.Select(n => $"'{n}'"))}.", nameof(classNames));
            if (newLabelOf[old] >= 0)
                throw new ArgumentException($"class '{ClassNames[i]}' is listed twice.", nameof(classNames));
            newLabelOf[old] = i;
        }
        kept = new SubsetDataset(dataset, Enumerable.Range(0, dataset.Count).Where(i => newLabelOf[dataset.LabelOf(i)] >= 0));
    }

    /// <inheritdoc/>
    public int Count => kept.Count;

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames { get; }

    /// <inheritdoc/>
    public ImageSample Get(int index)
    {
        var sample = kept.Get(index);
        return new ImageSample(sample.Pixels, sample.Width, sample.Height, sample.Channels, newLabelOf[sample.Label], sample.Source);
    }

    /// <inheritdoc/>
    public int LabelOf(int index) => newLabelOf[kept.LabelOf(index)];

}

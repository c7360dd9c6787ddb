namespace EfficientViT.ML.Data;

/// <summary>A view of some samples of another data set, in the order of an index list (same class names and labels).</summary>
public sealed class SubsetDataset : IImageDataset
{
    private readonly int[] indices;

    /// <summary>Creates the view; the indices are copied and checked.</summary>
    /// <param name="dataset">The data set to take samples from.</param>
    /// <param name="indices">Indices into <paramref name="dataset"/>; sample i of the subset is <c>dataset.Get(indices[i])</c>.</param>
    public SubsetDataset(IImageDataset dataset, IEnumerable<int> indices)
    {
        ArgumentNullException.ThrowIfNull(dataset);
        ArgumentNullException.ThrowIfNull(indices);
        Dataset = dataset;
        this.indices = indices.ToArray();
        foreach (var index in this.indices)
        {
            if ((uint)index >= (uint)dataset.Count)
                throw new ArgumentOutOfRangeException(nameof(indices), index, $"the underlying data set has {dataset.Count} samples");
        }
    }

    /// <summary>The underlying data set.</summary>
    public IImageDataset Dataset { get; }

    /// <summary>The underlying indices, in subset order.</summary>
    public IReadOnlyList<int> Indices => indices;

    /// <inheritdoc/>
    public int Count => indices.Length;

    /// <inheritdoc/>
    public IReadOnlyList<string> ClassNames => Dataset.ClassNames;

    /// <inheritdoc/>
    public ImageSample Get(int index) => Dataset.Get(Map(index));

    /// <inheritdoc/>
    public int LabelOf(int index) => Dataset.LabelOf(Map(index));

    private int Map(int index)
    {
        if ((uint)index >= (uint)indices.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the subset has {indices.Length} samples");
        return indices[index];
    }
}

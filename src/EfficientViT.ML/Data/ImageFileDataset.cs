namespace EfficientViT.ML.Data;

/// <summary>
/// A data set of image files with known labels, decoded to RGB when read: what image folders and CSV
/// manifests have in common.
/// </summary>
public abstract class ImageFileDataset : IImageDataset
{
    private readonly string[] paths;
    private readonly int[] labels;
    private readonly string[] classNames;

    /// <summary>Holds the files (with their labels, indices into <paramref name="classNames"/>) and the skipped paths.</summary>
    private protected ImageFileDataset(string[] classNames, List<(string Path, int Label)> files, List<string> skipped)
    {
        this.classNames = classNames;
        paths = files.Select(f => f.Path).ToArray();
        labels = files.Select(f => f.Label).ToArray();
        SkippedPaths = skipped;
    }

    /// <inheritdoc/>
    public int Count => paths.Length;

    /// <summary>The class names, sorted ordinally; a label is an index into this list.</summary>
    public IReadOnlyList<string> ClassNames => classNames;

    /// <summary>The files left out at load because they could not be decoded (only with <see cref="CorruptImagePolicy.Skip"/>).</summary>
    public IReadOnlyList<string> SkippedPaths { get; }

    /// <summary>The image file of the sample at <paramref name="index"/>.</summary>
    public string PathOf(int index)
    {
        CheckIndex(index);
        return paths[index];
    }

    /// <inheritdoc/>
    /// <exception cref="InvalidDataException">The file cannot be decoded; the message names it.</exception>
    public ImageSample Get(int index)
    {
        CheckIndex(index);
        return ImageFiles.Decode(paths[index], labels[index]);
    }

    /// <inheritdoc/>
    public int LabelOf(int index)
    {
        CheckIndex(index);
        return labels[index];
    }

    /// <summary>The first class left without files, or −1: keeping such a class would silently change what a model can learn.</summary>
    private protected static int FirstEmptyClass(List<(string Path, int Label)> files, int classCount)
    {
        var perClass = new int[classCount];
        foreach (var (_, label) in files)
            perClass[label]++;
        return Array.IndexOf(perClass, 0);
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)paths.Length)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the data set has {paths.Length} samples");
    }
}

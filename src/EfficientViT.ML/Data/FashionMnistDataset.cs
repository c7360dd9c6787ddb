namespace EfficientViT.ML.Data;

/// <summary>
/// Fashion-MNIST (Zalando): 28×28 grayscale images of clothes in ten classes, 60,000 for training and
/// 10,000 for testing, read from the four gzipped idx files into memory.
/// </summary>
public sealed class FashionMnistDataset : IImageDataset
{
    /// <summary>Where the Debian package <c>dataset-fashion-mnist</c> installs the files.</summary>
    public const string DefaultDirectory = "/usr/share/datasets/fashion-mnist";

    private static readonly string[] Names =
        ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];

    private readonly byte[] images;
    private readonly byte[] labels;
    private readonly string sourcePrefix;

    private FashionMnistDataset(byte[] images, byte[] labels, int rows, int cols, string sourcePrefix)
    {
        this.images = images;
        this.labels = labels;
        Rows = rows;
        Cols = cols;
        this.sourcePrefix = sourcePrefix;
    }

    /// <inheritdoc/>
    public int Count => labels.Length;

    /// <summary>The ten Fashion-MNIST class names, in label order.</summary>
    public IReadOnlyList<string> ClassNames => Names;

    /// <summary>Image height (28 for Fashion-MNIST).</summary>
    public int Rows { get; }

    /// <summary>Image width (28 for Fashion-MNIST).</summary>
    public int Cols { get; }

    /// <summary>The file names of a split: <c>train-images-idx3-ubyte.gz</c> and <c>train-labels-idx1-ubyte.gz</c>, or <c>t10k-…</c>.</summary>
    public static (string Images, string Labels) FileNames(FashionMnistSplit split)
    {
        var prefix = split switch
        {
            FashionMnistSplit.Train => "train",
            FashionMnistSplit.Test => "t10k",
            _ => throw new ArgumentOutOfRangeException(nameof(split), split, "unknown split"),
        };
        return ($"{prefix}-images-idx3-ubyte.gz", $"{prefix}-labels-idx1-ubyte.gz");
    }

    /// <summary>Reads a split from its gzipped idx files.</summary>
    /// <param name="split">Training or test files.</param>
    /// <param name="directory">The folder holding the four <c>.gz</c> files.</param>
    /// <exception cref="FileNotFoundException">A file is missing.</exception>
    /// <exception cref="InvalidDataException">A file is truncated or corrupt, has the wrong magic number, or the image and label counts differ.</exception>
    public static FashionMnistDataset Load(FashionMnistSplit split, string directory = DefaultDirectory)
    {
        ArgumentException.ThrowIfNullOrEmpty(directory);
        var (imagesName, labelsName) = FileNames(split);
        var imagesPath = Path.Combine(directory, imagesName);
        var labelsPath = Path.Combine(directory, labelsName);
        foreach (var path in new[] { imagesPath, labelsPath })
        {
            if (!File.Exists(path))
                throw new FileNotFoundException(
                    $"Fashion-MNIST file '{path}' not found. Install the Debian package dataset-fashion-mnist " +
                    "(scripts/setup.sh does it), or pass the directory that holds the four idx .gz files.", path);
        }

        var (imageDims, images) = IdxFile.ReadGz(imagesPath, IdxFile.ImagesMagic);
        var (labelDims, labels) = IdxFile.ReadGz(labelsPath, IdxFile.LabelsMagic);
        if (imageDims[0] != labelDims[0])
            throw new InvalidDataException($"'{imagesPath}' holds {imageDims[0]} images but '{labelsPath}' holds {labelDims[0]} labels.");
        CheckLabels(labels, labelsPath);
        return new FashionMnistDataset(images, labels, imageDims[1], imageDims[2], $"fashion-mnist {split.ToString().ToLowerInvariant()}");
    }

    /// <summary>A data set over images and labels already in memory (tests, tools); the arrays are used, not copied.</summary>
    /// <param name="images"><paramref name="count"/> images of <paramref name="rows"/>×<paramref name="cols"/> bytes, one after the other.</param>
    /// <param name="labels"><paramref name="count"/> labels in 0..9.</param>
    /// <param name="count">The number of samples.</param>
    /// <param name="rows">Image height.</param>
    /// <param name="cols">Image width.</param>
    public static FashionMnistDataset FromArrays(byte[] images, byte[] labels, int count, int rows, int cols)
    {
        CheckArrays(images, labels, count, rows, cols);
        CheckLabels(labels, "labels");
        return new FashionMnistDataset(images, labels, rows, cols, "fashion-mnist arrays");
    }

    /// <summary>Writes images and labels as the two gzipped idx files Load reads.</summary>
    /// <param name="imagesGzPath">The images file to create (magic 0x00000803).</param>
    /// <param name="labelsGzPath">The labels file to create (magic 0x00000801).</param>
    /// <param name="images"><paramref name="count"/> images of <paramref name="rows"/>×<paramref name="cols"/> bytes, one after the other.</param>
    /// <param name="labels"><paramref name="count"/> labels.</param>
    /// <param name="count">The number of samples.</param>
    /// <param name="rows">Image height.</param>
    /// <param name="cols">Image width.</param>
    public static void WriteIdx(string imagesGzPath, string labelsGzPath, byte[] images, byte[] labels, int count, int rows, int cols)
    {
        ArgumentException.ThrowIfNullOrEmpty(imagesGzPath);
        ArgumentException.ThrowIfNullOrEmpty(labelsGzPath);
        CheckArrays(images, labels, count, rows, cols);
        IdxFile.WriteGz(imagesGzPath, IdxFile.ImagesMagic, [count, rows, cols], images);
        IdxFile.WriteGz(labelsGzPath, IdxFile.LabelsMagic, [count], labels);
    }

    /// <inheritdoc/>
    public ImageSample Get(int index)
    {
        CheckIndex(index);
        var size = Rows * Cols;
        // A copy, so that callers (augmentations) may modify the pixels without touching the data set.
        var pixels = images.AsSpan(index * size, size).ToArray();
        return new ImageSample(pixels, Cols, Rows, 1, labels[index], $"{sourcePrefix} #{index}");
    }

    /// <inheritdoc/>
    public int LabelOf(int index)
    {
        CheckIndex(index);
        return labels[index];
    }

    private void CheckIndex(int index)
    {
        if ((uint)index >= (uint)Count)
            throw new ArgumentOutOfRangeException(nameof(index), index, $"the data set has {Count} samples");
    }

    private static void CheckArrays(byte[] images, byte[] labels, int count, int rows, int cols)
    {
        ArgumentNullException.ThrowIfNull(images);
        ArgumentNullException.ThrowIfNull(labels);
        if (count < 0 || rows <= 0 || cols <= 0)
            throw new ArgumentException($"count must be non-negative and rows, cols positive; found {count}, {rows}, {cols}.");
        if (images.LongLength != (long)count * rows * cols)
            throw new ArgumentException($"{count} images of {rows}x{cols} need {(long)count * rows * cols} bytes; found {images.LongLength}.", nameof(images));
        if (labels.Length != count)
            throw new ArgumentException($"{count} samples need {count} labels; found {labels.Length}.", nameof(labels));
    }

    private static void CheckLabels(byte[] labels, string source)
    {
        for (var i = 0; i < labels.Length; i++)
        {
            if (labels[i] >= Names.Length)
                throw new InvalidDataException($"{source}: label {labels[i]} of sample {i} is not a Fashion-MNIST class (0-9).");
        }
    }
}

using EfficientViT.ML.Data;

namespace EfficientViT.Training.Commands;

/// <summary>Turns a <c>--data</c> value into a data set: <c>fashion-mnist</c>, an image folder (one subfolder per class) or a CSV manifest (path,label).</summary>
internal static class DataArguments
{
    public const string FashionMnist = "fashion-mnist";

    public const string Help = "Training data: 'fashion-mnist' (the Debian package's files), a folder with one subfolder of images per class, or a CSV manifest with columns path,label.";

    public static bool IsFashionMnist(string value) => value.Equals(FashionMnist, StringComparison.OrdinalIgnoreCase);

    /// <summary>The data set named by <paramref name="value"/>; for Fashion-MNIST, the given split.</summary>
    public static IImageDataset Load(string value, FashionMnistSplit split, bool skipCorrupt)
    {
        if (IsFashionMnist(value))
            return FashionMnistDataset.Load(split);
        var policy = skipCorrupt ? CorruptImagePolicy.Skip : CorruptImagePolicy.Fail;
        Action<string> warn = message => Console.Error.WriteLine($"warning: {message}");
        if (Directory.Exists(value))
            return ImageFolderDataset.Load(value, policy, warn);
        if (File.Exists(value) && value.EndsWith(".csv", StringComparison.OrdinalIgnoreCase))
            return CsvManifestDataset.Load(value, policy, warn);
        throw new ArgumentException($"--data '{value}' is neither '{FashionMnist}', an existing folder, nor a .csv manifest.");
    }
}

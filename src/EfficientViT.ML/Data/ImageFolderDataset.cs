namespace EfficientViT.ML.Data;

/// <summary>
/// Images stored one folder per class, like torchvision's ImageFolder: <c>root/&lt;class&gt;/**/*.jpg</c>.
/// Class folders are sorted ordinally and numbered in that order; image files (.jpg, .jpeg, .png, .bmp,
/// .webp, any case) are found in each class folder and its subfolders and decoded to RGB when read.
/// </summary>
public sealed class ImageFolderDataset : ImageFileDataset
{
    private ImageFolderDataset(string root, string[] classNames, List<(string Path, int Label)> files, List<string> skipped)
        : base(classNames, files, skipped)
    {
        Root = root;
    }

    /// <summary>The full path of the root folder.</summary>
    public string Root { get; }

    /// <summary>Lists the class folders and their image files.</summary>
    /// <param name="root">The folder holding one subfolder per class.</param>
    /// <param name="policy">
    /// <see cref="CorruptImagePolicy.Fail"/>: list files only, and let reading a corrupt one throw.
    /// <see cref="CorruptImagePolicy.Skip"/>: decode every file now and drop the ones that fail.
    /// </param>
    /// <param name="warn">Receives one message per skipped file.</param>
    /// <exception cref="DirectoryNotFoundException">The root folder does not exist.</exception>
    /// <exception cref="InvalidDataException">There are no class folders, or a class folder has no (readable) images.</exception>
    public static ImageFolderDataset Load(string root, CorruptImagePolicy policy = CorruptImagePolicy.Fail, Action<string>? warn = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var fullRoot = Path.GetFullPath(root);
        if (!Directory.Exists(fullRoot))
            throw new DirectoryNotFoundException($"image folder '{fullRoot}' does not exist.");

        var classDirectories = Directory.GetDirectories(fullRoot);
        // Ordinal order, so that labels do not depend on the machine's culture.
        Array.Sort(classDirectories, StringComparer.Ordinal);
        if (classDirectories.Length == 0)
            throw new InvalidDataException($"image folder '{fullRoot}' has no class folders; expected one subfolder per class holding its images.");

        var classNames = classDirectories.Select(d => Path.GetFileName(d)).ToArray();
        var files = new List<(string Path, int Label)>();
        for (var label = 0; label < classDirectories.Length; label++)
        {
            var images = Directory.EnumerateFiles(classDirectories[label], "*", SearchOption.AllDirectories)
                .Where(ImageFiles.IsImageFile)
                .Order(StringComparer.Ordinal)
                .ToList();
            if (images.Count == 0)
                throw new InvalidDataException($"class folder '{classDirectories[label]}' has no image files (.jpg, .jpeg, .png, .bmp, .webp).");
            files.AddRange(images.Select(path => (path, label)));
        }

        var skipped = new List<string>();
        if (policy == CorruptImagePolicy.Skip)
        {
            files = ImageFiles.DropUnreadable(files, warn, skipped);
            var emptyClass = FirstEmptyClass(files, classNames.Length);
            if (emptyClass >= 0)
                throw new InvalidDataException($"class folder '{classDirectories[emptyClass]}' has no readable images.");
        }
        return new ImageFolderDataset(fullRoot, classNames, files, skipped);
    }
}

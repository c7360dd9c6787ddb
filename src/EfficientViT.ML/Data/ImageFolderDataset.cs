namespace EfficientViT.ML.Data;

/// <summary>
/// Images stored one folder per class, like torchvision's ImageFolder: <c>root/&lt;class&gt;/**/*.jpg</c>.
/// Class folders are sorted ordinally and numbered in that order; image files (.jpg, .jpeg, .png, .bmp,
/// .webp, any case) are found in each class folder and its subfolders and decoded to RGB when read.
/// </summary>
/// <remarks>
/// Every real file is listed once: a class folder may be a link to a folder elsewhere, but links to folders below
/// the class folders are not followed, and a file reached through several links is listed at the first. Named
/// pipes, devices, names that are not valid UTF-8, loops and repeated links are skipped, each with a warning.
/// </remarks>
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
    /// <param name="warn">Receives one message per skipped file or folder (with either policy: see the remarks).</param>
    /// <exception cref="DirectoryNotFoundException">The root folder does not exist.</exception>
    /// <exception cref="InvalidDataException">There are no class folders, or a class folder has no (readable) images.</exception>
    public static ImageFolderDataset Load(string root, CorruptImagePolicy policy = CorruptImagePolicy.Fail, Action<string>? warn = null)
    {
        ArgumentException.ThrowIfNullOrEmpty(root);
        var fullRoot = Path.GetFullPath(root);
        if (!Directory.Exists(fullRoot))
            throw new DirectoryNotFoundException($"image folder '{fullRoot}' does not exist.");

        var tree = new ImageFileTree(fullRoot, warn);
        // Ordinal order, so that labels do not depend on the machine's culture.
        var classDirectories = tree.ClassFolders();
        if (classDirectories.Count == 0)
            throw new InvalidDataException($"image folder '{fullRoot}' has no class folders; expected one subfolder per class holding its images.");

        var classNames = classDirectories.Select(d => Path.GetFileName(d)).ToArray();
        var files = new List<(string Path, int Label)>();
        for (var label = 0; label < classDirectories.Count; label++)
        {
            var images = tree.FilesIn(classDirectories[label]);
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

    /// <summary>
    /// Writes images of <paramref name="source"/> as PNG files in the image-folder layout,
    /// <c>root/&lt;class&gt;/&lt;index&gt;.png</c>, and lists the result. Handy to turn an in-memory or idx
    /// data set (e.g. Fashion-MNIST) into files for <c>LoadImages</c> and for tools that read folders.
    /// </summary>
    /// <param name="source">The images to write.</param>
    /// <param name="root">The folder to write into; created if missing. Existing files of the same names are replaced.</param>
    /// <param name="indices">Which samples of <paramref name="source"/> to write (all when null).</param>
    /// <exception cref="InvalidDataException">A class would get no image, which the layout cannot express.</exception>
    public static ImageFolderDataset Export(IImageDataset source, string root, IEnumerable<int>? indices = null)
    {
        ArgumentNullException.ThrowIfNull(source);
        ArgumentException.ThrowIfNullOrEmpty(root);
        var chosen = (indices ?? Enumerable.Range(0, source.Count)).ToArray();
        var written = new bool[source.ClassNames.Count];
        foreach (var index in chosen)
            written[source.LabelOf(index)] = true;
        var missing = Enumerable.Range(0, written.Length).Where(c => !written[c]).Select(c => source.ClassNames[c]).ToArray();
        if (missing.Length > 0)
            throw new InvalidDataException($"exporting to '{root}': no image of class {string.Join(", ", missing.Select(m => $"'{m}'"))} was chosen; every class folder needs at least one image.");

        var folders = source.ClassNames.Select(name => Path.Combine(root, SafeFolderName(name))).ToArray();
        if (folders.Distinct(StringComparer.Ordinal).Count() != folders.Length)
            throw new InvalidDataException($"exporting to '{root}': class names {string.Join(", ", source.ClassNames.Select(n => $"'{n}'"))} do not map to distinct folder names.");
        foreach (var folder in folders)
            Directory.CreateDirectory(folder);
        foreach (var index in chosen)
        {
            var sample = source.Get(index);
            using var image = sample.ToMLImage();
            image.Save(Path.Combine(folders[sample.Label], $"{index:D6}.png"));
        }
        return Load(root);
    }

    // Class names become folder names: characters a file system refuses are replaced.
    private static string SafeFolderName(string className)
    {
        var invalid = Path.GetInvalidFileNameChars();
        var name = new string(className.Select(c => invalid.Contains(c) ? '_' : c).ToArray()).Trim();
        return name is "" or "." or ".." ? "_" : name;
    }
}

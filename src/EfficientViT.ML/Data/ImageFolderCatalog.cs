using EfficientViT.ML.MLNet;
using EfficientViT.ML.Data;
using Microsoft.ML.Data;
using Microsoft.ML.Runtime;

// Like ML.NET's own extension catalogs, in Microsoft.ML: `using Microsoft.ML;` is all a user writes.
namespace Microsoft.ML;

/// <summary>ML.NET data-loading methods for images kept one folder per class.</summary>
public static class ImageFolderCatalog
{
    /// <summary>
    /// Lists the images under <paramref name="root"/>, one subfolder per class (like torchvision's
    /// ImageFolder), as an <see cref="IDataView"/> with a text column of full file paths and a text column
    /// of class names (the subfolder names), ready for <c>LoadImages</c> and <c>MapValueToKey</c>.
    /// Image files are .jpg, .jpeg, .png, .bmp and .webp, in any case, in the class folders and below;
    /// they are listed, not decoded. Each real file is listed once, as <see cref="ImageFolderDataset"/> lists them:
    /// links to folders below the class folders are not followed; what is skipped (named pipes, devices, names that
    /// are not valid UTF-8, loops) is reported as a warning on <c>MLContext.Log</c>.
    /// </summary>
    /// <param name="catalog">The data catalog (<c>mlContext.Data</c>).</param>
    /// <param name="root">The folder holding one subfolder per class.</param>
    /// <param name="imagePathColumnName">The column of image paths.</param>
    /// <param name="labelColumnName">The column of class names.</param>
    /// <exception cref="DirectoryNotFoundException">The folder does not exist.</exception>
    /// <exception cref="InvalidDataException">There are no class folders, or one has no image files.</exception>
    /// <example>
    /// <code>
    /// var data = mlContext.Data.LoadFromImageFolder("photos/train");
    /// var pipeline = mlContext.Transforms.LoadImages("Image", imageFolder: "", inputColumnName: "ImagePath")
    ///     .Append(mlContext.Transforms.EfficientVitFeaturize("Features", "Image", "efficientvit_m0.pth"))
    ///     .Append(mlContext.Transforms.Conversion.MapValueToKey("Label"))
    ///     .Append(mlContext.MulticlassClassification.Trainers.LbfgsMaximumEntropy());
    /// </code>
    /// </example>
    public static IDataView LoadFromImageFolder(this DataOperationsCatalog catalog, string root,
        string imagePathColumnName = "ImagePath", string labelColumnName = "Label")
    {
        ArgumentNullException.ThrowIfNull(catalog);
        ArgumentException.ThrowIfNullOrEmpty(imagePathColumnName);
        ArgumentException.ThrowIfNullOrEmpty(labelColumnName);
        if (imagePathColumnName == labelColumnName)
            throw new ArgumentException($"The image path and label columns need different names; both are '{labelColumnName}'.", nameof(labelColumnName));
        using var channel = CatalogEnvironment.Of(catalog).Register(nameof(ImageFolderCatalog)).Start(nameof(LoadFromImageFolder));
        var folder = ImageFolderDataset.Load(root, CorruptImagePolicy.Fail, channel is null ? null : message => channel.Warning(MessageSensitivity.None, $"LoadFromImageFolder: {message}"));
        var rows = Enumerable.Range(0, folder.Count)
            .Select(i => new Row { ImagePath = folder.PathOf(i), Label = folder.ClassNames[folder.LabelOf(i)] })
            .ToArray();
        var schema = SchemaDefinition.Create(typeof(Row));
        schema[nameof(Row.ImagePath)].ColumnName = imagePathColumnName;
        schema[nameof(Row.Label)].ColumnName = labelColumnName;
        return catalog.LoadFromEnumerable(rows, schema);
    }

    private sealed class Row
    {
        public string ImagePath { get; set; } = "";

        public string Label { get; set; } = "";
    }
}

using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.Service;

/// <summary>
/// One row the model scores: an image in the column the featurizer reads by default, and an empty label,
/// since a pipeline that maps its training labels to keys (the demo's) asks for a label column when scoring too.
/// </summary>
public sealed class ImageInput
{
    /// <summary>The column name the model must take.</summary>
    public const string ColumnName = "Image";

    /// <summary>The decoded image.</summary>
    /// <remarks>
    /// The declared 1x1 is a placeholder, as in the library's encoded-image decoder: an attribute-declared
    /// image type needs a size, and the model's first steps (ResizeImages) work from each image's own size.
    /// </remarks>
    [ColumnName(ColumnName)]
    [ImageType(1, 1)]
    public MLImage? Image { get; set; }

    /// <summary>Not known when scoring; the label-to-key mapping turns it into a missing key.</summary>
    public string Label { get; set; } = "";
}

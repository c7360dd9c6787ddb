using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.MLNet;

/// <summary>What the featurizer's input column holds.</summary>
internal enum FeaturizerInputKind
{
    /// <summary>Decoded images (<c>MLImage</c>): resized, cropped and normalized by the pipeline.</summary>
    Image,
    /// <summary>Encoded image files (a vector of bytes): decoded, then handled as <see cref="Image"/>.</summary>
    EncodedImage,
    /// <summary>Preprocessed pixels: a float vector of 3·S·S, channels-first normalized RGB.</summary>
    PixelVector,
}

/// <summary>Recognises the input column's kind, or explains why it is not accepted.</summary>
internal static class FeaturizerInput
{
    public static string Accepted(int imageSize) =>
        $"an image (MLImage, from LoadImages), encoded image bytes (a vector of Byte, e.g. from LoadRawImageBytes), or a vector of Single of size 3x{imageSize}x{imageSize} = {3 * imageSize * imageSize} (preprocessed, normalized RGB pixels)";

    public static FeaturizerInputKind Classify(SchemaShape inputSchema, string column, int imageSize)
    {
        // SchemaShape's own lookup is internal; a later column of the same name hides earlier ones.
        var matches = inputSchema.Where(c => c.Name == column).ToList();
        if (matches.Count == 0)
            throw new ArgumentOutOfRangeException(nameof(inputSchema), $"EfficientVitFeaturize: input column '{column}' not found; the data has {string.Join(", ", inputSchema.Select(c => $"'{c.Name}'"))}.");
        var found = matches[^1];
        if (found.ItemType is ImageDataViewType && found.Kind == SchemaShape.Column.VectorKind.Scalar)
            return FeaturizerInputKind.Image;
        if (found.ItemType == NumberDataViewType.Single && found.Kind != SchemaShape.Column.VectorKind.Scalar)
            return FeaturizerInputKind.PixelVector;
        if (found.ItemType == NumberDataViewType.Byte && found.Kind == SchemaShape.Column.VectorKind.VariableVector)
            return FeaturizerInputKind.EncodedImage;
        var typeName = found.Kind switch
        {
            SchemaShape.Column.VectorKind.Scalar => found.ItemType.ToString(),
            SchemaShape.Column.VectorKind.Vector => $"Vector<{found.ItemType}>",
            _ => $"VarVector<{found.ItemType}>",
        };
        throw Mismatch(column, typeName ?? "unknown", imageSize);
    }

    public static FeaturizerInputKind Classify(DataViewSchema inputSchema, string column, int imageSize)
    {
        var found = inputSchema.GetColumnOrNull(column)
            ?? throw new ArgumentOutOfRangeException(nameof(inputSchema), $"EfficientVitFeaturize: input column '{column}' not found; the data has {string.Join(", ", inputSchema.Select(c => $"'{c.Name}'"))}.");
        if (found.Type is ImageDataViewType)
            return FeaturizerInputKind.Image;
        if (found.Type is VectorDataViewType { ItemType: var item } vector && item == NumberDataViewType.Single)
        {
            if (vector.Size != 0 && vector.Size != 3 * imageSize * imageSize)
                throw Mismatch(column, $"Vector<Single, {vector.Size}>", imageSize);
            return FeaturizerInputKind.PixelVector;
        }
        if (found.Type is VectorDataViewType { ItemType: var bytes, Size: 0 } && bytes == NumberDataViewType.Byte)
            return FeaturizerInputKind.EncodedImage;
        throw Mismatch(column, found.Type.ToString() ?? found.Type.GetType().Name, imageSize);
    }

    private static ArgumentOutOfRangeException Mismatch(string column, string found, int imageSize) =>
        new("inputSchema", $"EfficientVitFeaturize: input column '{column}' has type {found}; expected {Accepted(imageSize)}. " +
            $"The model runs at {imageSize}x{imageSize}; set EfficientVitFeaturizerOptions.ImageSize to run it at the size of your pixel vectors.");
}

using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.MLNet;

/// <summary>
/// How the featurizer and the classifier split an <see cref="ImagePreprocessing"/> between ML.NET and the
/// ONNX graph: ML.NET's <c>ResizeImages</c> brings the short side to ImageSize and crops the center square,
/// then the graph upsamples it (bicubic) to ResizeSize, crops the center ImageSize square and normalizes —
/// the costly step batched in ONNX Runtime (and an exact identity in ML.NET for images already that size).
/// </summary>
internal static class PreprocessingSplit
{
    /// <summary>ML.NET's half, first step: the short side to the model's size with the center square kept (IsoCrop).</summary>
    public static IEstimator<ITransformer> ResizeImages(this ImagePreprocessing preprocessing, TransformsCatalog catalog, string imageColumn, string resizedColumn) =>
        catalog.ResizeImages(resizedColumn, preprocessing.ImageSize, preprocessing.ImageSize, imageColumn,
            ImageResizingEstimator.ResizingKind.IsoCrop, ImageResizingEstimator.Anchor.Center);

    /// <summary>ML.NET's half, second step: RGB pixels 0–255, channels first.</summary>
    public static IEstimator<ITransformer> ExtractPixels(TransformsCatalog catalog, string resizedColumn, string pixelsColumn) =>
        catalog.ExtractPixels(pixelsColumn, resizedColumn, ImagePixelExtractingEstimator.ColorBits.Rgb,
            ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, offsetImage: 0f, scaleImage: 1f);

    /// <summary>The graph's half: export options that upsample to ResizeSize, crop back and normalize, reading <paramref name="inputName"/>.</summary>
    public static OnnxExportOptions GraphOptions(this ImagePreprocessing preprocessing, string inputName) => new()
    {
        InputName = inputName,
        Preprocessing = preprocessing,
        ResizeInGraph = true,
    };
}

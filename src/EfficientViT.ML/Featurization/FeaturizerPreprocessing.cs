using EfficientViT.ML.Onnx;
using EfficientViT.ML.Preprocessing;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.Featurization;

/// <summary>
/// How the featurizer splits an <see cref="ImagePreprocessing"/> between ML.NET and the ONNX graph:
/// ML.NET's <c>ResizeImages</c> brings the short side to ImageSize and crops the center square, then the
/// graph upsamples it (bicubic) to ResizeSize, crops the center ImageSize square and normalizes — the
/// costly step batched in ONNX Runtime (and an exact identity in ML.NET for images already that size).
/// </summary>
internal static class FeaturizerPreprocessing
{
    /// <summary>
    /// ML.NET's half: the short side to the model's size with the center square kept
    /// (<c>ResizeImages</c>, IsoCrop), then RGB pixels 0–255, channels first (<c>ExtractPixels</c>).
    /// </summary>
    public static EstimatorChain<ITransformer> AppendResizeAndExtract(this EstimatorChain<ITransformer> chain, ImagePreprocessing preprocessing,
        TransformsCatalog catalog, string imageColumn, string resizedColumn, string pixelsColumn) =>
        chain
            .Append<ITransformer>(catalog.ResizeImages(resizedColumn, preprocessing.ImageSize, preprocessing.ImageSize, imageColumn,
                ImageResizingEstimator.ResizingKind.IsoCrop, ImageResizingEstimator.Anchor.Center))
            .Append<ITransformer>(catalog.ExtractPixels(pixelsColumn, resizedColumn, ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, offsetImage: 0f, scaleImage: 1f));

    /// <summary>The graph's half: export options that upsample to ResizeSize, crop back and normalize, reading <paramref name="inputName"/>.</summary>
    public static OnnxExportOptions GraphOptions(this ImagePreprocessing preprocessing, string inputName) => new()
    {
        InputName = inputName,
        Preprocessing = preprocessing,
        ResizeInGraph = true,
    };
}

using EfficientViT.ML.Checkpoints;
using EfficientViT.ML.Onnx;
using Microsoft.ML;
using Microsoft.ML.Data;
using Microsoft.ML.Transforms.Image;

namespace EfficientViT.ML.Featurization;

/// <summary>
/// How images become model input: the short side is resized to ImageSize / CropPercent, the center
/// ImageSize square goes to the model, and each RGB channel becomes (pixel/255 − mean)/std. The
/// featurizer does the resize in two steps: ML.NET's ResizeImages brings the short side to ImageSize
/// and crops the center square, then the ONNX graph upsamples it (bicubic) to ImageSize / CropPercent
/// and crops the center ImageSize square.
/// </summary>
/// <param name="ImageSize">The model's input side.</param>
/// <param name="CropPercent">Fraction of the resized image kept (0.875: 256 → 224).</param>
/// <param name="Mean">Per-channel RGB mean of pixel/255.</param>
/// <param name="Std">Per-channel RGB standard deviation.</param>
/// <param name="Grayscale">Convert images to grayscale first (models trained on grayscale data).</param>
public sealed record ImagePreprocessing(int ImageSize, double CropPercent, float[] Mean, float[] Std, bool Grayscale = false)
{
    /// <summary>Side of the square the images are resized and cropped to before the final center crop: floor(ImageSize / CropPercent).</summary>
    public int ResizeSize => (int)Math.Floor(ImageSize / CropPercent);

    /// <summary>The preprocessing a checkpoint records (ImageNet's for the official and timm weights).</summary>
    public static ImagePreprocessing From(CheckpointMetadata metadata) =>
        new(metadata.ImageSize, metadata.CropPercent, metadata.Mean, metadata.Std, metadata.Grayscale);

    /// <summary>
    /// ML.NET's half: the short side to <see cref="ImageSize"/> with the center square kept
    /// (<c>ResizeImages</c>, IsoCrop), then RGB pixels 0–255, channels first (<c>ExtractPixels</c>).
    /// </summary>
    internal EstimatorChain<ITransformer> AppendResizeAndExtract(EstimatorChain<ITransformer> chain, TransformsCatalog catalog,
        string imageColumn, string resizedColumn, string pixelsColumn) =>
        chain
            .Append<ITransformer>(catalog.ResizeImages(resizedColumn, ImageSize, ImageSize, imageColumn, ImageResizingEstimator.ResizingKind.IsoCrop, ImageResizingEstimator.Anchor.Center))
            .Append<ITransformer>(catalog.ExtractPixels(pixelsColumn, resizedColumn, ImagePixelExtractingEstimator.ColorBits.Rgb,
                ImagePixelExtractingEstimator.ColorsOrder.ARGB, interleavePixelColors: false, offsetImage: 0f, scaleImage: 1f));

    /// <summary>The graph's half: export options that upsample to <see cref="ResizeSize"/>, crop back and normalize, reading <paramref name="inputName"/>.</summary>
    internal OnnxExportOptions GraphOptions(string inputName) => new()
    {
        InputName = inputName,
        IncludeNormalization = true,
        Mean = Mean,
        Std = Std,
        InputSize = ImageSize,
        ResizeSize = ResizeSize,
    };

    /// <summary>Checks the numbers, naming the first that is wrong.</summary>
    public void Validate()
    {
        if (ImageSize <= 0)
            throw new ArgumentException($"ImageSize must be positive; found {ImageSize}.");
        if (CropPercent is <= 0 or > 1)
            throw new ArgumentException($"CropPercent must be in (0, 1]; found {CropPercent}.");
        if (Mean.Length != 3 || Std.Length != 3 || Std.Any(s => s <= 0))
            throw new ArgumentException("Mean and Std need three entries (R, G, B), and Std must be positive.");
    }
}

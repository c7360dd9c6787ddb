namespace EfficientViT.ML.Preprocessing;

/// <summary>
/// How images become model input, the contract between a model's weights and its inputs: the short
/// side is resized to <see cref="ResizeSize"/> = floor(<see cref="ImageSize"/> / <see cref="CropPercent"/>)
/// with <see cref="Interpolation"/>, the center <see cref="ImageSize"/> square is kept, and each RGB channel
/// becomes (pixel/255 − mean)/std, optionally after converting the image to grayscale. A checkpoint records one
/// (<c>CheckpointMetadata.Preprocessing</c>); the training and evaluation transforms, the ONNX exporter and
/// the ML.NET featurizer are all built from it.
/// </summary>
/// <param name="ImageSize">The model's input side S.</param>
/// <param name="CropPercent">Fraction of the resized image kept by the evaluation center crop (0.875: 256 → 224; 1: no margin).</param>
/// <param name="Mean">Per-channel (R, G, B) mean of pixel/255.</param>
/// <param name="Std">Per-channel (R, G, B) standard deviation of pixel/255.</param>
/// <param name="Grayscale">Images are converted to grayscale first, the gray value repeated in all three channels (models trained on grayscale data).</param>
/// <param name="Interpolation">
/// The filter of every resize (bicubic by default, as the official and timm transforms). Null only in a record written
/// by a version before this field: each path then resizes as it did in those versions — the training and evaluation
/// transforms bilinearly without antialiasing (see <c>ImageTransform</c>), the featurizer and the exported graph
/// bicubically (<see cref="GraphInterpolation"/>).
/// </param>
/// <example>
/// <code>
/// var imageNet = ImagePreprocessing.ImageNet();                  // 224, crop 0.875, ImageNet mean and std
/// var mine = new ImagePreprocessing(224, 1.0, [0.5f, 0.5f, 0.5f], [0.5f, 0.5f, 0.5f]).Validate();
/// </code>
/// </example>
public sealed record ImagePreprocessing(int ImageSize, double CropPercent, float[] Mean, float[] Std, bool Grayscale = false,
    ImageInterpolation? Interpolation = ImageInterpolation.Bicubic)
{
    /// <summary>ImageNet's per-channel mean, which the official and timm weights were trained with.</summary>
    private static readonly float[] ImageNetMean = [0.485f, 0.456f, 0.406f];

    private static readonly float[] ImageNetStd = [0.229f, 0.224f, 0.225f];

    /// <summary>The evaluation preprocessing of the official and timm ImageNet weights: resize the short side to 256, center-crop 224 (crop_pct 0.875), ImageNet mean and std.</summary>
    /// <param name="imageSize">The model's input side; the resize side scales with it (floor(S / 0.875)).</param>
    public static ImagePreprocessing ImageNet(int imageSize = 224) =>
        new(imageSize, 0.875, (float[])ImageNetMean.Clone(), (float[])ImageNetStd.Clone());

    /// <summary>
    /// Fashion-MNIST: grayscale, its pixel mean and std (0.2860, 0.3530) in all three channels, and no
    /// crop margin (the 28×28 images are simply scaled to S).
    /// </summary>
    /// <param name="imageSize">The model's input side.</param>
    public static ImagePreprocessing FashionMnist(int imageSize) =>
        new(imageSize, 1.0, [0.2860f, 0.2860f, 0.2860f], [0.3530f, 0.3530f, 0.3530f], Grayscale: true);

    /// <summary>
    /// Side of the square the short side is resized to before the center crop: floor(ImageSize / CropPercent),
    /// as timm computes it (a relative 1e-9 allowance keeps e.g. 64 / (64 / 73.0) at 73 despite rounding).
    /// </summary>
    public int ResizeSize => (int)Math.Floor(ImageSize / CropPercent * (1 + 1e-9));

    /// <summary>The number of floats one model input holds: 3·S·S.</summary>
    public int InputLength => 3 * ImageSize * ImageSize;

    /// <summary>
    /// The filter of the featurizer's and the exported graph's resize: <see cref="Interpolation"/>, or for a record
    /// without one bicubic, which they always used.
    /// </summary>
    internal ImageInterpolation GraphInterpolation => Interpolation ?? ImageInterpolation.Bicubic;

    /// <summary>What normalization subtracts from pixels 0–255: 255·mean per channel, in float32.</summary>
    public float[] PixelMean => Mean.Select(m => 255f * m).ToArray();

    /// <summary>This record at another input side, with the same crop fraction and statistics.</summary>
    public ImagePreprocessing WithImageSize(int imageSize) => this with { ImageSize = imageSize };

    /// <summary>Checks the numbers and returns this record, or throws an <see cref="ArgumentException"/> naming the first that is wrong.</summary>
    public ImagePreprocessing Validate()
    {
        if (ImageSize <= 0)
            throw new ArgumentException($"ImageSize must be positive; found {ImageSize}.");
        if (!(CropPercent is > 0 and <= 1))
            throw new ArgumentException($"CropPercent must be in (0, 1]; found {CropPercent}.");
        if (Mean is null || Std is null || Mean.Length != 3 || Std.Length != 3)
            throw new ArgumentException($"Mean and Std need three entries (R, G, B); found {Mean?.Length ?? 0} and {Std?.Length ?? 0}.");
        if (Mean.Any(m => !float.IsFinite(m)))
            throw new ArgumentException($"Mean must be finite; found [{string.Join(", ", Mean)}].");
        if (Std.Any(s => !(float.IsFinite(s) && s > 0)))
            throw new ArgumentException($"Std must be positive and finite; found [{string.Join(", ", Std)}].");
        if (Interpolation is { } interpolation && !Enum.IsDefined(interpolation))
            throw new ArgumentException($"Interpolation must be Bicubic or Bilinear; found {(int)interpolation}.");
        return this;
    }

    /// <summary>Equal when every field is, the mean and std compared value by value.</summary>
    public bool Equals(ImagePreprocessing? other) =>
        other is not null && ImageSize == other.ImageSize && CropPercent == other.CropPercent && Grayscale == other.Grayscale
        && Interpolation == other.Interpolation && Mean.AsSpan().SequenceEqual(other.Mean) && Std.AsSpan().SequenceEqual(other.Std);

    /// <inheritdoc/>
    public override int GetHashCode() => HashCode.Combine(ImageSize, CropPercent, Grayscale, Interpolation, Mean.Length > 0 ? Mean[0] : 0, Std.Length > 0 ? Std[0] : 0);

    /// <inheritdoc/>
    public override string ToString() =>
        $"{ImageSize}x{ImageSize} (resize {ResizeSize} {Interpolation?.ToString().ToLowerInvariant() ?? "unrecorded"}, crop {CropPercent}), mean [{string.Join(", ", Mean)}], std [{string.Join(", ", Std)}]{(Grayscale ? ", grayscale" : "")}";
}

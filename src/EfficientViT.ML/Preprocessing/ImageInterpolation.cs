namespace EfficientViT.ML.Preprocessing;

/// <summary>
/// The filter images are resized with, as PIL's <c>Image.resize</c> applies it to 8-bit images (what torchvision's
/// and timm's transforms do to PIL images): separable, the horizontal pass first, each pass rounded to whole pixel
/// values; the filter widened by the reduction when shrinking (antialiasing), taps outside the image left out and
/// the rest renormalized. Weights are in fixed point with 14 fraction bits (PIL uses 22), so that every engine
/// that runs them (the transforms, the featurizer, the exported graph) computes the same whole pixel values.
/// </summary>
public enum ImageInterpolation
{
    /// <summary>Cubic convolution with a = −0.5 (PIL's <c>BICUBIC</c>): the official and timm evaluation and training transforms.</summary>
    Bicubic,

    /// <summary>The triangle filter (PIL's <c>BILINEAR</c>).</summary>
    Bilinear,
}

namespace EfficientViT.ML.Modeling;

/// <summary>Whether a network trained at one input size still holds trained weights everywhere at another.</summary>
/// <remarks>
/// A stage whose feature map was 1×1 in training (stage 3 at 64×64 and below) only ever trained the centre of its
/// depthwise convolution kernels (3×3, and the attention's query kernels): zero padding surrounds the one pixel, so
/// the other weights of each kernel got no gradient and kept their initial values. At an input size where that map is larger they take part, and the
/// network's output is close to noise (a Fashion-MNIST M0 trained at 64×64: 91.97% test top-1 at 64, 10.3% at 80,
/// 12.1% at 112) until it is fine-tuned at that size. A 2×2 map reaches every weight of a 3×3 kernel.
/// </remarks>
internal static class ImageSizeTransfer
{
    /// <summary>
    /// A warning when a model trained with <paramref name="trained"/> would run at <paramref name="imageSize"/> with
    /// depthwise weights that never trained (see the remarks); null when it would not.
    /// </summary>
    public static string? UntrainedWeightsWarning(EfficientVitConfig trained, int imageSize)
    {
        var resized = trained with { ImageSize = imageSize };
        var stage = Enumerable.Range(0, trained.EmbedDims.Length).FirstOrDefault(s => trained.Resolution(s) == 1 && resized.Resolution(s) > 1, -1);
        if (stage < 0)
            return null;
        var side = resized.Resolution(stage);
        return $"trained at {trained.ImageSize}x{trained.ImageSize}, stage {stage + 1} (blocks{stage + 1}) had 1x1 feature maps, so only the centre of its depthwise "
            + $"convolution kernels was ever trained; at {imageSize}x{imageSize} its maps are {side}x{side} and the untrained weights take part: expect accuracy near "
            + $"chance until the model is fine-tuned at {imageSize}x{imageSize}.";
    }
}

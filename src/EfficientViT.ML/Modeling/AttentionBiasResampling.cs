namespace EfficientViT.ML.Modeling;

/// <summary>How an attention bias table made for one window resolution is fitted to another.</summary>
public enum AttentionBiasResampling
{
    /// <summary>
    /// Each head's r×r grid of offsets is resampled to the new side with PIL-style bicubic weights
    /// (a = −0.5, antialiased when shrinking), as timm resamples the tables of LeViT-style models: the
    /// table is stretched with the image, right when the same pictures are fed at a higher resolution.
    /// </summary>
    Interpolate,

    /// <summary>
    /// Offsets keep their learned bias: a smaller window keeps the first r' offsets per axis, a larger one
    /// repeats the edge for the offsets it never saw. Right when a larger input shows more of the scene
    /// at the same scale.
    /// </summary>
    Extend,
}

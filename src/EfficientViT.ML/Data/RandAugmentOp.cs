namespace EfficientViT.ML.Data;

/// <summary>The image operations <see cref="RandAugment"/> picks from.</summary>
internal enum RandAugmentOp
{
    /// <summary>Leaves the image unchanged.</summary>
    Identity,

    /// <summary>Stretches each channel to the full 0–255 range.</summary>
    AutoContrast,

    /// <summary>Equalizes each channel's histogram.</summary>
    Equalize,

    /// <summary>Rotates by up to ±30° (at magnitude 10) about the centre.</summary>
    Rotate,

    /// <summary>Inverts the pixels above a threshold that falls as the magnitude grows.</summary>
    Solarize,

    /// <summary>Changes saturation by a factor of 1 ± 0.9·m/10.</summary>
    Color,

    /// <summary>Keeps fewer bits per channel as the magnitude grows (4 down to 0).</summary>
    Posterize,

    /// <summary>Changes contrast by a factor of 1 ± 0.9·m/10.</summary>
    Contrast,

    /// <summary>Changes brightness by a factor of 1 ± 0.9·m/10.</summary>
    Brightness,

    /// <summary>Sharpens or blurs by a factor of 1 ± 0.9·m/10.</summary>
    Sharpness,

    /// <summary>Shears horizontally by up to ±0.3 (at magnitude 10).</summary>
    ShearX,

    /// <summary>Shears vertically by up to ±0.3.</summary>
    ShearY,

    /// <summary>Shifts horizontally by up to ±45% of the width.</summary>
    TranslateX,

    /// <summary>Shifts vertically by up to ±45% of the height.</summary>
    TranslateY,
}

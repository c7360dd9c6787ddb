using EfficientViT.ML.Modeling;
using EfficientViT.ML.Preprocessing;

namespace EfficientViT.ML.Featurization;

/// <summary>Options of <see cref="Microsoft.ML.EfficientVitCatalog.EfficientVitFeaturize(Microsoft.ML.TransformsCatalog, EfficientVitFeaturizerOptions)"/>.</summary>
public sealed class EfficientVitFeaturizerOptions
{
    /// <summary>The column of float vectors to create. Default "Features".</summary>
    public string OutputColumnName { get; set; } = "Features";

    /// <summary>
    /// The input column: images (<c>MLImage</c>, from <c>LoadImages</c>) or float vectors of 3·S·S
    /// already preprocessed pixels (channels-first RGB, normalized). Default "Image".
    /// </summary>
    public string InputColumnName { get; set; } = "Image";

    /// <summary>A checkpoint: the official <c>.pth</c>, timm's <c>.safetensors</c>, or one written by this library. Either this or <see cref="Model"/>.</summary>
    public string? ModelPath { get; set; }

    /// <summary>An in-memory model (its weights are copied at construction; later changes to it are not seen). Either this or <see cref="ModelPath"/>.</summary>
    public EfficientVit? Model { get; set; }

    /// <summary>Normalization and crop to use instead of the checkpoint's (or ImageNet's for official and timm weights).</summary>
    public ImagePreprocessing? Preprocessing { get; set; }

    /// <summary>Images scored together by ONNX Runtime during <c>Transform</c>. Default 16.</summary>
    public int BatchSize { get; set; } = 16;

    /// <summary>
    /// How many batches <c>Transform</c> scores at once, each in a one-thread ONNX Runtime session; null: one per core.
    /// </summary>
    public int? Threads { get; set; }

    /// <summary>A copy, so that later changes to the caller's object do not reach a featurizer already made.</summary>
    internal EfficientVitFeaturizerOptions Copy() => (EfficientVitFeaturizerOptions)MemberwiseClone();
}
